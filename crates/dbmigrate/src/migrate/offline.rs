//! The same revisions written as SQL for a database that cannot be reached from here:
//! `--sql`. Each revision in its transaction where the database has DDL transactions, with
//! the history rows, so that running the script is the same as a live run.

use std::collections::BTreeSet;

use super::{
    Direction, DowngradeTarget, MigrateError, Step, UpgradeTarget, downgrade_path, replay,
    stamp_set, upgrade_path,
};
use crate::apply::phases::{Phase, phases};
use crate::apply::{self, LockPolicy, Placement, Work};
use crate::history;
use crate::repository::Repository;
use crate::url::Dialect;

/// The SQL that upgrades a database at `from` (the base for `None`) to `target`, for
/// `dialect`, with no connection.
pub fn upgrade_sql(
    repo: &Repository,
    dialect: Dialect,
    from: Option<&str>,
    target: &UpgradeTarget,
    policy: &LockPolicy,
) -> Result<String, MigrateError> {
    let applied = match from {
        Some(from) => stamp_set(repo, &[from.to_string()])?,
        None => BTreeSet::new(),
    };
    if let (Some(from), UpgradeTarget::Revision(to)) = (from, target) {
        if to == "base" {
            return Err(MigrateError::WrongDirection {
                from: from.to_string(),
                to: to.clone(),
                direction: Direction::Downgrade,
            });
        }
        let to_id = &repo.resolve(to)?.id;
        let from_ids = stamp_set(repo, &[from.to_string()])?;
        if applied.contains(to_id)
            && !repo
                .graph()
                .ancestors_and_self(to_id)
                .is_superset(&from_ids)
        {
            return Err(MigrateError::WrongDirection {
                from: from.to_string(),
                to: to.clone(),
                direction: Direction::Downgrade,
            });
        }
    }
    let path = upgrade_path(repo, &applied, target)?;
    offline_script(repo, dialect, applied, &path, Direction::Upgrade, policy)
}

/// The SQL that downgrades a database at `from` to `target`, for `dialect`.
pub fn downgrade_sql(
    repo: &Repository,
    dialect: Dialect,
    from: &str,
    target: &DowngradeTarget,
    policy: &LockPolicy,
) -> Result<String, MigrateError> {
    let applied = stamp_set(repo, &[from.to_string()])?;
    if let DowngradeTarget::Revision(to) = target {
        let after_from =
            matches!(to.as_str(), "head" | "heads") || !applied.contains(&repo.resolve(to)?.id);
        if after_from {
            return Err(MigrateError::WrongDirection {
                from: from.to_string(),
                to: to.clone(),
                direction: Direction::Upgrade,
            });
        }
    }
    let path = downgrade_path(repo, &applied, target)?;
    offline_script(repo, dialect, applied, &path, Direction::Downgrade, policy)
}

fn offline_script(
    repo: &Repository,
    dialect: Dialect,
    applied: BTreeSet<String>,
    path: &[String],
    direction: Direction,
    policy: &LockPolicy,
) -> Result<String, MigrateError> {
    let mut schema = replay(repo, &applied)?;
    let mut out = format!(
        "-- {direction} for {}, written without a connection\n\n",
        dialect.name()
    );
    if let Some(setup) = dialect.sql().lock_wait_setup(policy) {
        out.push_str(
            "-- No statement waits longer than this for a table's lock, so that the site's\n\
             -- queries never queue behind one for longer (MIGRATION_LOCK_TIMEOUT).\n",
        );
        out.push_str(&setup);
        out.push_str("\n\n");
    }
    out.push_str(&history::create_sql(dialect));
    out.push('\n');
    let (begin, commit) = dialect.sql().script_frame();
    let mut waiting = policy.timeout;
    for id in path {
        let revision = repo.revision(id).expect("in the graph");
        let step = Step {
            direction,
            revision,
        };
        let (ops, record) = match direction {
            Direction::Upgrade => (
                &revision.upgrade,
                history::record_sql(dialect, id, &revision.checksum),
            ),
            Direction::Downgrade | Direction::Contract => (
                &revision.downgrade,
                super::forget_sql(dialect, repo, revision),
            ),
        };
        let mut plan =
            apply::plan(dialect, ops, &schema).map_err(|cause| MigrateError::Unrenderable {
                direction,
                revision: id.clone(),
                cause,
            })?;
        if !revision.transaction {
            for step in &mut plan.steps {
                step.placement = Placement::Outside;
            }
        }
        out.push_str(&format!("\n-- {step}\n\n"));
        let phases = if dialect.sql().runs_in_phases() {
            phases(&plan)
        } else {
            vec![Phase {
                steps: 0..plan.steps.len(),
                in_transaction: revision.transaction,
            }]
        };
        let mut recorded = false;
        for (number, phase) in phases.iter().enumerate() {
            let timeout = phase.lock_timeout(&plan, policy);
            if dialect.sql().runs_in_phases() && timeout != waiting {
                if let Some(sql) = dialect.sql().lock_timeout_sql(timeout) {
                    out.push_str(&sql);
                    out.push('\n');
                }
                waiting = timeout;
            }
            if phase.in_transaction {
                out.push_str(begin);
            } else {
                out.push_str("-- outside a transaction\n");
            }
            for step in &plan.steps[phase.steps.clone()] {
                push_statement(&mut out, &script_sql(step, dialect));
            }
            if phase.in_transaction && number + 1 == phases.len() {
                out.push_str(&record);
                out.push('\n');
                recorded = true;
            }
            if phase.in_transaction {
                out.push_str(commit);
            }
        }
        if !recorded {
            out.push_str(begin);
            out.push_str(&record);
            out.push('\n');
            out.push_str(commit);
        }
        schema = plan.after;
    }
    Ok(out)
}

fn script_sql(step: &apply::Step, dialect: Dialect) -> String {
    match &step.work {
        Work::Sql(sql) => sql.clone(),
        Work::Backfill(backfill) => backfill.script_sql(dialect),
    }
}

fn push_statement(out: &mut String, statement: &str) {
    let statement = statement.trim_end();
    out.push_str(statement);
    out.push_str(if statement.ends_with(';') {
        "\n"
    } else {
        ";\n"
    });
}
