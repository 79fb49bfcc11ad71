//! Upgrades, downgrades and stamps under the migration lock, one revision at a time.

use std::collections::BTreeSet;
use std::time::Instant;

use diesel::Connection;
use diesel::connection::SimpleConnection;

use super::status::{checked_status, last_reached, stands_for, status};
use super::{
    Adoption, Direction, DowngradeTarget, Event, Match, MigrateError, Options, Status, Step,
    StepFailure, UpgradeTarget, adopt, replay, side_by_side,
};
use crate::apply::{self, LockPolicy, Run};
use crate::connection::AnyConnection;
use crate::history;
use crate::inspect;
use crate::lock::MigrationLock;
use crate::ops::Op;
use crate::repository::Repository;
use crate::revision::Revision;
use crate::schema::Schema;
use crate::url::{DatabaseUrl, Dialect};

/// Runs `body` holding the migration lock, and gives the lock back whatever happens. The
/// connection first takes the policy's lock timeout.
pub(super) fn locked<T>(
    conn: &mut AnyConnection,
    url: &DatabaseUrl,
    policy: &LockPolicy,
    mut on: impl FnMut(Event),
    body: impl FnOnce(&mut AnyConnection, &mut dyn FnMut(Event)) -> Result<T, MigrateError>,
) -> Result<T, MigrateError> {
    if let Some(setup) = conn.dialect().sql().lock_wait_setup(policy) {
        conn.batch_execute(&setup)?;
    }
    let lock = MigrationLock::acquire(conn, url, || on(Event::WaitingForLock))?;
    let result = body(conn, &mut on);
    lock.release(conn)?;
    result
}

/// Applies what `target` asks for, waiting for locks as the defaults say; returns the ids
/// applied, in order.
pub fn upgrade(
    conn: &mut AnyConnection,
    url: &DatabaseUrl,
    repo: &Repository,
    target: &UpgradeTarget,
    on: impl FnMut(Event),
) -> Result<Vec<String>, MigrateError> {
    upgrade_with(conn, url, repo, target, &Options::default(), on)
}

