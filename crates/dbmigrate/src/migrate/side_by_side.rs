//! Revisions run side by side (`crate::expand`): the expand phase of `db upgrade`, `db
//! contract`, and the downgrade of an expanded revision, which undoes the expansion.

use std::collections::BTreeSet;
use std::time::Instant;

use diesel::connection::SimpleConnection;

use super::run::{locked, step_failed};
use super::status::{checked_status, stands_for};
use super::{Direction, Event, MigrateError, Options, Status, Step, replay};
use crate::apply::{self, Notice, Run};
use crate::compare::{CompareOptions, compare};
use crate::connection::AnyConnection;
use crate::expand::{self, Expansion};
use crate::history;
use crate::inspect;
use crate::repository::Repository;
use crate::revision::Revision;
use crate::schema::Schema;
use crate::url::DatabaseUrl;

/// How `revision` runs side by side from `before`, when it must and the database can;
/// on a database that cannot, a notice of what the release still serving will fail on.
pub(super) fn expansion(
    conn: &mut AnyConnection,
    revision: &Revision,
    before: &Schema,
    options: &Options,
    on: &mut dyn FnMut(Event),
) -> Result<Option<Expansion>, MigrateError> {
    if !options.side_by_side {
        return Ok(None);
    }
    if conn.dialect().sql().runs_side_by_side() {
        return expand::plan(&revision.id, &revision.upgrade, before).map_err(|cause| {
            MigrateError::NotSideBySide {
                revision: revision.id.clone(),
                cause,
            }
        });
    }
    let mut schema = before.clone();
    for op in &revision.upgrade {
        if let Some(change) = expand::breaking(op, &schema).first() {
            let notice = Notice::NotSideBySide {
                dialect: conn.dialect().name(),
                change: format!("{change:?}"),
            };
            on(Event::Notice(&notice));
            break;
        }
        let _ = schema.apply(op);
    }
    Ok(None)
}

/// The expand phase: the revision is recorded as applied and as expanded, its contract
/// pending. A failure takes the database back to `before`.
#[allow(clippy::too_many_arguments)]
pub(super) fn expand_step(
    conn: &mut AnyConnection,
    repo: &Repository,
    step: &Step,
    expansion: &Expansion,
    before: &Schema,
    status: &mut Status,
    options: &Options,
    on: &mut dyn FnMut(Event),
) -> Result<(), MigrateError> {
    let revision = step.revision;
    let dialect = conn.dialect();
    on(Event::Started(step));
    let started = Instant::now();
    let record = format!(
        "{}\n{}",
        history::record_sql(dialect, &revision.id, &revision.checksum),
        history::record_expansion_sql(dialect, &revision.id, &expansion.view_schema)
    );
    let mut notify = |notice: Notice| on(Event::Notice(&notice));
    let mut run = Run {
        policy: options.policy,
        notify: &mut notify,
        revision: Some((&revision.id, "upgrade")),
        outside_transaction: !revision.transaction,
    };
    let applied = apply::apply_with(conn, &expansion.expand, before, &mut run, |c| {
        c.batch_execute(&record)
    });
    if let Err(cause) = applied {
        if !cause.left_nothing() {
            // What the expansion made is the engine's own: all of it can go.
            take_back(conn, &revision.id, expansion, before, options, on)
                .map_err(|e| step_failed(step, dialect, status, e))?;
        }
        return Err(step_failed(step, dialect, status, cause));
    }
    let notice = Notice::Expanded {
        view_schema: expansion.view_schema.clone(),
    };
    on(Event::Notice(&notice));
    status.reached.insert(revision.id.clone());
    status.expanded.push(history::Expanded {
        revision: revision.id.clone(),
        view_schema: expansion.view_schema.clone(),
    });
    status.stopped.retain(|s| s.revision != revision.id);
    status.settle(repo);
    on(Event::Finished(step, started.elapsed()));
    Ok(())
}

