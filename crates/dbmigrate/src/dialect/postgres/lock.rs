//! The migration lock: a session advisory lock, scoped to the database; it also ends with
//! the connection, so a crash never leaves it behind. And the table locks a migration
//! waits for: `lock_timeout` on every statement, and who holds a lock, from `pg_locks` and
//! `pg_stat_activity`.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::sql_types::{Bool, Double, Text};
use diesel::{QueryableByName, RunQueryDsl, sql_query};

use crate::apply::{LockHolder, LockMode, LockPolicy, TableLock, locks::PATIENCE};
use crate::connection::AnyConnection;
use crate::lock::{Held, LockError, MigrationLock};

/// The advisory lock key: "dbmigrat" in ASCII.
const ADVISORY_KEY: i64 = 0x6462_6d69_6772_6174;

#[derive(QueryableByName)]
struct Taken {
    #[diesel(sql_type = Bool)]
    taken: bool,
}

struct AdvisoryLock;

impl Held for AdvisoryLock {
    fn release(self: Box<Self>, conn: &mut AnyConnection) -> diesel::QueryResult<()> {
        conn.batch_execute(&format!("SELECT pg_advisory_unlock({ADVISORY_KEY})"))
    }
}

pub(super) fn lock(
    conn: &mut AnyConnection,
    waiting: &mut dyn FnMut(),
) -> Result<MigrationLock, LockError> {
    // Asked again and again rather than waited for in one statement: a statement that
    // waits is a transaction, and a `CREATE INDEX CONCURRENTLY` of the migration holding
    // the lock would wait for it to end, which it never would.
    let try_lock = format!("SELECT pg_try_advisory_lock({ADVISORY_KEY}) AS taken");
    let mut told = false;
    while !sql_query(&try_lock).get_result::<Taken>(conn)?.taken {
        if !told {
            waiting();
            told = true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(MigrationLock::new(AdvisoryLock))
}

/// A migration's session: statements wait for locks at most the policy's timeout, and run
/// as long as they need once they have them (a role's own `statement_timeout` would stop
/// an index build partway); and one core is enough for it (an index build or a
/// validation in parallel would take every core from the site it runs beside).
pub(super) fn wait_setup(policy: &LockPolicy) -> String {
    format!(
        "{}\nSET statement_timeout = 0;\n\
         -- One core for the migration; the others stay the site's.\n\
         SET max_parallel_maintenance_workers = 0;\nSET max_parallel_workers_per_gather = 0;",
        timeout_sql(policy.timeout)
    )
}

pub(super) fn timeout_sql(timeout: Duration) -> String {
    match timeout.as_millis() {
        0 => "SET lock_timeout = 0;".to_string(),
        ms if ms % 1000 == 0 => format!("SET lock_timeout = '{}s';", ms / 1000),
        ms => format!("SET lock_timeout = '{ms}ms';"),
    }
}

#[derive(QueryableByName)]
struct Holding {
    #[diesel(embed)]
    holder: LockHolder,
    #[diesel(sql_type = Double)]
    idle_seconds: f64,
    #[diesel(sql_type = Text)]
    mode: String,
}

/// Other sessions holding a lock on the tables of `locks` in a mode that conflicts: all of
/// them after a timeout, else only those in a transaction that has lasted longer than
/// [`PATIENCE`] (or sat idle in it that long), whom a new lock request would queue behind.
pub(super) fn holders(
    conn: &mut AnyConnection,
    locks: &[TableLock],
    after_timeout: bool,
) -> diesel::QueryResult<Vec<LockHolder>> {
    if locks.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<String> = locks
        .iter()
        .map(|l| format!("'{}'", l.table.replace('\'', "''")))
        .collect();
    let rows: Vec<Holding> = sql_query(format!(
        "SELECT a.pid::bigint AS pid, COALESCE(a.application_name, '') AS application, \
         COALESCE(a.state, '') AS state, \
         COALESCE(to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), '') AS since, \
         COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - a.xact_start), 0)::float8 AS seconds, \
         COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - a.state_change), 0)::float8 AS idle_seconds, \
         COALESCE(a.query, '') AS query, c.relname::text AS table_name, l.mode \
         FROM pg_locks l \
         JOIN pg_class c ON c.oid = l.relation \
         JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_backend_pid() \
         AND c.relnamespace = to_regnamespace(current_schema()) \
         AND c.relname IN ({}) \
         ORDER BY a.xact_start, a.pid",
        names.join(", ")
    ))
    .load(conn)?;
    let patience = PATIENCE.as_secs_f64();
    let mut found: Vec<LockHolder> = Vec::new();
    for row in rows {
        let Some(held) = LockMode::from_catalog_name(&row.mode) else {
            continue;
        };
        let holder = row.holder;
        let conflicts = locks
            .iter()
            .any(|l| l.table == holder.table && l.mode.conflicts_with(held));
        let idle_in_transaction = holder.state.starts_with("idle in transaction");
        let long =
            holder.seconds >= patience || idle_in_transaction && row.idle_seconds >= patience;
        let known = found
            .iter()
            .any(|h| h.pid == holder.pid && h.table == holder.table);
        if conflicts && (after_timeout || long) && !known {
            found.push(holder);
        }
    }
    Ok(found)
}
