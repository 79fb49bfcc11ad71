//! PostgreSQL's DDL is transactional: a revision whose steps can share one runs in one
//! transaction with its history row, and a failure leaves the database exactly at the
//! revision before. One with steps that must not run inside it (an index built
//! concurrently, a constraint validated after its lock is let go, a backfill) runs in
//! phases (`apply::phases`). Either way a step that needs a lock the site would queue
//! behind waits for it as `apply::locks` says.

use diesel::connection::SimpleConnection;
use diesel::{Connection, QueryResult};

use crate::apply::{ApplyError, Plan, Run, TableLock, locks, phases, run_all};
use crate::connection::AnyConnection;

pub(super) const SCRIPT_FRAME: (&str, &str) = ("BEGIN;\n", "COMMIT;\n");

pub(super) fn run(
    conn: &mut AnyConnection,
    plan: &Plan,
    run: &mut Run,
    finish: &mut dyn FnMut(&mut AnyConnection) -> QueryResult<()>,
) -> Result<(), ApplyError> {
    if !plan.in_one_transaction() {
        return phases::run(conn, plan, run, finish);
    }
    let locks: Vec<TableLock> = plan.steps.iter().flat_map(|s| s.locks.clone()).collect();
    let policy = run.policy;
    // An earlier revision run in phases may have left the session waiting longer.
    conn.batch_execute(&super::lock::timeout_sql(policy.timeout))?;
    let notify = &mut *run.notify;
    locks::retrying(conn, &policy, &locks, notify, |c| {
        c.transaction(|t| {
            run_all(t, plan, &mut |_| {})?;
            finish(t)?;
            Ok::<_, ApplyError>(())
        })
    })
}