/// Takes the database from an expansion (whole or partway) back to `before`: the schema
/// of views, triggers and functions go, then what the tables gained, found by comparing
/// the catalog with `before`.
fn take_back(
    conn: &mut AnyConnection,
    id: &str,
    expansion: &Expansion,
    before: &Schema,
    options: &Options,
    on: &mut dyn FnMut(Event),
) -> Result<(), apply::ApplyError> {
    for statement in &expansion.teardown {
        conn.batch_execute(statement)?;
    }
    let dialect = conn.dialect();
    let live = inspect::inspect(conn)?.comparable_for(dialect);
    let target = before.comparable_for(dialect);
    let options_off = CompareOptions {
        detect_renames: false,
    };
    let ops = compare(&live, &target, options_off).upgrade_ops();
    let mut notify = |notice: Notice| on(Event::Notice(&notice));
    let mut run = Run {
        policy: options.policy,
        notify: &mut notify,
        revision: None,
        outside_transaction: false,
    };
    apply::apply_with(conn, &ops, &live, &mut run, |_| Ok(()))?;
    if !history::read_progress(conn)?.is_empty() {
        conn.batch_execute(&history::forget_progress_sql(dialect, id))?;
        history::tidy_progress(conn)?;
    }
    Ok(())
}

/// The expansion of `revision`, an expanded revision of the database `status` describes,
/// and the schema before it.
fn expansion_of(
    repo: &Repository,
    revision: &Revision,
    status: &Status,
) -> Result<(Expansion, Schema), MigrateError> {
    let mut before_it: BTreeSet<String> = status.reached.clone();
    for id in stands_for(repo, revision) {
        before_it.remove(&id);
    }
    let before = replay(repo, &before_it)?;
    let expansion = expand::plan(&revision.id, &revision.upgrade, &before)
        .map_err(|cause| MigrateError::NotSideBySide {
            revision: revision.id.clone(),
            cause,
        })?
        .ok_or_else(|| MigrateError::NotExpandable(revision.id.clone()))?;
    Ok((expansion, before))
}

/// `db downgrade` of an expanded revision: the expansion taken back, the revision forgotten.
pub(super) fn undo_expansion(
    conn: &mut AnyConnection,
    repo: &Repository,
    step: &Step,
    status: &mut Status,
    options: &Options,
    on: &mut dyn FnMut(Event),
) -> Result<(), MigrateError> {
    let revision = step.revision;
    let dialect = conn.dialect();
    let (expansion, before) = expansion_of(repo, revision, status)?;
    on(Event::Started(step));
    let started = Instant::now();
    take_back(conn, &revision.id, &expansion, &before, options, on)
        .map_err(|e| step_failed(step, dialect, status, e))?;
    conn.batch_execute(&super::forget_sql(dialect, repo, revision))?;
    history::forget_expansion(conn, &revision.id)?;
    for id in stands_for(repo, revision) {
        status.reached.remove(&id);
    }
    status.expanded.retain(|e| e.revision != revision.id);
    status.settle(repo);
    on(Event::Finished(step, started.elapsed()));
    Ok(())
}

/// `db contract`: the old shape of every expanded revision goes; returns the revisions.
pub fn contract(
    conn: &mut AnyConnection,
    url: &DatabaseUrl,
    repo: &Repository,
    options: &Options,
    on: impl FnMut(Event),
) -> Result<Vec<String>, MigrateError> {
    locked(conn, url, &options.policy, on, |conn, on| {
        let mut status = checked_status(conn, repo, on)?;
        let mut done = Vec::new();
        for expanded in status.expanded.clone() {
            let revision =
                repo.revision(&expanded.revision)
                    .ok_or_else(|| MigrateError::UnknownApplied {
                        revisions: vec![expanded.revision.clone()],
                        location: repo.location().clone(),
                    })?;
            let (expansion, _) = expansion_of(repo, revision, &status)?;
            let step = Step {
                direction: Direction::Contract,
                revision,
            };
            let dialect = conn.dialect();
            on(Event::Started(&step));
            let started = Instant::now();
            let forget = format!(
                "DELETE FROM {} WHERE revision = '{}'",
                dialect.quote(history::EXPANSION_TABLE),
                revision.id
            );
            let mut notify = |notice: Notice| on(Event::Notice(&notice));
            let mut run = Run {
                policy: options.policy,
                notify: &mut notify,
                revision: Some((&revision.id, "contract")),
                outside_transaction: false,
            };
            apply::apply_with(
                conn,
                &expansion.contract,
                &expansion.expanded,
                &mut run,
                |c| c.batch_execute(&forget),
            )
            .map_err(|cause| step_failed(&step, dialect, &status, cause))?;
            history::forget_expansion(conn, &revision.id)?;
            status.expanded.retain(|e| e.revision != revision.id);
            on(Event::Finished(&step, started.elapsed()));
            done.push(revision.id.clone());
        }
        Ok(done)
    })
}
