//! PostgreSQL's DDL is transactional: a revision runs in one transaction with its history
//! row, and a failure leaves the database exactly at the revision before.

use diesel::{Connection, QueryResult};

use crate::apply::{ApplyError, Plan, run_all};
use crate::connection::AnyConnection;

pub(super) const SCRIPT_FRAME: (&str, &str) = ("BEGIN;\n", "COMMIT;\n");

pub(super) fn run(
    conn: &mut AnyConnection,
    plan: &Plan,
    finish: &mut dyn FnMut(&mut AnyConnection) -> QueryResult<()>,
) -> Result<(), ApplyError> {
    conn.transaction(|c| {
        run_all(c, plan)?;
        finish(c)?;
        Ok::<_, ApplyError>(())
    })
}
