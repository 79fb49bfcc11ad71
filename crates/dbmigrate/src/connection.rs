//! One connection type for the three databases, chosen at run time by the URL.

use diesel::connection::SimpleConnection;
use diesel::mysql::MysqlConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError};

use crate::url::{DatabaseUrl, Dialect, SqliteLocation};

/// A connection to whichever database the URL names. Diesel queries written once run on any
/// variant; code that needs a database's own SQL matches on the variant.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Mysql(MysqlConnection),
    Sqlite(SqliteConnection),
}

impl AnyConnection {
    pub fn dialect(&self) -> Dialect {
        match self {
            AnyConnection::Postgresql(_) => Dialect::Postgres,
            AnyConnection::Mysql(_) => Dialect::Mysql,
            AnyConnection::Sqlite(_) => Dialect::Sqlite,
        }
    }
}

/// What went wrong when connecting, classified so that the message can say what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectFailure {
    /// Nothing listens at the host and port, or the host is unknown.
    Unreachable,
    /// The server refused the user name or password.
    AccessDenied,
    /// The server is there but the database named in the URL is not.
    DatabaseMissing(String),
    /// A SQLite file that cannot be opened or created (missing directory, permissions).
    SqliteUnopenable,
    Other,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.describe())]
pub struct ConnectError {
    /// The URL, password masked.
    pub url: String,
    pub failure: ConnectFailure,
    /// The driver's own message, password-free.
    pub detail: String,
}

impl ConnectError {
    fn describe(&self) -> String {
        let url = &self.url;
        let detail = &self.detail;
        match &self.failure {
            ConnectFailure::Unreachable => format!(
                "cannot reach the database server of {url}: {detail}; \
                 check that the server is running and that the host and port are right"
            ),
            ConnectFailure::AccessDenied => format!(
                "the database server of {url} refused the user name or password: {detail}; \
                 check the credentials in the URL"
            ),
            ConnectFailure::DatabaseMissing(name) => {
                format!("the database '{name}' of {url} does not exist")
            }
            ConnectFailure::SqliteUnopenable => format!(
                "cannot open the SQLite database {url}: {detail}; \
                 check that its directory exists and is writable"
            ),
            ConnectFailure::Other => format!("cannot connect to {url}: {detail}"),
        }
    }
}

/// Opens a connection and sets it up the way the application relies on: foreign keys
/// enforced on SQLite, UTC and strict modes on the servers.
pub fn connect(url: &DatabaseUrl) -> Result<AnyConnection, ConnectError> {
    let fail = |failure, detail: String| ConnectError {
        url: url.masked(),
        failure,
        detail: detail.trim().to_string(),
    };
    match url {
        DatabaseUrl::Sqlite(location) => {
            if let SqliteLocation::File(path) = location
                && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
                && !dir.is_dir()
            {
                return Err(fail(
                    ConnectFailure::SqliteUnopenable,
                    format!("the directory {} does not exist", dir.display()),
                ));
            }
            let mut conn = SqliteConnection::establish(&url.driver_string())
                .map_err(|e| fail(ConnectFailure::SqliteUnopenable, connection_message(&e)))?;
            conn.batch_execute("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;")
                .map_err(|e| fail(ConnectFailure::SqliteUnopenable, e.to_string()))?;
            Ok(AnyConnection::Sqlite(conn))
        }
        DatabaseUrl::Server { dialect, .. } => {
            let result = match dialect {
                Dialect::Postgres => {
                    PgConnection::establish(&url.driver_string()).and_then(|mut c| {
                        c.batch_execute("SET TIME ZONE 'UTC'; SET client_min_messages = WARNING;")
                            .map_err(ConnectionError::CouldntSetupConfiguration)?;
                        Ok(AnyConnection::Postgresql(c))
                    })
                }
                _ => MysqlConnection::establish(&url.driver_string()).and_then(|mut c| {
                    c.batch_execute(
                        "SET time_zone = '+00:00', \
                         sql_mode = CONCAT_WS(',', NULLIF(@@sql_mode, ''), 'STRICT_ALL_TABLES')",
                    )
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                    Ok(AnyConnection::Mysql(c))
                }),
            };
            result.map_err(|e| {
                let message = connection_message(&e);
                let failure = classify(&message, url.database_name().unwrap_or_default());
                fail(failure, message)
            })
        }
    }
}

