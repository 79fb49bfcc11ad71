//! A plan that cannot run in one transaction, run in phases: the shared steps together in a
//! transaction, a separate step in a transaction of its own, a step outside transactions
//! alone, a backfill batch by batch. Each phase records, as it commits, how many steps are
//! done (`history::PROGRESS_TABLE`), so that a run that was stopped (killed, or its
//! connection lost) goes on after the last step done. A step that fails undoes what the
//! steps before it did, going back from the schema they reached to the one before the
//! revision, so the database is as it was; where undoing could not bring back what they
//! removed, they stay, recorded, and the error says how to go on or back.

use std::ops::Range;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, QueryResult};

use super::locks::{self, LockPolicy, Notice, TableLock};
use super::{ApplyError, Partway, Placement, Plan, Run, Step, Work, execute, failure, plan};
use crate::compare::{CompareOptions, compare};
use crate::connection::AnyConnection;
use crate::history::{self, Progress};
use crate::schema::Schema;

/// Steps that run together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Phase {
    pub steps: Range<usize>,
    pub in_transaction: bool,
}

impl Phase {
    /// How long the phase's statements wait for a lock. A phase that keeps no one waiting
    /// (an index built concurrently, a validation) waits as long as it takes: a concurrent
    /// build that gave up waiting for older transactions would lose its work. One that
    /// would, or a backfill's row locks, waits as the policy says.
    pub(crate) fn lock_timeout(&self, plan: &Plan, policy: &LockPolicy) -> Duration {
        let steps = &plan.steps[self.steps.clone()];
        let stops_someone = steps.iter().any(|s| {
            matches!(s.work, Work::Backfill(_)) || s.locks.iter().any(|l| l.mode.stops_the_site())
        });
        if stops_someone {
            policy.timeout
        } else {
            Duration::ZERO
        }
    }
}

/// The plan's steps grouped: runs of shared steps, each other step alone.
pub(crate) fn phases(plan: &Plan) -> Vec<Phase> {
    let mut phases: Vec<Phase> = Vec::new();
    for (index, step) in plan.steps.iter().enumerate() {
        match (step.placement, phases.last_mut()) {
            (Placement::Shared, Some(last))
                if last.in_transaction
                    && plan.steps[last.steps.start].placement == Placement::Shared =>
            {
                last.steps.end = index + 1;
            }
            (placement, _) => phases.push(Phase {
                steps: index..index + 1,
                in_transaction: placement != Placement::Outside,
            }),
        }
    }
    phases
}

/// Runs `plan` in phases, going on from where an earlier run of the same revision stopped,
/// then `finish` with the progress forgotten, in one transaction.
pub(crate) fn run(
    conn: &mut AnyConnection,
    plan: &Plan,
    run: &mut Run,
    finish: &mut dyn FnMut(&mut AnyConnection) -> QueryResult<()>,
) -> Result<(), ApplyError> {
    let dialect = conn.dialect();
    let saved = match run.revision {
        Some((id, _)) => {
            conn.batch_execute(&history::create_progress_sql(dialect))?;
            history::read_progress(conn)?
                .into_iter()
                .find(|p| p.revision == id)
        }
        None => None,
    };
    if let (Some(saved), Some((id, _))) = (&saved, run.revision)
        && saved.checksum != plan.digest(saved.steps_done as usize)
    {
        return Err(ApplyError::ChangedSinceStopped(id.to_string()));
    }
    let (done, position) = saved.map_or((0, None), |p| (p.steps_done as usize, p.position));
    if done > 0 || position.is_some() {
        (run.notify)(Notice::Resuming {
            step: done + 1,
            steps: plan.steps.len(),
            after_key: position,
        });
    }
    if let Err(stopped) = run_phases(conn, plan, run, done, position) {
        return Err(undo_or_keep(conn, plan, run, *stopped));
    }
    let forget = run
        .revision
        .map(|(id, _)| history::forget_progress_sql(dialect, id));
    conn.transaction(|c| {
        finish(c)?;
        if let Some(forget) = &forget {
            c.batch_execute(forget)?;
        }
        QueryResult::Ok(())
    })?;
    history::tidy_progress(conn)?;
    Ok(())
}

/// Where a run in phases stopped.
struct Stopped {
    /// Steps done before the one that failed.
    done: usize,
    error: ApplyError,
    /// Why what was done cannot be undone, when the failing step itself changed rows.
    kept: Option<String>,
}

