//! MySQL commits each DDL statement at once: a transaction would promise nothing, so the
//! statements run one by one and a failure reports exactly which ones took effect.

use diesel::QueryResult;
use diesel::connection::SimpleConnection;

use crate::apply::{ApplyError, Plan, failure};
use crate::connection::AnyConnection;

pub(super) const SCRIPT_FRAME: (&str, &str) = ("", "");

pub(super) fn run(
    conn: &mut AnyConnection,
    plan: &Plan,
    finish: &mut dyn FnMut(&mut AnyConnection) -> QueryResult<()>,
) -> Result<(), ApplyError> {
    for (position, (_, _, statement)) in plan.statements.iter().enumerate() {
        conn.batch_execute(statement)
            .map_err(|e| failure(plan, position, e, position == 0))?;
    }
    finish(conn)?;
    Ok(())
}
