//! Running a repository's revisions against a live database (under the migration lock,
//! one revision per transaction where the database allows), and writing the same as SQL
//! for a database that cannot be reached from here.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use diesel::Connection;
use diesel::connection::SimpleConnection;

use crate::apply::{self, ApplyError};
use crate::connection::AnyConnection;
use crate::history;
use crate::inspect;
use crate::lock::{LockError, MigrationLock};
use crate::ops::{Op, OpError};
use crate::repository::{Location, Repository, RepositoryError};
use crate::revision::Revision;
use crate::schema::Schema;
use crate::url::{DatabaseUrl, Dialect};

mod adopt;
mod offline;
pub mod verify;
pub use adopt::{Adoption, Match, find as find_adoption};
pub use offline::{downgrade_sql, upgrade_sql};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Upgrade,
    Downgrade,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Upgrade => "upgrade",
            Direction::Downgrade => "downgrade",
        })
    }
}

/// One revision applied or undone.
pub struct Step<'r> {
    pub direction: Direction,
    pub revision: &'r Revision,
}

impl fmt::Display for Step<'_> {
    /// Alembic's line: `Running upgrade <down> -> <id>, <message>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let down = self.revision.down.join(", ");
        let (from, to) = match self.direction {
            Direction::Upgrade => (down.as_str(), self.revision.id.as_str()),
            Direction::Downgrade => (self.revision.id.as_str(), down.as_str()),
        };
        write!(
            f,
            "Running {} {from} -> {to}, {}",
            self.direction, self.revision.message
        )
    }
}

/// What a run reports as it goes.
pub enum Event<'a> {
    /// Another process holds the migration lock; this one waits for it.
    WaitingForLock,
    /// An applied revision's file has changed since it was applied.
    Edited(&'a Revision),
    /// A database with tables and no history was taken over at a revision.
    Adopted(&'a Adoption),
    Started(&'a Step<'a>),
    Finished(&'a Step<'a>, Duration),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpgradeTarget {
    Head,
    Heads,
    Relative(usize),
    Revision(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DowngradeTarget {
    Relative(usize),
    Revision(String),
    Base,
}

/// A target that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("'{0}' is not a number of steps")]
    NotSteps(String),
    #[error("'{0}' goes back, which is a downgrade")]
    GoesBack(String),
    #[error("'{0}' goes forward, which is an upgrade")]
    GoesForward(String),
}

fn steps(text: &str) -> Result<usize, TargetError> {
    text.parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| TargetError::NotSteps(text.to_string()))
}

impl FromStr for UpgradeTarget {
    type Err = TargetError;
    fn from_str(text: &str) -> Result<Self, TargetError> {
        Ok(match text {
            "head" => UpgradeTarget::Head,
            "heads" => UpgradeTarget::Heads,
            _ if text.starts_with('+') => UpgradeTarget::Relative(steps(&text[1..])?),
            _ if text.starts_with('-') => {
                return Err(TargetError::GoesBack(text.to_string()));
            }
            _ => UpgradeTarget::Revision(text.to_string()),
        })
    }
}

impl FromStr for DowngradeTarget {
    type Err = TargetError;
    fn from_str(text: &str) -> Result<Self, TargetError> {
        Ok(match text {
            "base" => DowngradeTarget::Base,
            _ if text.starts_with('-') => DowngradeTarget::Relative(steps(&text[1..])?),
            _ if text.starts_with('+') => {
                return Err(TargetError::GoesForward(text.to_string()));
            }
            _ => DowngradeTarget::Revision(text.to_string()),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Repository(#[from] RepositoryError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("{0}")]
    Database(#[from] diesel::result::Error),
    #[error(
        "the database is at revision {}, which {location} does not have",
        .revisions.join(", ")
    )]
    UnknownApplied {
        revisions: Vec<String>,
        location: Location,
    },
    #[error(
        "the database already has {} but no migration history, and its schema is that of no revision of {location}: {}",
        tables_phrase(.tables), .differences.join("; ")
    )]
    TablesWithoutHistory {
        tables: Vec<String>,
        location: Location,
        /// How the database differs from the repository's head.
        differences: Vec<String>,
    },
    #[error(
        "the database has tables but no migration history, and its schema is that of several revisions ({}), which change only data; nothing tells which of them ran",
        .0.join(", ")
    )]
    AmbiguousAdoption(Vec<String>),
    #[error("the database could not be taken over at revision {revision}: {cause}")]
    TakeOver { revision: String, cause: ApplyError },
    #[error("revision {0} is not applied to the database, so it cannot be downgraded to")]
    NotApplied(String),
    #[error(
        "{direction} by {asked} step(s) is not possible: only {available} revision(s) to {direction}"
    )]
    TooFewSteps {
        direction: Direction,
        asked: usize,
        available: usize,
    },
    #[error(
        "revision {revision} ({source_file}) has no downgrade operations, so it cannot be undone; add [[downgrade]] operations to it"
    )]
    NoDowngrade {
        revision: String,
        source_file: String,
    },
    #[error("revision {revision} ({source_file}) does not fit the schema before it: {cause}")]
    Replay {
        revision: String,
        source_file: String,
        cause: OpError,
    },
    #[error("{0}")]
    StepFailed(Box<StepFailure>),
    #[error(
        "the database is at {position}, and squash {squash} replaced revision {revision} after it, whose file is gone; restore the files the squash replaced (from version control) and run the upgrade again"
    )]
    ReplacedFileMissing {
        squash: String,
        revision: String,
        position: String,
    },
    #[error(
        "the database is at revision {at}, partway through the revisions squash {squash} replaced; upgrade to {squash} first (`db upgrade {squash}`), then downgrade from there", at = .0.at, squash = .0.squash
    )]
    PartwayThroughSquash(PartialSquash),
    #[error("the {direction} of revision {revision} cannot be written as SQL: {cause}")]
    Unrenderable {
        direction: Direction,
        revision: String,
        cause: ApplyError,
    },
    #[error("`--sql` for a downgrade needs to know where to start: give a range FROM:TO")]
    OfflineDowngradeNeedsStart,
    #[error("going from '{from}' to '{to}' is {}", match .direction { Direction::Upgrade => "an upgrade", Direction::Downgrade => "a downgrade" })]
    WrongDirection {
        from: String,
        to: String,
        /// Which way it really goes.
        direction: Direction,
    },
}