/// The phases after step `done`; a step that stopped partway the last time is cleaned up
/// after first.
fn run_phases(
    conn: &mut AnyConnection,
    plan: &Plan,
    run: &mut Run,
    done: usize,
    position: Option<i64>,
) -> Result<(), Box<Stopped>> {
    let dialect = conn.dialect();
    let saving = |steps_done: usize, position: Option<i64>| {
        run.revision.map(|(revision, direction)| {
            history::save_progress_sql(
                dialect,
                &Progress {
                    revision: revision.into(),
                    checksum: plan.digest(steps_done),
                    direction: direction.into(),
                    steps_done: steps_done as i64,
                    position,
                },
            )
        })
    };
    let policy = run.policy;
    for phase in phases(plan).into_iter().filter(|p| p.steps.end > done) {
        let first = phase.steps.start;
        let step = &plan.steps[first];
        let locks: Vec<TableLock> = plan.steps[phase.steps.clone()]
            .iter()
            .flat_map(|s| s.locks.iter().cloned())
            .collect();
        let save = saving(phase.steps.end, None);
        if let Some(sql) = dialect
            .sql()
            .lock_timeout_sql(phase.lock_timeout(plan, &policy))
        {
            conn.batch_execute(&sql).map_err(|e| {
                Box::new(Stopped {
                    done: first,
                    error: e.into(),
                    kept: None,
                })
            })?;
        }
        if first == done
            && done > 0
            && let Some(cleanup) = &step.cleanup
        {
            conn.batch_execute(cleanup).map_err(|e| {
                Box::new(Stopped {
                    done,
                    error: e.into(),
                    kept: None,
                })
            })?;
        }
        let result = match &step.work {
            Work::Backfill(backfill) => {
                let resume = position.filter(|_| first == done);
                backfill
                    .run_batched(
                        conn,
                        &policy,
                        run.notify,
                        resume,
                        &mut |c, upto| match saving(first, Some(upto)) {
                            Some(sql) => c.batch_execute(&sql),
                            None => Ok(()),
                        },
                    )
                    .map_err(|e| e.at(plan, first))
                    .and_then(|()| save_outside(conn, save.as_deref()))
            }
            Work::Sql(sql) if !phase.in_transaction => {
                let mut told = Vec::new();
                let notify = &mut *run.notify;
                let done = locks::retrying(conn, &policy, &locks, notify, |c| {
                    dialect
                        .sql()
                        .execute_alone(c, sql, &mut |n| told.push(n))
                        .map_err(|e| failure(plan, first, e))
                });
                told.into_iter().for_each(|n| (run.notify)(n));
                done.and_then(|()| save_outside(conn, save.as_deref()))
            }
            Work::Sql(_) => {
                let notify = &mut *run.notify;
                locks::retrying(conn, &policy, &locks, notify, |c| {
                    c.transaction(|t| {
                        for position in phase.steps.clone() {
                            execute(t, &plan.steps[position], &mut |_| {})
                                .map_err(|e| failure(plan, position, e))?;
                        }
                        if let Some(save) = &save {
                            t.batch_execute(save)?;
                        }
                        Ok(())
                    })
                })
            }
        };
        if let Err(error) = result {
            if let Some(cleanup) = &step.cleanup {
                // Best effort: a cleanup that fails is done again before the step is.
                let _ = conn.batch_execute(cleanup);
            }
            let kept = match &step.work {
                Work::Backfill(backfill) => {
                    backfill.changes_existing_rows(&plan.before).then(|| {
                        format!(
                            "the backfill of '{}' had updated rows, which undoing cannot restore",
                            backfill.table
                        )
                    })
                }
                Work::Sql(_) => None,
            };
            return Err(Box::new(Stopped {
                done: first,
                error,
                kept,
            }));
        }
    }
    Ok(())
}

fn save_outside(conn: &mut AnyConnection, save: Option<&str>) -> Result<(), ApplyError> {
    if let Some(save) = save {
        conn.batch_execute(save)?;
    }
    Ok(())
}

/// After a failure: undoes the steps done (going back from the schema they reached to the
/// plan's first), or keeps them recorded when undoing cannot bring back what they removed
/// or changed, or itself fails.
fn undo_or_keep(
    conn: &mut AnyConnection,
    plan: &Plan,
    run: &mut Run,
    stopped: Stopped,
) -> ApplyError {
    let Stopped { done, error, kept } = stopped;
    if done == 0 && kept.is_none() {
        return error;
    }
    match undo_steps(conn, plan, run, done, kept) {
        Ok(()) => error,
        Err(why_kept) => {
            let (number, op, message) = match &error {
                ApplyError::Failed(f) => (f.number, f.op.clone(), f.message.clone()),
                other => (
                    plan.steps[done].number,
                    plan.steps[done].op.clone(),
                    other.to_string(),
                ),
            };
            ApplyError::Partway(Box::new(Partway {
                number,
                op,
                message,
                done,
                steps: plan.steps.len(),
                why_kept,
                applied: plan.steps[..done].iter().map(Step::sql).collect(),
                recorded: run.revision.is_some(),
            }))
        }
    }
}

