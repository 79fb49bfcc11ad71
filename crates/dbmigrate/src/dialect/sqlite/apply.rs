//! A revision runs in one transaction, with foreign keys switched off before it (inside a
//! transaction SQLite ignores the switch) and `PRAGMA foreign_key_check` before commit, so
//! that a table rebuild can never leave a broken reference behind.

use diesel::connection::SimpleConnection;
use diesel::sql_types::{Nullable, Text};
use diesel::{Connection, QueryResult, QueryableByName, RunQueryDsl, sql_query};

use crate::apply::{ApplyError, Plan, run_all};
use crate::connection::AnyConnection;

pub(super) const SCRIPT_FRAME: (&str, &str) = (
    "PRAGMA foreign_keys = OFF;\nBEGIN;\n",
    "PRAGMA foreign_key_check;\nCOMMIT;\nPRAGMA foreign_keys = ON;\n",
);

pub(super) fn run(
    conn: &mut AnyConnection,
    plan: &Plan,
    finish: &mut dyn FnMut(&mut AnyConnection) -> QueryResult<()>,
) -> Result<(), ApplyError> {
    conn.batch_execute("PRAGMA foreign_keys = OFF")?;
    let result = conn.transaction(|c| {
        run_all(c, plan)?;
        check_foreign_keys(c)?;
        finish(c)?;
        Ok::<_, ApplyError>(())
    });
    conn.batch_execute("PRAGMA foreign_keys = ON")?;
    result
}

#[derive(QueryableByName)]
struct ForeignKeyProblem {
    #[diesel(sql_type = Text)]
    table: String,
    #[diesel(sql_type = Nullable<Text>)]
    parent: Option<String>,
}

fn check_foreign_keys(conn: &mut AnyConnection) -> Result<(), ApplyError> {
    let problems: Vec<ForeignKeyProblem> =
        sql_query("SELECT \"table\" AS \"table\", parent FROM pragma_foreign_key_check")
            .load(conn)?;
    if problems.is_empty() {
        return Ok(());
    }
    let first = &problems[0];
    Err(ApplyError::ForeignKeyCheck(format!(
        "{} row(s) break a foreign key, the first in '{}' referencing '{}'",
        problems.len(),
        first.table,
        first.parent.as_deref().unwrap_or("?")
    )))
}
