//! A SQLite file, opened with foreign keys enforced (SQLite leaves them off by default) and
//! a busy timeout (`Timeouts::wait`), so that a writer waits for another instead of
//! failing at once; a file created by opening it starts with write-ahead logging.

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};

use crate::connection::{
    AnyConnection, ConnectError, ConnectFailure, Timeouts, connection_message,
};
use crate::url::{DatabaseUrl, SqliteLocation};

pub(super) fn connect(
    url: &DatabaseUrl,
    timeouts: Timeouts,
) -> Result<AnyConnection, ConnectError> {
    let fail = |detail: String| ConnectError {
        url: url.masked(),
        failure: ConnectFailure::SqliteUnopenable,
        detail: detail.trim().to_string(),
    };
    if let DatabaseUrl::Sqlite(SqliteLocation::File(path)) = url
        && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Err(fail(format!(
            "the directory {} does not exist",
            dir.display()
        )));
    }
    let creating = matches!(url, DatabaseUrl::Sqlite(SqliteLocation::File(path)) if !path.exists());
    configure_library();
    let mut conn = SqliteConnection::establish(&url.driver_string())
        .map_err(|e| fail(connection_message(&e)))?;
    let mut setup = format!(
        "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {};",
        timeouts.wait.as_millis()
    );
    if creating {
        // A file made here starts with write-ahead logging, the mode a site needs (readers
        // and the writer never wait for each other), and each commit then syncs the disk
        // once instead of three or four times: `db upgrade` of a new database commits once
        // per revision, and took 23.3 ms against 19.7 ms with it (hyperfine, 7 revisions).
        setup.push_str(" PRAGMA journal_mode = WAL;");
    }
    conn.batch_execute(&setup)
        .map_err(|e| fail(e.to_string()))?;
    Ok(AnyConnection::Sqlite(conn))
}

/// The bytes of a statement's journal SQLite keeps in memory before it writes them to a file.
const STATEMENT_JOURNAL_IN_MEMORY: std::ffi::c_int = 16 << 20;

/// Before the first connection: a Diesel connection is never used by two threads at once
/// (it is not `Sync`), so SQLite's own locking of each call is not needed
/// (`SQLITE_CONFIG_MULTITHREAD`), nor its count of memory in use, which takes a lock shared
/// by every connection on each allocation (`SQLITE_CONFIG_MEMSTATUS`). Both showed in
/// profiles of the web server, its threads waiting on each other. A statement's journal
/// (the pages it changed, kept so that a failing statement can be undone alone) stays in
/// memory up to [`STATEMENT_JOURNAL_IN_MEMORY`] instead of SQLite's 64 KiB: a statement
/// inserting many rows changes a page of each index per row, and writing that journal to
/// a file took a third of the time of grouped inserts in a profile of `db seed`. Settings SQLite refuses
/// (the library was already started by other code) leave it as it was, which is correct,
/// only slower.
fn configure_library() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config is called before this process opens any connection
        // through this crate, and with the argument types each option documents (none,
        // and one int).
        unsafe {
            libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MULTITHREAD);
            libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS, 0);
            libsqlite3_sys::sqlite3_config(
                libsqlite3_sys::SQLITE_CONFIG_STMTJRNL_SPILL,
                STATEMENT_JOURNAL_IN_MEMORY,
            );
        }
    });
}
