//! Where a database stands against a repository, read from its history: what is applied,
//! what a squash stands for, what stopped partway.

use std::collections::{BTreeMap, BTreeSet};

use super::{Event, MigrateError};
use crate::connection::AnyConnection;
use crate::history::{self, Progress};
use crate::repository::Repository;
use crate::revision::Revision;

/// Where a database stands against a repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// Applied revisions of the repository's graph. A squash counts as applied when every
    /// revision it replaced was.
    pub applied: BTreeSet<String>,
    /// What the history records, with the squashes that stand for recorded runs.
    pub reached: BTreeSet<String>,
    /// Squashes of which the database ran some replaced revisions, not all.
    pub partial: Vec<PartialSquash>,
    /// Applied revisions the repository does not have.
    pub unknown: Vec<String>,
    /// Applied revisions whose file changed since.
    pub edited: Vec<String>,
    /// Applied revisions that no other applied revision follows: where the database is.
    pub current: Vec<String>,
    /// Revisions run in phases that stopped partway, and how far they got.
    pub stopped: Vec<Progress>,
    /// Revisions expanded side by side, their contract pending.
    pub expanded: Vec<history::Expanded>,
}

/// A squash the database is partway through: it ran the first revisions the squash
/// replaced, as they were before the squash, and the rest is still to run from their files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialSquash {
    pub squash: String,
    /// The last replaced revision the database ran.
    pub at: String,
}

impl Status {
    /// The database's position, for messages: `<base>` or the current ids.
    pub fn position(&self) -> String {
        let partway = self
            .partial
            .iter()
            .map(|p| format!("{} (partway through squash {})", p.at, p.squash));
        let stopped = self.stopped.iter().map(|s| {
            format!(
                "{} (its {} stopped after step {})",
                s.revision, s.direction, s.steps_done
            )
        });
        let expanded: BTreeSet<&String> = self.expanded.iter().map(|e| &e.revision).collect();
        let current = self.current.iter().map(|id| {
            if expanded.contains(id) {
                format!("{id} (expanded side by side: contract pending)")
            } else {
                id.clone()
            }
        });
        let position: Vec<String> = current
            .chain(partway)
            .chain(stopped)
            .chain(self.unknown.iter().cloned())
            .collect();
        if position.is_empty() {
            "<base>".to_string()
        } else {
            position.join(", ")
        }
    }

    /// Whether every head of the repository is applied and nothing else.
    pub fn is_at_head(&self, repo: &Repository) -> bool {
        self.unknown.is_empty()
            && self.partial.is_empty()
            && self.stopped.is_empty()
            && self.current == repo.graph().heads()
    }

    /// Whether the history records anything at all.
    pub fn is_empty(&self) -> bool {
        self.reached.is_empty() && self.unknown.is_empty()
    }

    /// Derives everything else from `reached`.
    pub(super) fn settle(&mut self, repo: &Repository) {
        self.reached = with_equivalent_squashes(repo, std::mem::take(&mut self.reached));
        self.applied = self
            .reached
            .iter()
            .filter(|id| repo.revision(id).is_some())
            .cloned()
            .collect();
        self.partial = repo
            .in_order()
            .filter(|r| !self.applied.contains(&r.id))
            .filter_map(|r| {
                let at = last_reached(repo, r, &self.reached)?;
                Some(PartialSquash {
                    squash: r.id.clone(),
                    at,
                })
            })
            .collect();
        // A database partway through a squash is past the revision the squash follows.
        let passed: BTreeSet<&String> = self
            .partial
            .iter()
            .filter_map(|p| repo.revision(&p.squash))
            .flat_map(|squash| &squash.down)
            .collect();
        self.current = current_of(repo, &self.applied);
        self.current.retain(|id| !passed.contains(id));
    }
}

/// Adds to `reached` each squash whose replaced revisions it all holds, and so on up, for
/// squashes of squashes.
pub(super) fn with_equivalent_squashes(
    repo: &Repository,
    mut reached: BTreeSet<String>,
) -> BTreeSet<String> {
    loop {
        let equivalent: Vec<String> = repo
            .in_order()
            .chain(repo.replaced_files())
            .filter(|r| !r.replaces.is_empty() && !reached.contains(&r.id))
            .filter(|r| r.replaces.iter().all(|id| reached.contains(id)))
            .map(|r| r.id.clone())
            .collect();
        if equivalent.is_empty() {
            return reached;
        }
        reached.extend(equivalent);
    }
}

