//! MySQL commits each DDL statement at once: a transaction would promise nothing, so each
//! step runs on its own, in the best online form the server takes (`online.rs`), waiting
//! for its lock as `apply::locks` says, and is recorded as it finishes (`apply::phases`):
//! a failure undoes the steps done where a comparison of schemas can, or leaves them
//! recorded, so that `db upgrade` goes on from the step that failed. A backfill commits
//! batch by batch.

use diesel::QueryResult;

use crate::apply::{ApplyError, Placement, Plan, Run, phases};
use crate::connection::AnyConnection;

pub(super) const SCRIPT_FRAME: (&str, &str) = ("", "");

pub(super) fn run(
    conn: &mut AnyConnection,
    plan: &Plan,
    run: &mut Run,
    finish: &mut dyn FnMut(&mut AnyConnection) -> QueryResult<()>,
) -> Result<(), ApplyError> {
    let mut alone = plan.clone();
    for step in &mut alone.steps {
        step.placement = Placement::Outside;
    }
    phases::run(conn, &alone, run, finish)
}