/// [`upgrade`], as `options` say. A revision that stopped partway goes on from where it
/// stopped; none goes while one is expanded, its contract pending.
pub fn upgrade_with(
    conn: &mut AnyConnection,
    url: &DatabaseUrl,
    repo: &Repository,
    target: &UpgradeTarget,
    options: &Options,
    on: impl FnMut(Event),
) -> Result<Vec<String>, MigrateError> {
    locked(conn, url, &options.policy, on, |conn, on| {
        let mut status = checked_status(conn, repo, on)?;
        let mut path = upgrade_path(repo, &status.applied, target)?;
        if let Some(expanded) = status.expanded.first()
            && !path.is_empty()
        {
            return Err(MigrateError::ContractPending(expanded.revision.clone()));
        }
        if let Some(stopped) = status.stopped.first() {
            let finishing = stopped.direction == Direction::Upgrade.to_string()
                && path.contains(&stopped.revision);
            if !finishing {
                return Err(MigrateError::StoppedPartway {
                    revision: stopped.revision.clone(),
                    direction: stopped.direction.clone(),
                });
            }
        }
        let takeover = if status.is_empty() {
            crate::import::find_takeover(conn, repo)?
        } else {
            None
        };
        if let Some(takeover) = takeover {
            crate::import::take_over(conn, repo, &takeover)?;
            on(Event::TakenOver(&takeover));
            status = self::status(conn, repo)?;
            path = upgrade_path(repo, &status.applied, target)?;
        } else if status.is_empty() && !clashing_tables(conn, repo, &path)?.is_empty() {
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
            finish_or_run(conn, repo, revision, &mut status, options, on)?;
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
    options: &Options,
    on: &mut dyn FnMut(Event),
) -> Result<(), MigrateError> {
    if last_reached(repo, revision, &status.reached).is_none() {
        let step = Step {
            direction: Direction::Upgrade,
            revision,
        };
        return run_step(conn, repo, &step, status, options, on);
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
        finish_or_run(conn, repo, replaced, status, options, on)?;
    }
    Ok(())
}

/// Undoes what `target` asks for, waiting for locks as the defaults say; returns the ids
/// undone, in order.
pub fn downgrade(
    conn: &mut AnyConnection,
    url: &DatabaseUrl,
    repo: &Repository,
    target: &DowngradeTarget,
    on: impl FnMut(Event),
) -> Result<Vec<String>, MigrateError> {
    downgrade_with(conn, url, repo, target, &Options::default(), on)
}

/// [`downgrade`], as `options` say. What a revision that stopped partway through its upgrade
/// did is undone first, and counts as one step; an expanded revision's expansion is undone.
pub fn downgrade_with(
    conn: &mut AnyConnection,
    url: &DatabaseUrl,
    repo: &Repository,
    target: &DowngradeTarget,
    options: &Options,
    on: impl FnMut(Event),
) -> Result<Vec<String>, MigrateError> {
    locked(conn, url, &options.policy, on, |conn, on| {
        let mut status = checked_status(conn, repo, on)?;
        if let Some(partial) = status.partial.first() {
            return Err(MigrateError::PartwayThroughSquash(partial.clone()));
        }
        let mut undone = Vec::new();
        let mut target = target.clone();
        if let Some(stopped) = status.stopped.first().cloned()
            && stopped.direction == Direction::Upgrade.to_string()
        {
            undo_stopped(conn, repo, &stopped, &mut status, &options.policy, on)?;
            undone.push(stopped.revision);
            match target {
                DowngradeTarget::Relative(1) => return Ok(undone),
                DowngradeTarget::Relative(n) => target = DowngradeTarget::Relative(n - 1),
                _ => {}
            }
        }
        let path = downgrade_path(repo, &status.applied, &target)?;
        for id in &path {
            let revision = repo.revision(id).expect("in the graph");
            let step = Step {
                direction: Direction::Downgrade,
                revision,
            };
            if status.expanded.iter().any(|e| &e.revision == id) {
                side_by_side::undo_expansion(conn, repo, &step, &mut status, options, on)?;
            } else {
                run_step(conn, repo, &step, &mut status, options, on)?;
            }
        }
        undone.extend(path);
        Ok(undone)
    })
}

/// Undoes the steps a revision stopped partway through its upgrade did.
fn undo_stopped(
    conn: &mut AnyConnection,
    repo: &Repository,
    stopped: &history::Progress,
    status: &mut Status,
    policy: &LockPolicy,
    on: &mut dyn FnMut(Event),
) -> Result<(), MigrateError> {
    let revision =
        repo.any_revision(&stopped.revision)
            .ok_or_else(|| MigrateError::UnknownApplied {
                revisions: vec![stopped.revision.clone()],
                location: repo.location().clone(),
            })?;
    let step = Step {
        direction: Direction::Downgrade,
        revision,
    };
    on(Event::Started(&step));
    let started = Instant::now();
    let before = schema_now(conn, repo, &status.reached)?;
    let mut notify = |notice: apply::Notice| on(Event::Notice(&notice));
    let mut run = Run {
        policy: *policy,
        notify: &mut notify,
        revision: Some((&revision.id, "upgrade")),
        outside_transaction: !revision.transaction,
    };
    apply::undo_stopped(conn, &revision.upgrade, &before, stopped, &mut run)
        .map_err(|cause| step_failed(&step, conn.dialect(), status, cause))?;
    status.stopped.retain(|s| s.revision != revision.id);
    on(Event::Finished(&step, started.elapsed()));
    Ok(())
}

pub(super) fn step_failed(
    step: &Step,
    dialect: Dialect,
    status: &Status,
    cause: apply::ApplyError,
) -> MigrateError {
    MigrateError::StepFailed(Box::new(StepFailure {
        direction: step.direction,
        revision: step.revision.id.clone(),
        message: step.revision.message.clone(),
        dialect,
        remains_at: status.position(),
        cause,
    }))
}

/// The revisions to apply, in order, from `applied` to `target`.
pub fn upgrade_path(
    repo: &Repository,
    applied: &BTreeSet<String>,
    target: &UpgradeTarget,
) -> Result<Vec<String>, MigrateError> {
    let graph = repo.graph();
    let to = |id: &str| graph.upgrade_path(applied, id);
    let to_every = |heads: Vec<String>| {
        let wanted: BTreeSet<String> = heads.iter().flat_map(|h| to(h)).collect();
        let order = graph.order().iter();
        order.filter(|id| wanted.contains(*id)).cloned().collect()
    };
    Ok(match target {
        UpgradeTarget::Head => repo.head()?.map(|h| to(&h.id)).unwrap_or_default(),
        UpgradeTarget::Revision(text) => to(&repo.resolve(text)?.id),
        UpgradeTarget::Heads => to_every(graph.heads()),
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
        UpgradeTarget::BranchHeads(branch) => {
            let line = repo.branch(branch)?;
            to_every(
                graph
                    .heads()
                    .into_iter()
                    .filter(|h| line.contains(h))
                    .collect(),
            )
        }
        UpgradeTarget::Along(branch, n) => {
            let pending = along(repo, branch, |id| !applied.contains(id))?;
            match pending.get(n - 1) {
                Some(id) => to(id),
                None => {
                    return Err(MigrateError::TooFewSteps {
                        direction: Direction::Upgrade,
                        asked: *n,
                        available: pending.len(),
                    });
                }
            }
        }
    })
}

/// The revisions of the line `branch` names that `keep` keeps, in order.
fn along(
    repo: &Repository,
    branch: &str,
    keep: impl Fn(&String) -> bool,
) -> Result<Vec<String>, MigrateError> {
    let line = repo.branch(branch)?;
    Ok(repo
        .graph()
        .order()
        .iter()
        .filter(|id| line.contains(*id) && keep(id))
        .cloned()
        .collect())
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
        DowngradeTarget::Along(branch, n) => {
            let mut done = along(repo, branch, |id| applied.contains(id))?;
            if done.len() < *n {
                return Err(MigrateError::TooFewSteps {
                    direction: Direction::Downgrade,
                    asked: *n,
                    available: done.len(),
                });
            }
            let newest = done.split_off(done.len() - n);
            graph.undo_path(applied, &newest)
        }
        DowngradeTarget::BranchBase(branch) => {
            graph.undo_path(applied, &along(repo, branch, |id| applied.contains(id))?)
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

/// The schema a step starts from. SQLite rebuilds tables by copying them, so it must start
/// from the tables as they really are, and so must a history with imported SQL; elsewhere
/// the revisions' own account is used, which keeps each database's catalog quirks out of
/// the way.
pub(super) fn schema_now(
    conn: &mut AnyConnection,
    repo: &Repository,
    applied: &BTreeSet<String>,
) -> Result<Schema, MigrateError> {
    // Another tool's SQL, imported, changed the schema in ways the revisions do not tell.
    let imported = applied
        .iter()
        .any(|id| repo.any_revision(id).is_some_and(|r| r.imported.is_some()));
    if imported || conn.dialect().sql().steps_from_catalog() {
        Ok(inspect::inspect(conn)?)
    } else {
        replay(repo, applied)
    }
}

fn run_step(
    conn: &mut AnyConnection,
    repo: &Repository,
    step: &Step,
    status: &mut Status,
    options: &Options,
    on: &mut dyn FnMut(Event),
) -> Result<(), MigrateError> {
    let (direction, revision) = (step.direction, step.revision);
    let dialect = conn.dialect();
    let before = schema_now(conn, repo, &status.reached)?;
    if direction == Direction::Upgrade
        && let Some(expansion) = side_by_side::expansion(conn, revision, &before, options, on)?
    {
        return side_by_side::expand_step(
            conn, repo, step, &expansion, &before, status, options, on,
        );
    }
    on(Event::Started(step));
    let started = Instant::now();
    let (ops, record) = match direction {
        Direction::Upgrade => (
            &revision.upgrade,
            history::record_sql(dialect, &revision.id, &revision.checksum),
        ),
        Direction::Downgrade | Direction::Contract => {
            (&revision.downgrade, forget_sql(dialect, repo, revision))
        }
    };
    let finish = |c: &mut AnyConnection| c.batch_execute(&record);
    let direction_name = direction.to_string();
    let mut notify = |notice: apply::Notice| on(Event::Notice(&notice));
    let mut run = Run {
        policy: options.policy,
        notify: &mut notify,
        revision: Some((&revision.id, &direction_name)),
        outside_transaction: !revision.transaction,
    };
    apply::apply_with(conn, ops, &before, &mut run, finish)
        .map_err(|cause| step_failed(step, dialect, status, cause))?;
    match direction {
        Direction::Upgrade => {
            status.reached.insert(revision.id.clone());
        }
        Direction::Downgrade | Direction::Contract => {
            for id in stands_for(repo, revision) {
                status.reached.remove(&id);
            }
        }
    }
    status.stopped.retain(|s| s.revision != revision.id);
    status.settle(repo);
    on(Event::Finished(step, started.elapsed()));
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
    Ok(stamped_revisions(repo, targets)?
        .iter()
        .flat_map(|id| graph.ancestors_and_self(id))
        .collect())
}

/// The revisions `targets` name (none for `base`).
fn stamped_revisions(repo: &Repository, targets: &[String]) -> Result<Vec<String>, MigrateError> {
    let mut ids = Vec::new();
    for target in targets {
        match target.as_str() {
            "base" => {}
            "heads" => ids.extend(repo.graph().heads()),
            "head" => ids.extend(repo.head()?.map(|h| h.id.clone())),
            text => ids.push(repo.resolve(text)?.id.clone()),
        }
    }
    Ok(ids)
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
    let mut wanted = stamp_set(repo, targets)?;
    let stamped = stamped_revisions(repo, targets)?;
    let graph = repo.graph();
    locked(conn, url, &LockPolicy::default(), on, |conn, _| {
        let before = status(conn, repo)?;
        if !purge && !before.unknown.is_empty() {
            return Err(MigrateError::UnknownApplied {
                revisions: before.unknown,
                location: repo.location().clone(),
            });
        }
        // As Alembic does, a stamp moves the lines it names and leaves the others: what
        // is applied and neither before nor after a stamped revision stays recorded.
        if !purge && !stamped.is_empty() && !targets.iter().any(|t| t == "base") {
            let related: BTreeSet<String> = stamped
                .iter()
                .flat_map(|id| {
                    graph
                        .ancestors_and_self(id)
                        .into_iter()
                        .chain(graph.descendants_and_self(id))
                })
                .collect();
            wanted.extend(
                before
                    .applied
                    .iter()
                    .filter(|id| !related.contains(*id))
                    .cloned(),
            );
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
        history::forget_all_progress(conn)?;
        let after = status(conn, repo)?;
        Ok((before.position(), after.position()))
    })
}
