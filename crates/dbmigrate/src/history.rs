//! The history table: one row per applied revision, with the checksum of its file when it
//! was applied. Unlike Alembic's one-row `alembic_version`, every applied revision is kept,
//! so that the checksums of all of them can be compared and branches need no special case.

use std::collections::BTreeMap;

use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{QueryResult, QueryableByName, RunQueryDsl, sql_query};

use crate::connection::AnyConnection;
use crate::inspect;
use crate::url::Dialect;

pub const HISTORY_TABLE: &str = "dbmigrate_history";

/// Revisions run in phases that have not finished: how many of their steps are done, and
/// how far a backfill in the next step got. A row goes when its revision is recorded, and
/// the table when no row is left.
pub const PROGRESS_TABLE: &str = "dbmigrate_progress";

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
    let word = dialect.sql().word_type();
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (\n    revision {word} NOT NULL PRIMARY KEY,\n    \
         checksum {word} NOT NULL,\n    applied_at {applied_at}\n);"
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

/// Revisions expanded side by side (`expand`) whose contract is pending, with the schema of
/// views the release built for them reads through; there only while one is.
pub const EXPANSION_TABLE: &str = "dbmigrate_expansion";

/// A revision expanded, its contract pending.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Expanded {
    #[diesel(sql_type = Text)]
    pub revision: String,
    #[diesel(sql_type = Text)]
    pub view_schema: String,
}

/// Records `revision` as expanded (the table made first if needed).
pub fn record_expansion_sql(dialect: Dialect, revision: &str, view_schema: &str) -> String {
    let word = dialect.sql().word_type();
    let table = dialect.quote(EXPANSION_TABLE);
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (\n    revision {word} NOT NULL PRIMARY KEY,\n    view_schema {word} NOT NULL\n);\n\
         INSERT INTO {table} (revision, view_schema) VALUES ('{}', '{}');",
        plain(revision),
        plain(view_schema)
    )
}

/// Forgets that `revision` is expanded, and the table once no revision is.
pub fn forget_expansion(conn: &mut AnyConnection, revision: &str) -> QueryResult<()> {
    let dialect = conn.dialect();
    let table = dialect.quote(EXPANSION_TABLE);
    conn.batch_execute(&format!(
        "DELETE FROM {table} WHERE revision = '{}'",
        plain(revision)
    ))?;
    if read_expansions(conn)?.is_empty() {
        conn.batch_execute(&format!("DROP TABLE IF EXISTS {table}"))?;
    }
    Ok(())
}

/// The revisions expanded, contract pending; none when the table is not there.
pub fn read_expansions(conn: &mut AnyConnection) -> QueryResult<Vec<Expanded>> {
    let has_table = inspect::table_names(conn)?
        .iter()
        .any(|name| name == EXPANSION_TABLE);
    if !has_table {
        return Ok(Vec::new());
    }
    let dialect = conn.dialect();
    sql_query(format!(
        "SELECT revision, view_schema FROM {}",
        dialect.quote(EXPANSION_TABLE)
    ))
    .load(conn)
}

/// A revision stopped partway, as [`PROGRESS_TABLE`] keeps it.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Progress {
    #[diesel(sql_type = Text)]
    pub revision: String,
    #[diesel(sql_type = Text)]
    pub checksum: String,
    /// `upgrade` or `downgrade`.
    #[diesel(sql_type = Text)]
    pub direction: String,
    /// Steps finished, from the first.
    #[diesel(sql_type = BigInt)]
    pub steps_done: i64,
    /// The last key a backfill in the next step finished.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub position: Option<i64>,
}

pub fn create_progress_sql(dialect: Dialect) -> String {
    let word = dialect.sql().word_type();
    format!(
        "CREATE TABLE IF NOT EXISTS {} (\n    revision {word} NOT NULL PRIMARY KEY,\n    \
         checksum {word} NOT NULL,\n    direction {word} NOT NULL,\n    \
         steps_done BIGINT NOT NULL,\n    position BIGINT\n);",
        dialect.quote(PROGRESS_TABLE)
    )
}

/// Records `progress`, in place of what was recorded for its revision.
pub fn save_progress_sql(dialect: Dialect, progress: &Progress) -> String {
    let position = progress
        .position
        .map_or_else(|| "NULL".to_string(), |p| p.to_string());
    format!(
        "{} INSERT INTO {} (revision, checksum, direction, steps_done, position) VALUES ('{}', '{}', '{}', {}, {position});",
        forget_progress_sql(dialect, &progress.revision),
        dialect.quote(PROGRESS_TABLE),
        plain(&progress.revision),
        plain(&progress.checksum),
        plain(&progress.direction),
        progress.steps_done,
    )
}

pub fn forget_progress_sql(dialect: Dialect, revision: &str) -> String {
    format!(
        "DELETE FROM {} WHERE revision = '{}';",
        dialect.quote(PROGRESS_TABLE),
        plain(revision)
    )
}

/// Drops the progress table once no revision is partway: it is there only while one is.
pub fn tidy_progress(conn: &mut AnyConnection) -> QueryResult<()> {
    if read_progress(conn)?.is_empty() {
        forget_all_progress(conn)?;
    }
    Ok(())
}

/// Forgets every revision stopped partway (`db stamp` says where the database is).
pub fn forget_all_progress(conn: &mut AnyConnection) -> QueryResult<()> {
    let dialect = conn.dialect();
    conn.batch_execute(&format!(
        "DROP TABLE IF EXISTS {}",
        dialect.quote(PROGRESS_TABLE)
    ))
}

/// The revisions stopped partway; none when nothing ever ran in phases.
pub fn read_progress(conn: &mut AnyConnection) -> QueryResult<Vec<Progress>> {
    let has_table = inspect::table_names(conn)?
        .iter()
        .any(|name| name == PROGRESS_TABLE);
    if !has_table {
        return Ok(Vec::new());
    }
    let dialect = conn.dialect();
    sql_query(format!(
        "SELECT revision, checksum, direction, steps_done, position FROM {}",
        dialect.quote(PROGRESS_TABLE)
    ))
    .load(conn)
}