/// Undoes the first `done` steps of `plan` and forgets the revision's progress; or says
/// why they stay.
fn undo_steps(
    conn: &mut AnyConnection,
    plan: &Plan,
    run: &mut Run,
    done: usize,
    kept: Option<String>,
) -> Result<(), String> {
    let reached = match done {
        0 => std::sync::Arc::new(plan.before.clone()),
        _ => plan.steps[done - 1].reaches.clone(),
    };
    let changed_rows = plan.steps[..done]
        .iter()
        .position(|s| s.changes_rows)
        .map(|i| format!("step {} changed rows, which undoing cannot restore", i + 1));
    if let Some(why_kept) = kept
        .or(changed_rows)
        .or_else(|| removed(&plan.before, &reached))
    {
        return Err(why_kept);
    }
    (run.notify)(Notice::Undoing { steps: done });
    undo(conn, &reached, &plan.before, run).map_err(|e| format!("undoing them failed: {e}"))?;
    if let Some((id, _)) = run.revision {
        let forget = history::forget_progress_sql(conn.dialect(), id);
        conn.batch_execute(&forget)
            .and_then(|()| history::tidy_progress(conn))
            .map_err(|e| format!("forgetting them failed: {e}"))?;
    }
    Ok(())
}

/// Undoes what a run of `plan` that stopped as `stopped` records did.
pub(crate) fn undo_stopped(
    conn: &mut AnyConnection,
    plan: &Plan,
    stopped: &Progress,
    run: &mut Run,
) -> Result<(), ApplyError> {
    let done = (stopped.steps_done as usize).min(plan.steps.len());
    if stopped.checksum != plan.digest(done) {
        return Err(ApplyError::ChangedSinceStopped(stopped.revision.clone()));
    }
    let kept = match plan.steps.get(done).map(|s| &s.work) {
        Some(Work::Backfill(backfill))
            if stopped.position.is_some() && backfill.changes_existing_rows(&plan.before) =>
        {
            Some(format!(
                "the backfill of '{}' had updated rows, which undoing cannot restore",
                backfill.table
            ))
        }
        _ => None,
    };
    undo_steps(conn, plan, run, done, kept).map_err(|why| ApplyError::CannotUndo { done, why })
}

/// Tables or columns of `before` that `reached` no longer has.
fn removed(before: &Schema, reached: &Schema) -> Option<String> {
    let what = |thing: String| {
        Some(format!(
            "they removed {thing}, which undoing cannot bring back"
        ))
    };
    for table in &before.tables {
        let Some(now) = reached.table(&table.name) else {
            return what(format!("the table '{}'", table.name));
        };
        if let Some(column) = table
            .columns
            .iter()
            .find(|c| now.find_column(&c.name).is_none())
        {
            return what(format!("the column '{}.{}'", table.name, column.name));
        }
    }
    None
}

/// Takes the database from `reached` back to `before`, in phases, nothing recorded.
pub(crate) fn undo(
    conn: &mut AnyConnection,
    reached: &Schema,
    before: &Schema,
    run: &mut Run,
) -> Result<(), ApplyError> {
    let options = CompareOptions {
        detect_renames: false,
    };
    let ops = compare(reached, before, options).upgrade_ops();
    let undo = plan(conn.dialect(), &ops, reached)?;
    let mut quiet = Run {
        policy: run.policy,
        notify: &mut *run.notify,
        revision: None,
        outside_transaction: false,
    };
    run_phases(conn, &undo, &mut quiet, 0, None).map_err(|stopped| stopped.error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::Drafted;
    use std::sync::Arc;

    fn plan_of(placements: &[Placement]) -> Plan {
        let steps = placements
            .iter()
            .enumerate()
            .map(|(i, placement)| Step {
                number: i + 1,
                op: String::new(),
                work: Drafted::shared(String::new()).work,
                placement: *placement,
                locks: Vec::new(),
                reaches: Arc::new(Schema::default()),
                changes_rows: false,
                cleanup: None,
            })
            .collect();
        Plan {
            steps,
            before: Schema::default(),
            after: Schema::default(),
        }
    }

    #[test]
    fn shared_steps_run_together_and_the_others_alone() {
        use Placement::*;
        let plan = plan_of(&[
            Shared, Shared, Outside, Separate, Shared, Separate, Separate,
        ]);
        let ranges: Vec<(Range<usize>, bool)> = phases(&plan)
            .into_iter()
            .map(|p| (p.steps, p.in_transaction))
            .collect();
        assert_eq!(
            ranges,
            [
                (0..2, true),
                (2..3, false),
                (3..4, true),
                (4..5, true),
                (5..6, true),
                (6..7, true)
            ]
        );
    }
}
