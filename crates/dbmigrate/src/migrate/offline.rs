//! The same revisions written as SQL for a database that cannot be reached from here:
//! `--sql`. Each revision in its transaction where the database has DDL transactions, with
//! the history rows, so that running the script is the same as a live run.

use std::collections::BTreeSet;

use super::{
    Direction, DowngradeTarget, MigrateError, Step, UpgradeTarget, downgrade_path, replay,
    stamp_set, upgrade_path,
};
use crate::apply;
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
    offline_script(repo, dialect, applied, &path, Direction::Upgrade)
}

/// The SQL that downgrades a database at `from` to `target`, for `dialect`.
pub fn downgrade_sql(
    repo: &Repository,
    dialect: Dialect,
    from: &str,
    target: &DowngradeTarget,
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
    offline_script(repo, dialect, applied, &path, Direction::Downgrade)
}

fn offline_script(
    repo: &Repository,
    dialect: Dialect,
    applied: BTreeSet<String>,
    path: &[String],
    direction: Direction,
) -> Result<String, MigrateError> {
    let mut schema = replay(repo, &applied)?;
    let mut out = format!(
        "-- {direction} for {}, written without a connection\n\n{}\n",
        dialect.name(),
        history::create_sql(dialect)
    );
    let (begin, commit) = dialect.sql().script_frame();
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
            Direction::Downgrade => (
                &revision.downgrade,
                super::forget_sql(dialect, repo, revision),
            ),
        };
        let plan =
            apply::plan(dialect, ops, &schema).map_err(|cause| MigrateError::Unrenderable {
                direction,
                revision: id.clone(),
                cause,
            })?;
        let (begin, commit) = if revision.transaction {
            (begin, commit)
        } else {
            ("-- outside a transaction, as the revision asks\n", "")
        };
        out.push_str(&format!("\n-- {step}\n\n{begin}"));
        for (_, _, statement) in &plan.statements {
            let statement = statement.trim_end();
            out.push_str(statement);
            out.push_str(if statement.ends_with(';') {
                "\n"
            } else {
                ";\n"
            });
        }
        out.push_str(&record);
        out.push('\n');
        out.push_str(commit);
        schema = plan.after;
    }
    Ok(out)
}
