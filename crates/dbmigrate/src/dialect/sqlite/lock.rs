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

/// The migration's connection, in write-ahead logging, commits each revision without
/// waiting for the disk (`synchronous = NORMAL`): a crash or a kill loses nothing, and a
/// power cut can only undo the last revisions whole, schema and history row together, for
/// `db upgrade` to run again; the log reaches the disk when the connection closes. Each
/// revision's sync was a tenth of `db upgrade` of a new database. In rollback-journal mode
/// the setting could corrupt the file on a power cut, so it is left as it is there.
pub(super) fn commit_without_syncing_each_revision(conn: &mut AnyConnection) {
    use diesel::RunQueryDsl;
    use diesel::connection::SimpleConnection;
    #[derive(diesel::QueryableByName)]
    struct Mode {
        #[diesel(sql_type = diesel::sql_types::Text)]
        journal_mode: String,
    }
    let mode = diesel::sql_query("PRAGMA journal_mode").get_result::<Mode>(conn);
    if mode.is_ok_and(|m| m.journal_mode.eq_ignore_ascii_case("wal")) {
        let _ = conn.batch_execute("PRAGMA synchronous = NORMAL");
    }
}