/// A revision the database refused, and where that left the database.
#[derive(Debug, thiserror::Error)]
#[error("{direction} of revision {revision} ({message}) failed: {cause}{}", outcome(.dialect, .cause, .remains_at))]
pub struct StepFailure {
    pub direction: Direction,
    pub revision: String,
    pub message: String,
    pub dialect: Dialect,
    pub remains_at: String,
    pub cause: ApplyError,
}

fn tables_phrase(tables: &[String]) -> String {
    let quoted: Vec<String> = tables.iter().map(|t| format!("'{t}'")).collect();
    match quoted.len() {
        1 => format!("a table {}", quoted[0]),
        _ => format!("the tables {}", quoted.join(", ")),
    }
}

fn outcome(dialect: &Dialect, cause: &ApplyError, remains_at: &str) -> String {
    let partly_applied = matches!(cause, ApplyError::Failed(f) if !f.rolled_back);
    let mut text = if partly_applied {
        format!(
            "\nThe revision is not recorded as applied. Undo the applied statements above by hand and run the command again, or finish the rest by hand and stamp the database at the revision. The history says: {remains_at}."
        )
    } else {
        format!("\nNothing of this revision was kept: the database is still at {remains_at}.")
    };
    if let ApplyError::Failed(failure) = cause
        && let Some(advice) = dialect.sql().cleanup_advice(&failure.statement)
    {
        text.push_str(&format!(" But {advice}."));
    }
    text
}

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
        let position: Vec<String> = self
            .current
            .iter()
            .cloned()
            .chain(partway)
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
        self.unknown.is_empty() && self.partial.is_empty() && self.current == repo.graph().heads()
    }

    /// Whether the history records anything at all.
    pub fn is_empty(&self) -> bool {
        self.reached.is_empty() && self.unknown.is_empty()
    }

    /// Derives everything else from `reached`.
    fn settle(&mut self, repo: &Repository) {
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
fn with_equivalent_squashes(repo: &Repository, mut reached: BTreeSet<String>) -> BTreeSet<String> {
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
fn last_reached(
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

/// `revision` and every revision it replaced, however deep: the history rows it stands for.
fn stands_for(repo: &Repository, revision: &Revision) -> Vec<String> {
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
    Ok(status_of(&history::read(conn)?, repo))
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

/// Runs `body` holding the migration lock, and gives the lock back whatever happens.
fn locked<T>(
    conn: &mut AnyConnection,
    url: &DatabaseUrl,
    mut on: impl FnMut(Event),
    body: impl FnOnce(&mut AnyConnection, &mut dyn FnMut(Event)) -> Result<T, MigrateError>,
) -> Result<T, MigrateError> {
    let lock = MigrationLock::acquire(conn, url, || on(Event::WaitingForLock))?;
    let result = body(conn, &mut on);
    lock.release(conn)?;
    result
}

/// Applies what `target` asks for; returns the ids applied, in order.
pub fn upgrade(
    conn: &mut AnyConnection,
    url: &DatabaseUrl,
    repo: &Repository,
    target: &UpgradeTarget,
    on: impl FnMut(Event),
) -> Result<Vec<String>, MigrateError> {
    locked(conn, url, on, |conn, on| {
        let mut status = checked_status(conn, repo, on)?;
        let mut path = upgrade_path(repo, &status.applied, target)?;
        if status.is_empty() && !clashing_tables(conn, repo, &path)?.is_empty() {
            let adoption = adoption(conn, repo, &path)?;
            adopt::take_over(conn, repo, &adoption)?;
            on(Event::Adopted(&adoption));
            status = self::status(conn, repo)?;
            path = upgrade_path(repo, &status.applied, target)?;
        }
        if !path.is_empty() {
            history::ensure(conn)?;
        }
        for id in &path {
            let revision = repo.revision(id).expect("in the graph");
            finish_or_run(conn, repo, revision, &mut status, on)?;
        }
        Ok(path)
    })
}

/// Upgrades to `revision`; for a squash the database is partway through, by running the
/// rest of the revisions it replaced, from their files.
fn finish_or_run(
    conn: &mut AnyConnection,
    repo: &Repository,
    revision: &Revision,
    status: &mut Status,
    on: &mut dyn FnMut(Event),
) -> Result<(), MigrateError> {
    if last_reached(repo, revision, &status.reached).is_none() {
        return run_step(conn, repo, Direction::Upgrade, revision, status, on);
    }
    for id in &revision.replaces {
        if status.reached.contains(id) {
            continue;
        }
        let replaced = repo
            .replaced(id)
            .ok_or_else(|| MigrateError::ReplacedFileMissing {
                squash: revision.id.clone(),
                revision: id.clone(),
                position: status.position(),
            })?;
        finish_or_run(conn, repo, replaced, status, on)?;
    }
    Ok(())
}

/// Undoes what `target` asks for; returns the ids undone, in order.
pub fn downgrade(
    conn: &mut AnyConnection,
    url: &DatabaseUrl,
    repo: &Repository,
    target: &DowngradeTarget,
    on: impl FnMut(Event),
) -> Result<Vec<String>, MigrateError> {
    locked(conn, url, on, |conn, on| {
        let mut status = checked_status(conn, repo, on)?;
        if let Some(partial) = status.partial.first() {
            return Err(MigrateError::PartwayThroughSquash(partial.clone()));
        }
        let path = downgrade_path(repo, &status.applied, target)?;
        for id in &path {
            let revision = repo.revision(id).expect("in the graph");
            run_step(conn, repo, Direction::Downgrade, revision, &mut status, on)?;
        }
        Ok(path)
    })
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

/// The revisions to apply, in order, from `applied` to `target`.
pub fn upgrade_path(
    repo: &Repository,
    applied: &BTreeSet<String>,
    target: &UpgradeTarget,
) -> Result<Vec<String>, MigrateError> {
    let graph = repo.graph();
    let to = |id: &str| graph.upgrade_path(applied, id);
    Ok(match target {
        UpgradeTarget::Head => repo.head()?.map(|h| to(&h.id)).unwrap_or_default(),
        UpgradeTarget::Revision(text) => to(&repo.resolve(text)?.id),
        UpgradeTarget::Heads => {
            let wanted: BTreeSet<String> = graph.heads().iter().flat_map(|h| to(h)).collect();
            graph
                .order()
                .iter()
                .filter(|id| wanted.contains(*id))
                .cloned()
                .collect()
        }
        UpgradeTarget::Relative(n) => {
            let mut path = repo.head()?.map(|h| to(&h.id)).unwrap_or_default();
            if path.len() < *n {
                return Err(MigrateError::TooFewSteps {
                    direction: Direction::Upgrade,
                    asked: *n,
                    available: path.len(),
                });
            }
            path.truncate(*n);
            path
        }
    })
}

/// The revisions to undo, in order, from `applied` to `target`; checks that each can be.
pub fn downgrade_path(
    repo: &Repository,
    applied: &BTreeSet<String>,
    target: &DowngradeTarget,
) -> Result<Vec<String>, MigrateError> {
    let graph = repo.graph();
    let path = match target {
        DowngradeTarget::Base => graph.downgrade_path(applied, None),
        DowngradeTarget::Revision(text) => {
            let id = &repo.resolve(text)?.id;
            if !applied.contains(id) {
                return Err(MigrateError::NotApplied(id.clone()));
            }
            graph.downgrade_path(applied, Some(id))
        }
        DowngradeTarget::Relative(n) => {
            let mut path = graph.downgrade_path(applied, None);
            if path.len() < *n {
                return Err(MigrateError::TooFewSteps {
                    direction: Direction::Downgrade,
                    asked: *n,
                    available: path.len(),
                });
            }
            path.truncate(*n);
            path
        }
    };
    for id in &path {
        let revision = repo.revision(id).expect("in the graph");
        if revision.downgrade.is_empty() && !revision.upgrade.is_empty() {
            return Err(MigrateError::NoDowngrade {
                revision: id.clone(),
                source_file: revision.source.clone(),
            });
        }
    }
    Ok(path)
}

/// The tables the path would create that the database already has.
fn clashing_tables(
    conn: &mut AnyConnection,
    repo: &Repository,
    path: &[String],
) -> Result<Vec<String>, MigrateError> {
    let existing: BTreeSet<String> = inspect::table_names(conn)?.into_iter().collect();
    Ok(path
        .iter()
        .filter_map(|id| repo.revision(id))
        .flat_map(|r| &r.upgrade)
        .filter_map(|op| match op {
            Op::CreateTable { table, .. } if existing.contains(table) => Some(table.clone()),
            _ => None,
        })
        .collect())
}

/// The revision a database without history can be taken over at, or why there is none.
fn adoption(
    conn: &mut AnyConnection,
    repo: &Repository,
    path: &[String],
) -> Result<Adoption, MigrateError> {
    match adopt::find(conn, repo)? {
        Match::One(adoption) => Ok(adoption),
        Match::Several(revisions) => Err(MigrateError::AmbiguousAdoption(revisions)),
        Match::None(differences) => Err(MigrateError::TablesWithoutHistory {
            tables: clashing_tables(conn, repo, path)?,
            location: repo.location().clone(),
            differences,
        }),
    }
}

/// The schema the applied revisions leave, from their operations alone. Where `applied`
/// holds part of a squash's run, those revisions are replayed from their files.
pub fn replay(repo: &Repository, applied: &BTreeSet<String>) -> Result<Schema, MigrateError> {
    let mut schema = Schema::default();
    for revision in repo.in_order() {
        replay_into(&mut schema, repo, revision, applied)?;
    }
    Ok(schema)
}

fn replay_into(
    schema: &mut Schema,
    repo: &Repository,
    revision: &Revision,
    applied: &BTreeSet<String>,
) -> Result<(), MigrateError> {
    if !applied.contains(&revision.id) {
        for replaced in revision.replaces.iter().filter_map(|id| repo.replaced(id)) {
            replay_into(schema, repo, replaced, applied)?;
        }
        return Ok(());
    }
    for op in &revision.upgrade {
        schema.apply(op).map_err(|cause| MigrateError::Replay {
            revision: revision.id.clone(),
            source_file: revision.source.clone(),
            cause,
        })?;
    }
    Ok(())
}

/// The schema a step starts from. SQLite rebuilds tables by copying them, so it must start
/// from the tables as they really are; elsewhere the revisions' own account is used, which
/// keeps each database's catalog quirks out of the way.
fn schema_now(
    conn: &mut AnyConnection,
    repo: &Repository,
    applied: &BTreeSet<String>,
) -> Result<Schema, MigrateError> {
    if conn.dialect().sql().steps_from_catalog() {
        Ok(inspect::inspect(conn)?)
    } else {
        replay(repo, applied)
    }
}

fn run_step(
    conn: &mut AnyConnection,
    repo: &Repository,
    direction: Direction,
    revision: &Revision,
    status: &mut Status,
    on: &mut dyn FnMut(Event),
) -> Result<(), MigrateError> {
    let dialect = conn.dialect();
    let before = schema_now(conn, repo, &status.reached)?;
    let step = Step {
        direction,
        revision,
    };
    on(Event::Started(&step));
    let started = Instant::now();
    let (ops, record) = match direction {
        Direction::Upgrade => (
            &revision.upgrade,
            history::record_sql(dialect, &revision.id, &revision.checksum),
        ),
        Direction::Downgrade => (&revision.downgrade, forget_sql(dialect, repo, revision)),
    };
    let finish = |c: &mut AnyConnection| c.batch_execute(&record);
    apply::apply_with(conn, ops, &before, revision.transaction, finish).map_err(|cause| {
        MigrateError::StepFailed(Box::new(StepFailure {
            direction,
            revision: revision.id.clone(),
            message: revision.message.clone(),
            dialect,
            remains_at: status.position(),
            cause,
        }))
    })?;
    match direction {
        Direction::Upgrade => {
            status.reached.insert(revision.id.clone());
        }
        Direction::Downgrade => {
            for id in stands_for(repo, revision) {
                status.reached.remove(&id);
            }
        }
    }
    status.settle(repo);
    on(Event::Finished(&step, started.elapsed()));
    Ok(())
}

/// Takes `revision` out of the history, with whatever it replaced: a database upgraded
/// through a squash's run keeps the rows of that run.
pub(crate) fn forget_sql(dialect: Dialect, repo: &Repository, revision: &Revision) -> String {
    history::forget_sql(dialect, &stands_for(repo, revision))
}

/// The revisions a stamp target names, with everything they follow.
pub fn stamp_set(repo: &Repository, targets: &[String]) -> Result<BTreeSet<String>, MigrateError> {
    let graph = repo.graph();
    let mut set = BTreeSet::new();
    for target in targets {
        let ids = match target.as_str() {
            "base" => Vec::new(),
            "heads" => graph.heads(),
            "head" => repo.head()?.map(|h| h.id.clone()).into_iter().collect(),
            text => vec![repo.resolve(text)?.id.clone()],
        };
        for id in ids {
            set.extend(graph.ancestors_and_self(&id));
        }
    }
    Ok(set)
}

/// Records the database as being at `targets` without running anything; returns where it
/// was and where it is now.
pub fn stamp(
    conn: &mut AnyConnection,
    url: &DatabaseUrl,
    repo: &Repository,
    targets: &[String],
    purge: bool,
    on: impl FnMut(Event),
) -> Result<(String, String), MigrateError> {
    let wanted = stamp_set(repo, targets)?;
    locked(conn, url, on, |conn, _| {
        let before = status(conn, repo)?;
        if !purge && !before.unknown.is_empty() {
            return Err(MigrateError::UnknownApplied {
                revisions: before.unknown,
                location: repo.location().clone(),
            });
        }
        history::ensure(conn)?;
        let dialect = conn.dialect();
        conn.transaction(|c| {
            c.batch_execute(&history::forget_all_sql(dialect))?;
            for id in &wanted {
                let checksum = &repo.revision(id).expect("in the graph").checksum;
                c.batch_execute(&history::record_sql(dialect, id, checksum))?;
            }
            diesel::QueryResult::Ok(())
        })?;
        let after = status(conn, repo)?;
        Ok((before.position(), after.position()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_read_as_alembic_spells_them() {
        assert_eq!("head".parse(), Ok(UpgradeTarget::Head));
        assert_eq!("+2".parse(), Ok(UpgradeTarget::Relative(2)));
        assert_eq!(
            "ae10".parse(),
            Ok(UpgradeTarget::Revision("ae10".to_string()))
        );
        assert!("-1".parse::<UpgradeTarget>().is_err());
        assert_eq!("-1".parse(), Ok(DowngradeTarget::Relative(1)));
        assert_eq!("base".parse(), Ok(DowngradeTarget::Base));
        assert!("-x".parse::<DowngradeTarget>().is_err());
        assert!("-0".parse::<DowngradeTarget>().is_err());
    }
}
