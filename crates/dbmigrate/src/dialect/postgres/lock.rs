//! A session advisory lock, scoped to the database; it also ends with the connection, so a
//! crash never leaves it behind.

use diesel::connection::SimpleConnection;
use diesel::sql_types::Bool;
use diesel::{QueryableByName, RunQueryDsl, sql_query};

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
    let try_lock = format!("SELECT pg_try_advisory_lock({ADVISORY_KEY}) AS taken");
    if !sql_query(try_lock).get_result::<Taken>(conn)?.taken {
        waiting();
        conn.batch_execute(&format!("SELECT pg_advisory_lock({ADVISORY_KEY})"))?;
    }
    Ok(MigrationLock::new(AdvisoryLock))
}
