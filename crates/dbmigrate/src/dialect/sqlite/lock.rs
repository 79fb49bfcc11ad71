//! An advisory lock (flock) on the database file itself. SQLite's own locks are POSIX
//! record locks, which flock does not touch, so readers and writers go on as usual and only
//! another migration waits. Each revision then runs in its own write transaction.

use std::fs::{File, TryLockError};

use crate::connection::AnyConnection;
use crate::lock::{Held, LockError, MigrationLock};
use crate::url::{DatabaseUrl, SqliteLocation};

struct FileLock(File);

impl Held for FileLock {
    fn release(self: Box<Self>, _: &mut AnyConnection) -> diesel::QueryResult<()> {
        drop(self.0.unlock());
        Ok(())
    }
}

/// An in-memory database: no other process can reach it.
struct Alone;

impl Held for Alone {
    fn release(self: Box<Self>, _: &mut AnyConnection) -> diesel::QueryResult<()> {
        Ok(())
    }
}

pub(super) fn lock(
    url: &DatabaseUrl,
    waiting: &mut dyn FnMut(),
) -> Result<MigrationLock, LockError> {
    let DatabaseUrl::Sqlite(SqliteLocation::File(path)) = url else {
        return Ok(MigrationLock::new(Alone));
    };
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
    Ok(MigrationLock::new(FileLock(file)))
}
