//! The history table: one row per applied revision, with the checksum of its file when it
//! was applied. Unlike Alembic's one-row `alembic_version`, every applied revision is kept,
//! so that the checksums of all of them can be compared and branches need no special case.

use std::collections::BTreeMap;

use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{QueryResult, QueryableByName, RunQueryDsl, sql_query};

use crate::connection::AnyConnection;
use crate::inspect;
use crate::url::Dialect;

pub const HISTORY_TABLE: &str = "dbmigrate_history";

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    revision: String,
    #[diesel(sql_type = Text)]
    checksum: String,
}

pub fn create_sql(dialect: Dialect) -> String {
    let table = dialect.quote(HISTORY_TABLE);
    let applied_at = dialect.sql().applied_at_column();
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (\n    revision VARCHAR(64) NOT NULL PRIMARY KEY,\n    \
         checksum VARCHAR(64) NOT NULL,\n    applied_at {applied_at}\n);"
    )
}

/// Ids and checksums are checked to be plain words and hex digits, so they are written as
/// literals: the same statement then serves a live run and a `--sql` script.
pub fn record_sql(dialect: Dialect, revision: &str, checksum: &str) -> String {
    format!(
        "INSERT INTO {} (revision, checksum) VALUES ('{}', '{}');",
        dialect.quote(HISTORY_TABLE),
        plain(revision),
        plain(checksum)
    )
}

/// Takes revisions out of the history: one, or a squash with those it replaced.
pub fn forget_sql(dialect: Dialect, revisions: &[String]) -> String {
    let ids: Vec<String> = revisions
        .iter()
        .map(|id| format!("'{}'", plain(id)))
        .collect();
    let condition = match ids.as_slice() {
        [one] => format!("= {one}"),
        several => format!("IN ({})", several.join(", ")),
    };
    format!(
        "DELETE FROM {} WHERE revision {condition};",
        dialect.quote(HISTORY_TABLE)
    )
}

pub fn forget_all_sql(dialect: Dialect) -> String {
    format!("DELETE FROM {};", dialect.quote(HISTORY_TABLE))
}

fn plain(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

pub fn exists(conn: &mut AnyConnection) -> QueryResult<bool> {
    Ok(inspect::table_names(conn)?
        .iter()
        .any(|name| name == HISTORY_TABLE))
}

pub fn ensure(conn: &mut AnyConnection) -> QueryResult<()> {
    let dialect = conn.dialect();
    conn.batch_execute(&create_sql(dialect))
}

/// Applied revisions and their checksums; empty when there is no history table.
pub fn read(conn: &mut AnyConnection) -> QueryResult<BTreeMap<String, String>> {
    if !exists(conn)? {
        return Ok(BTreeMap::new());
    }
    let dialect = conn.dialect();
    let rows: Vec<Row> = sql_query(format!(
        "SELECT revision, checksum FROM {}",
        dialect.quote(HISTORY_TABLE)
    ))
    .load(conn)?;
    Ok(rows.into_iter().map(|r| (r.revision, r.checksum)).collect())
}
