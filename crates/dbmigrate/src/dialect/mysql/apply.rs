//! MySQL commits each DDL statement at once: a transaction would promise nothing, so the
//! statements run one by one, each in the best online form the server takes
//! (`online.rs`) and waiting for its lock as `apply::locks` says, and a failure reports
//! exactly which ones took effect. A backfill commits batch by batch.

use diesel::QueryResult;

use super::online;
use crate::apply::{ApplyError, Plan, Run, Work, failure, locks};
use crate::connection::AnyConnection;

pub(super) const SCRIPT_FRAME: (&str, &str) = ("", "");

pub(super) fn run(
    conn: &mut AnyConnection,
    plan: &Plan,
    run: &mut Run,
    finish: &mut dyn FnMut(&mut AnyConnection) -> QueryResult<()>,
) -> Result<(), ApplyError> {
    let policy = run.policy;
    for (position, step) in plan.steps.iter().enumerate() {
        let rolled_back = position == 0;
        match &step.work {
            Work::Backfill(backfill) => backfill
                .run_batched(conn, &policy, run.notify, None, &mut |_, _| Ok(()))
                .map_err(|e| e.at(plan, position, rolled_back))?,
            Work::Sql(sql) => {
                let mut told = Vec::new();
                let result = locks::retrying(conn, &policy, &step.locks, run.notify, |c| {
                    online::execute(c, sql, &mut |notice| told.push(notice))
                        .map_err(|e| failure(plan, position, e, rolled_back))
                });
                for notice in told {
                    (run.notify)(notice);
                }
                result?;
            }
        }
    }
    finish(conn)?;
    Ok(())
}