fn connection_message(error: &ConnectionError) -> String {
    match error {
        ConnectionError::BadConnection(message) => message.clone(),
        ConnectionError::InvalidConnectionUrl(message) => message.clone(),
        other => other.to_string(),
    }
    .lines()
    .map(str::trim)
    .find(|l| !l.is_empty())
    .unwrap_or_default()
    .to_string()
}

/// Reads the drivers' messages (libpq, libmariadb), which carry no error codes at connect time.
fn classify(message: &str, database: String) -> ConnectFailure {
    let lower = message.to_ascii_lowercase();
    let database_missing = (lower.contains("database") && lower.contains("does not exist"))
        || lower.contains("unknown database");
    if database_missing {
        ConnectFailure::DatabaseMissing(database)
    } else if lower.contains("password authentication failed")
        || lower.contains("access denied")
        || lower.contains("role") && lower.contains("does not exist")
        || lower.contains("no password supplied")
        || lower.contains("no pg_hba.conf entry")
    {
        ConnectFailure::AccessDenied
    } else if lower.contains("connection refused")
        || lower.contains("can't connect")
        || lower.contains("could not translate host name")
        || lower.contains("unknown server host")
        || lower.contains("timeout expired")
        || lower.contains("no such file or directory")
        || lower.contains("name or service not known")
    {
        ConnectFailure::Unreachable
    } else {
        ConnectFailure::Other
    }
}

/// `INSERT … RETURNING key` where the database has it; MySQL reports the key afterwards.
/// For generated code: `insert_returning_key!(conn, table, key_column, values, KeyType, SqlType)`.
#[doc(hidden)]
#[macro_export]
macro_rules! insert_returning_key {
    ($conn:expr, $table:path, $key:path, $values:expr, $ty:ty, $sql:ident) => {{
        use $crate::diesel::prelude::*;
        match $conn {
            $crate::AnyConnection::Sqlite(c) => $crate::diesel::insert_into($table)
                .values($values)
                .returning($key)
                .get_result::<$ty>(c),
            $crate::AnyConnection::Postgresql(c) => $crate::diesel::insert_into($table)
                .values($values)
                .returning($key)
                .get_result::<$ty>(c),
            $crate::AnyConnection::Mysql(c) => {
                $crate::diesel::insert_into($table)
                    .values($values)
                    .execute(c)?;
                $crate::diesel::select($crate::diesel::dsl::sql::<$crate::diesel::sql_types::$sql>(
                    "CAST(LAST_INSERT_ID() AS SIGNED)",
                ))
                .get_result::<$ty>(c)
            }
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_messages_are_classified() {
        let missing = "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  database \"nope\" does not exist";
        assert_eq!(
            classify(missing, "nope".into()),
            ConnectFailure::DatabaseMissing("nope".into())
        );
        assert_eq!(
            classify("Unknown database 'nope'", "nope".into()),
            ConnectFailure::DatabaseMissing("nope".into())
        );
        assert_eq!(
            classify(
                "Access denied for user 'x'@'localhost' (using password: YES)",
                "".into()
            ),
            ConnectFailure::AccessDenied
        );
        assert_eq!(
            classify(
                "connection to server at \"127.0.0.1\", port 1 failed: Connection refused Is the server running",
                "".into()
            ),
            ConnectFailure::Unreachable
        );
        assert_eq!(
            classify("Can't connect to server on '127.0.0.1' (111)", "".into()),
            ConnectFailure::Unreachable
        );
    }
}
