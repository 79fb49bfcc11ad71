//! MySQL commits each DDL statement at once: a transaction would promise nothing, so the
//! statements run one by one and a failure reports exactly which ones took effect.

use diesel::QueryResult;

use crate::apply::{ApplyError, Plan, run_one_by_one};
use crate::connection::AnyConnection;

pub(super) const SCRIPT_FRAME: (&str, &str) = ("", "");

pub(super) fn run(
    conn: &mut AnyConnection,
    plan: &Plan,
    finish: &mut dyn FnMut(&mut AnyConnection) -> QueryResult<()>,
) -> Result<(), ApplyError> {
    run_one_by_one(conn, plan, finish)
}
