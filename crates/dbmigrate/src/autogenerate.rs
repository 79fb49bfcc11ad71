//! Autogenerate's live half: the database's schema compared with a target, what the risky
//! changes would cost the rows there now, and the revision that makes the change.

use diesel::QueryResult;

use std::collections::BTreeSet;

use crate::compare::{ChangeKind, CompareOptions, Comparison, Risk, compare};
use crate::connection::AnyConnection;
use crate::inspect::inspect;
use crate::ops::Op;
use crate::revision::Revision;
use crate::schema::{ColumnType, Schema};

/// The changes that take the database `conn` reaches to `target`. Tables of the database
/// that match `ignored` (names, `*` for any run of characters) are left alone, unless
/// `target` has them.
pub fn compare_with_database(
    conn: &mut AnyConnection,
    target: &Schema,
    options: CompareOptions,
    ignored: &[String],
) -> QueryResult<Comparison> {
    let dialect = conn.dialect();
    let mut live = inspect(conn)?.comparable_for(dialect);
    live.tables
        .retain(|table| target.table(&table.name).is_some() || !is_ignored(&table.name, ignored));
    Ok(compare(&live, &target.comparable_for(dialect), options))
}

/// The changes that take the schema the repository's revisions build to `target`, with no
/// database: `db migrate --offline` and `db check --offline`.
pub fn compare_with_revisions(
    repo: &crate::Repository,
    target: &Schema,
    options: CompareOptions,
) -> Result<Comparison, crate::MigrateError> {
    let every_revision = repo.graph().order().iter().cloned().collect();
    let built = crate::migrate::replay(repo, &every_revision)?;
    Ok(compare(&built, target, options))
}

/// Whether a table `name` is one `MIGRATIONS_IGNORE_TABLES` (`patterns`) leaves alone.
pub fn is_ignored(name: &str, patterns: &[String]) -> bool {
    patterns
        .iter()
        .any(|pattern| matches_pattern(pattern, name))
}

/// Whether `name` matches `pattern`, where `*` stands for any run of characters.
pub fn matches_pattern(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// One warning line for each risky change, with the number of rows it touches now.
pub fn risk_warnings(
    conn: &mut AnyConnection,
    comparison: &Comparison,
) -> QueryResult<Vec<String>> {
    let dialect = conn.dialect();
    let q = |name: &str| dialect.quote(name);
    let mut warnings = Vec::new();
    for risk in comparison.changes.iter().filter_map(|c| c.risk.as_ref()) {
        let mut count = |sql: String| crate::inspect::count(conn, &sql);
        warnings.push(match risk {
            Risk::DropsTable { table } => {
                let n = count(format!("SELECT COUNT(*) AS n FROM {}", q(table)))?;
                format!("Removing table '{table}' deletes its {n} row(s)")
            }
            Risk::DropsColumn { table, column } => {
                let n = count(format!(
                    "SELECT COUNT(*) AS n FROM {} WHERE {} IS NOT NULL",
                    q(table),
                    q(column)
                ))?;
                format!("Removing column '{table}.{column}' discards its {n} value(s)")
            }
            Risk::NarrowsType {
                table,
                column,
                from,
                to,
                target,
            } => {
                let condition = match target {
                    Some(ty) => crate::lint::counts::not_fitting(dialect, column, ty),
                    None => format!("{} IS NOT NULL", q(column)),
                };
                let n = count(format!(
                    "SELECT COUNT(*) AS n FROM {} WHERE {condition}",
                    q(table)
                ))?;
                let what = match target {
                    Some(ColumnType::String(Some(_))) => "hold values longer than the new length",
                    Some(ColumnType::Enum(_)) => "hold values that are not among the new ones",
                    _ => "hold values that may not convert",
                };
                format!("Narrowing '{table}.{column}' from {from} to {to}: {n} row(s) {what}")
            }
            Risk::ForbidsNull { table, column } => {
                let n = count(format!(
                    "SELECT COUNT(*) AS n FROM {} WHERE {} IS NULL",
                    q(table),
                    q(column)
                ))?;
                format!(
                    "Making '{table}.{column}' NOT NULL: {n} row(s) hold NULL there, and the upgrade fails until they do not"
                )
            }
            Risk::GuessedRename { old, new } => format!(
                "'{old}' disappeared and '{new}' appeared, alike: written as a rename, which keeps the data; check it, or pass --no-rename for a drop and an add"
            ),
        });
    }
    Ok(warnings)
}

/// A revision whose upgrade makes the change and whose downgrade undoes it. Operations on
/// tables that hold rows say which form they take (`online = true`, `concurrently = true`):
/// the one that keeps the site running, on PostgreSQL; there to be read, and set to false
/// for the plain statement.
pub fn revision_for(
    comparison: &Comparison,
    message: &str,
    down: Vec<String>,
    created: &str,
) -> Revision {
    let mut revision = Revision::new(message, down, created);
    let made_by = |kind: ChangeKind| -> BTreeSet<String> {
        comparison
            .changes
            .iter()
            .filter(|c| c.kind == kind)
            .flat_map(|c| c.upgrade.iter().chain(&c.downgrade))
            .filter_map(|op| match op {
                Op::CreateTable { table, .. } => Some(table.clone()),
                _ => None,
            })
            .collect()
    };
    let written = |ops: Vec<Op>, made: &BTreeSet<String>| -> Vec<Op> {
        let dropped: BTreeSet<String> = ops
            .iter()
            .filter_map(|op| match op {
                Op::DropTable { table } => Some(table.clone()),
                _ => None,
            })
            .collect();
        ops.into_iter()
            .map(|op| {
                let on_rows = op
                    .table()
                    .is_some_and(|t| !made.contains(t) && !dropped.contains(t));
                if on_rows && op.has_online_form() {
                    op.with_online(true)
                } else {
                    op
                }
            })
            .collect()
    };
    revision.upgrade = written(comparison.upgrade_ops(), &made_by(ChangeKind::AddedTable));
    revision.downgrade = written(
        comparison.downgrade_ops(),
        &made_by(ChangeKind::RemovedTable),
    );
    let chose = revision
        .upgrade
        .iter()
        .chain(&revision.downgrade)
        .any(|op| op.online().is_some());
    if chose {
        revision.notes.push(
            "`online = true` and `concurrently = true`: on PostgreSQL, the form that keeps the site running on a table with rows (an index built concurrently, a constraint validated without blocking writes, NOT NULL proven by a CHECK first, a per-row default backfilled). Set it to false for the one plain statement.".into(),
        );
    }
    revision
}

#[cfg(test)]
mod tests {
    use super::matches_pattern;

    #[test]
    fn table_patterns_match_names_with_stars_for_any_run() {
        assert!(matches_pattern("audit", "audit"));
        assert!(!matches_pattern("audit", "audit_log"));
        assert!(matches_pattern("audit*", "audit_log"));
        assert!(matches_pattern("*_fts*", "post_fts_data"));
        assert!(matches_pattern("*", "anything"));
        assert!(!matches_pattern("*_fts", "post_fts_data"));
        assert!(matches_pattern("a*b*c", "a_b_c"));
        assert!(!matches_pattern("ab*ba", "aba"));
    }
}
