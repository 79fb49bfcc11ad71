//! A SQLite file, opened with foreign keys enforced (SQLite leaves them off by default) and
//! a busy timeout (`Timeouts::wait`), so that a writer waits for another instead of
//! failing at once.

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
    let mut conn = SqliteConnection::establish(&url.driver_string())
        .map_err(|e| fail(connection_message(&e)))?;
    conn.batch_execute(&format!(
        "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {};",
        timeouts.wait.as_millis()
    ))
    .map_err(|e| fail(e.to_string()))?;
    Ok(AnyConnection::Sqlite(conn))
}