/// The last revision of `squash`'s run that `reached` holds, looking inside replaced
/// squashes: where a database partway through the run is.
pub(super) fn last_reached(
    repo: &Repository,
    squash: &Revision,
    reached: &BTreeSet<String>,
) -> Option<String> {
    squash.replaces.iter().rev().find_map(|id| {
        if reached.contains(id) {
            return Some(id.clone());
        }
        last_reached(repo, repo.replaced(id)?, reached)
    })
}

/// What a database at `id` has run: the revision and all it follows; for a revision a squash
/// replaced, what the squash follows and the run up to `id`.
pub(crate) fn reached_at(repo: &Repository, id: &str) -> BTreeSet<String> {
    let Some(squash) = repo.squashed_into(id).and_then(|s| repo.revision(s)) else {
        return repo.graph().ancestors_and_self(id);
    };
    let mut reached = repo.graph().ancestors_and_self(&squash.id);
    reached.remove(&squash.id);
    for replaced in &squash.replaces {
        reached.insert(replaced.clone());
        if replaced == id {
            break;
        }
    }
    reached
}

/// The history rows of a database taken over at `id` (from Flask-Migrate, or another tool's
/// history): one statement per revision it has reached.
pub(crate) fn history_up_to(repo: &Repository, id: &str, dialect: crate::url::Dialect) -> String {
    reached_at(repo, id)
        .iter()
        .filter_map(|id| repo.any_revision(id))
        .map(|r| crate::history::record_sql(dialect, &r.id, &r.checksum))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `revision` and every revision it replaced, however deep: the history rows it stands for.
pub(super) fn stands_for(repo: &Repository, revision: &Revision) -> Vec<String> {
    let mut ids = vec![revision.id.clone()];
    for id in &revision.replaces {
        match repo.replaced(id) {
            Some(replaced) => ids.extend(stands_for(repo, replaced)),
            None => ids.push(id.clone()),
        }
    }
    ids
}

/// Reads the history, without changing anything (no table is created).
pub fn status(conn: &mut AnyConnection, repo: &Repository) -> Result<Status, MigrateError> {
    let mut status = status_of(&history::read(conn)?, repo);
    status.stopped = history::read_progress(conn)?;
    status.expanded = history::read_expansions(conn)?;
    Ok(status)
}

fn status_of(recorded: &BTreeMap<String, String>, repo: &Repository) -> Status {
    let mut status = Status::default();
    for (id, checksum) in recorded {
        match repo.any_revision(id) {
            Some(revision) if &revision.checksum != checksum => status.edited.push(id.clone()),
            Some(_) => {}
            None if repo.squashed_into(id).is_some() => {}
            None => {
                status.unknown.push(id.clone());
                continue;
            }
        }
        status.reached.insert(id.clone());
    }
    status.settle(repo);
    status
}

fn current_of(repo: &Repository, applied: &BTreeSet<String>) -> Vec<String> {
    let followed: BTreeSet<&String> = applied
        .iter()
        .filter_map(|id| repo.revision(id))
        .flat_map(|r| &r.down)
        .collect();
    repo.graph()
        .order()
        .iter()
        .filter(|id| applied.contains(*id) && !followed.contains(id))
        .cloned()
        .collect()
}

/// The status, refusing a database at a revision the repository lacks, and reporting
/// edited files.
pub fn checked_status(
    conn: &mut AnyConnection,
    repo: &Repository,
    on: &mut dyn FnMut(Event),
) -> Result<Status, MigrateError> {
    let status = status(conn, repo)?;
    if !status.unknown.is_empty() {
        return Err(MigrateError::UnknownApplied {
            revisions: status.unknown,
            location: repo.location().clone(),
        });
    }
    for id in &status.edited {
        on(Event::Edited(repo.any_revision(id).expect("known")));
    }
    Ok(status)
}
