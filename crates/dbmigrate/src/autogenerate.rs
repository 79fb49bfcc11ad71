//! Autogenerate's live half: the database's schema compared with a target, what the risky
//! changes would cost the rows there now, and the revision that makes the change.

use diesel::sql_types::BigInt;
use diesel::{QueryResult, QueryableByName, RunQueryDsl, sql_query};

use crate::compare::{CompareOptions, Comparison, Risk, compare};
use crate::connection::AnyConnection;
use crate::inspect::inspect;
use crate::revision::Revision;
use crate::schema::Schema;

/// The changes that take the database `conn` reaches to `target`.
pub fn compare_with_database(
    conn: &mut AnyConnection,
    target: &Schema,
    options: CompareOptions,
) -> QueryResult<Comparison> {
    let dialect = conn.dialect();
    let live = inspect(conn)?.comparable_for(dialect);
    Ok(compare(&live, &target.comparable_for(dialect), options))
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
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
        let mut count =
            |sql: String| -> QueryResult<i64> { Ok(sql_query(sql).get_result::<Count>(conn)?.n) };
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
                max_length,
            } => {
                let condition = match max_length {
                    Some(length) => {
                        let length_fn = dialect.sql().char_length();
                        format!("{length_fn}({}) > {length}", q(column))
                    }
                    None => format!("{} IS NOT NULL", q(column)),
                };
                let n = count(format!(
                    "SELECT COUNT(*) AS n FROM {} WHERE {condition}",
                    q(table)
                ))?;
                let what = if max_length.is_some() {
                    "hold values longer than the new length"
                } else {
                    "hold values that may not convert"
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

/// A revision whose upgrade makes the change and whose downgrade undoes it.
pub fn revision_for(
    comparison: &Comparison,
    message: &str,
    down: Vec<String>,
    created: &str,
) -> Revision {
    let mut revision = Revision::new(message, down, created);
    revision.upgrade = comparison.upgrade_ops();
    revision.downgrade = comparison.downgrade_ops();
    revision
}
