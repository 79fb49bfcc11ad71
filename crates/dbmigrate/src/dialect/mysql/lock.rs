//! The migration lock: a named lock, `GET_LOCK`, named after the database since its names
//! are server-wide; it also ends with the connection, so a crash never leaves it behind.
//! And the table locks a migration waits for: `lock_wait_timeout` on metadata locks (what
//! ALTER TABLE waits for, and the site's queries queue behind), `innodb_lock_wait_timeout`
//! on rows.

use diesel::sql_types::{BigInt, Nullable};
use diesel::{QueryResult, QueryableByName, RunQueryDsl, sql_query};

use crate::apply::{LockHolder, LockPolicy, TableLock};
use crate::connection::AnyConnection;
use crate::lock::{Held, LockError, MigrationLock};
use crate::url::DatabaseUrl;

/// How long one GET_LOCK call waits before asking again.
const WAIT_SECONDS: i64 = 5;

#[derive(QueryableByName)]
struct Taken {
    #[diesel(sql_type = Nullable<BigInt>)]
    taken: Option<i64>,
}

struct NamedLock(String);

impl Held for NamedLock {
    fn release(self: Box<Self>, conn: &mut AnyConnection) -> QueryResult<()> {
        sql_query(format!("SELECT RELEASE_LOCK('{}') AS taken", self.0))
            .get_result::<Taken>(conn)
            .map(drop)
    }
}

pub(super) fn lock(
    conn: &mut AnyConnection,
    url: &DatabaseUrl,
    waiting: &mut dyn FnMut(),
) -> Result<MigrationLock, LockError> {
    let name = format!(
        "dbmigrate.{}",
        url.database_name().unwrap_or_default().replace('\'', "")
    );
    let get_lock = |conn: &mut AnyConnection, seconds: i64| -> QueryResult<bool> {
        let taken: Taken =
            sql_query(format!("SELECT GET_LOCK('{name}', {seconds}) AS taken")).get_result(conn)?;
        Ok(taken.taken == Some(1))
    };
    if !get_lock(conn, 0)? {
        waiting();
        while !get_lock(conn, WAIT_SECONDS)? {}
    }
    Ok(MigrationLock::new(NamedLock(name)))
}

/// A migration's session: statements wait at most the policy's timeout for a table's or a
/// row's lock, in the whole seconds MySQL counts (a year, its own default, for no limit).
pub(super) fn wait_setup(policy: &LockPolicy) -> String {
    let seconds = match policy.timeout.as_secs_f64().ceil() as u64 {
        0 => 31_536_000,
        n => n,
    };
    format!(
        "SET SESSION lock_wait_timeout = {seconds};\nSET SESSION innodb_lock_wait_timeout = {seconds};"
    )
}

/// MySQL keeps no list of who holds a table's metadata lock unless performance_schema
/// watches it (off by default on MariaDB), so none is known before a try; after one timed
/// out, the sessions with a transaction open are those that may hold it.
pub(super) fn holders(
    conn: &mut AnyConnection,
    locks: &[TableLock],
    after_timeout: bool,
) -> QueryResult<Vec<LockHolder>> {
    let Some(table) = locks
        .first()
        .map(|l| l.table.clone())
        .filter(|_| after_timeout)
    else {
        return Ok(Vec::new());
    };
    let open: Vec<LockHolder> = sql_query(format!(
        "SELECT CAST(p.ID AS SIGNED) AS pid, CONCAT(p.USER, '@', p.HOST) AS application, \
         CONCAT('open transaction, ', COALESCE(p.COMMAND, '')) AS state, \
         DATE_FORMAT(t.trx_started, '%Y-%m-%d %H:%i:%s') AS since, \
         CAST(TIMESTAMPDIFF(MICROSECOND, t.trx_started, NOW(6)) / 1000000 AS DOUBLE) AS seconds, \
         COALESCE(p.INFO, t.trx_query, '') AS query, '{}' AS table_name \
         FROM information_schema.INNODB_TRX t \
         JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id \
         WHERE p.ID <> CONNECTION_ID() ORDER BY t.trx_started",
        table.replace('\'', "''")
    ))
    .load(conn)?;
    Ok(open)
}
