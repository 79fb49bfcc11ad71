//! The migration lock: while one process changes a database's schema, another waits, then
//! reads the history afresh, so that no revision is ever applied twice. Each database takes
//! it its own way (`dialect/<database>/lock.rs`): an advisory lock on PostgreSQL, a named
//! lock on MySQL, an flock on the SQLite file. Every kind also ends with the connection or
//! the process, so a crash never leaves one behind.

use diesel::QueryResult;

use crate::connection::AnyConnection;
use crate::url::DatabaseUrl;

/// A lock a dialect took, to give back.
pub trait Held: Send {
    fn release(self: Box<Self>, conn: &mut AnyConnection) -> QueryResult<()>;
}

#[must_use = "the lock is held until released"]
pub struct MigrationLock(Box<dyn Held>);

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot take the migration lock: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("cannot take the migration lock on {path}: {cause}")]
    File { path: String, cause: std::io::Error },
}

impl MigrationLock {
    pub fn new(held: impl Held + 'static) -> Self {
        MigrationLock(Box::new(held))
    }

    /// Takes the lock for the database `url` names; calls `waiting` once if another process
    /// holds it, then waits for it.
    pub fn acquire(
        conn: &mut AnyConnection,
        url: &DatabaseUrl,
        waiting: impl FnOnce(),
    ) -> Result<MigrationLock, LockError> {
        let mut waiting = Some(waiting);
        let mut once = || {
            if let Some(waiting) = waiting.take() {
                waiting();
            }
        };
        conn.dialect().sql().lock(conn, url, &mut once)
    }

    pub fn release(self, conn: &mut AnyConnection) -> QueryResult<()> {
        self.0.release(conn)
    }
}
