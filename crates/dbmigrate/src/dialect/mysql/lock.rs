//! A named lock, `GET_LOCK`, named after the database since its names are server-wide; it
//! also ends with the connection, so a crash never leaves it behind.

use diesel::sql_types::{BigInt, Nullable};
use diesel::{QueryResult, QueryableByName, RunQueryDsl, sql_query};

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
