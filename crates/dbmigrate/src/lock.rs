//! The migration lock: while one process changes a database's schema, another waits, then
//! reads the history afresh, so that no revision is ever applied twice.
//!
//! PostgreSQL: a session advisory lock (scoped to the database). MySQL: a named lock,
//! `GET_LOCK`, named after the database since its names are server-wide. SQLite: an
//! advisory lock (flock) on the database file itself; SQLite's own locks are POSIX record
//! locks, which flock does not touch, so readers and writers go on as usual and only
//! another migration waits. Each revision then runs in its own write transaction.

use std::fs::{File, TryLockError};

use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Bool, Nullable};
use diesel::{QueryResult, QueryableByName, RunQueryDsl, sql_query};

use crate::connection::AnyConnection;
use crate::url::{DatabaseUrl, SqliteLocation};

/// The PostgreSQL advisory lock key: "dbmigrat" in ASCII.
const ADVISORY_KEY: i64 = 0x6462_6d69_6772_6174;
/// How long one MySQL GET_LOCK call waits before asking again.
const MYSQL_WAIT_SECONDS: i64 = 5;

#[must_use = "the lock is held until released"]
pub enum MigrationLock {
    Server(ServerLock),
    File(File),
    /// An in-memory SQLite database: no other process can reach it.
    NotNeeded,
}

pub enum ServerLock {
    Postgres,
    Mysql(String),
}

#[derive(QueryableByName)]
struct Taken {
    #[diesel(sql_type = Bool)]
    taken: bool,
}

#[derive(QueryableByName)]
struct MysqlTaken {
    #[diesel(sql_type = Nullable<BigInt>)]
    taken: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot take the migration lock: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("cannot take the migration lock on {path}: {cause}")]
    File { path: String, cause: std::io::Error },
}

impl MigrationLock {
    /// Takes the lock for the database `url` names; calls `waiting` once if another process
    /// holds it, then waits for it.
    pub fn acquire(
        conn: &mut AnyConnection,
        url: &DatabaseUrl,
        waiting: impl FnOnce(),
    ) -> Result<MigrationLock, LockError> {
        match (conn, url) {
            (_, DatabaseUrl::Sqlite(SqliteLocation::Memory)) => Ok(MigrationLock::NotNeeded),
            (_, DatabaseUrl::Sqlite(SqliteLocation::File(path))) => {
                let file_error = |cause| LockError::File {
                    path: path.display().to_string(),
                    cause,
                };
                let file = File::open(path).map_err(file_error)?;
                match file.try_lock() {
                    Ok(()) => {}
                    Err(TryLockError::WouldBlock) => {
                        waiting();
                        file.lock().map_err(file_error)?;
                    }
                    Err(TryLockError::Error(cause)) => return Err(file_error(cause)),
                }
                Ok(MigrationLock::File(file))
            }
            (conn @ AnyConnection::Postgresql(_), _) => {
                let try_lock = format!("SELECT pg_try_advisory_lock({ADVISORY_KEY}) AS taken");
                if !sql_query(try_lock).get_result::<Taken>(conn)?.taken {
                    waiting();
                    conn.batch_execute(&format!("SELECT pg_advisory_lock({ADVISORY_KEY})"))?;
                }
                Ok(MigrationLock::Server(ServerLock::Postgres))
            }
            (conn, url) => {
                let name = format!(
                    "dbmigrate.{}",
                    url.database_name().unwrap_or_default().replace('\'', "")
                );
                let get_lock = |conn: &mut AnyConnection, seconds: i64| -> QueryResult<bool> {
                    let taken: MysqlTaken =
                        sql_query(format!("SELECT GET_LOCK('{name}', {seconds}) AS taken"))
                            .get_result(conn)?;
                    Ok(taken.taken == Some(1))
                };
                if !get_lock(conn, 0)? {
                    waiting();
                    while !get_lock(conn, MYSQL_WAIT_SECONDS)? {}
                }
                Ok(MigrationLock::Server(ServerLock::Mysql(name)))
            }
        }
    }

    /// Gives the lock back. A server lock also ends with the connection, and a file lock
    /// with the process, so a crash never leaves one behind.
    pub fn release(self, conn: &mut AnyConnection) -> QueryResult<()> {
        match self {
            MigrationLock::Server(ServerLock::Postgres) => {
                conn.batch_execute(&format!("SELECT pg_advisory_unlock({ADVISORY_KEY})"))?;
            }
            MigrationLock::Server(ServerLock::Mysql(name)) => {
                sql_query(format!("SELECT RELEASE_LOCK('{name}') AS taken"))
                    .get_result::<MysqlTaken>(conn)?;
            }
            MigrationLock::File(file) => drop(file.unlock()),
            MigrationLock::NotNeeded => {}
        }
        Ok(())
    }
}
