//! One connection type for the three databases, chosen at run time by the URL.

use std::time::Duration;

use diesel::ConnectionError;
use diesel::mysql::MysqlConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;

use crate::url::{DatabaseUrl, Dialect};

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
    /// The server did not answer within the time allowed.
    TimedOut(Duration),
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
            ConnectFailure::TimedOut(waited) => format!(
                "the database server of {url} did not answer within {} s; \
                 check that it is running and reachable (a firewall that drops packets, or a \
                 server that is stopped or overloaded, looks like this)",
                waited.as_secs_f64()
            ),
            ConnectFailure::Other => format!("cannot connect to {url}: {detail}"),
        }
    }
}

/// How long a connection may wait on its database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// The longest to wait to connect to a server, or for another connection's lock on a
    /// SQLite file.
    pub wait: Duration,
    /// The longest one statement may run on a server; `None` for no limit (a migration
    /// may rightly take long).
    pub statement: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            wait: Duration::from_secs(10),
            statement: None,
        }
    }
}

/// Opens a connection and sets it up the way applications rely on: foreign keys enforced
/// on SQLite, UTC and strict modes on the servers (each dialect's `connect.rs`), waiting
/// at most ten seconds for a server or a lock.
pub fn connect(url: &DatabaseUrl) -> Result<AnyConnection, ConnectError> {
    connect_with(url, Timeouts::default())
}

/// [`connect`], with the given timeouts. A server that accepts the connection and then
/// says nothing is given up on after `timeouts.wait`, whatever its driver would do.
pub fn connect_with(url: &DatabaseUrl, timeouts: Timeouts) -> Result<AnyConnection, ConnectError> {
    if url.dialect() == Dialect::Sqlite {
        return url.dialect().sql().connect(url, timeouts);
    }
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    let connecting = url.clone();
    // The drivers' own connect timeouts do not cover every stage of every driver's
    // handshake; a thread that is given up on ends when its driver does.
    let started = std::thread::Builder::new()
        .name("connect".into())
        .spawn(move || {
            let _ = sender.send(connecting.dialect().sql().connect(&connecting, timeouts));
        });
    if started.is_err() {
        return url.dialect().sql().connect(url, timeouts);
    }
    receiver.recv_timeout(timeouts.wait).unwrap_or_else(|_| {
        Err(ConnectError {
            url: url.masked(),
            failure: ConnectFailure::TimedOut(timeouts.wait),
            detail: String::new(),
        })
    })
}

/// A server's refusal, classified by its dialect so that the message can say what to do.
pub(crate) fn server_connect_error(url: &DatabaseUrl, error: &ConnectionError) -> ConnectError {
    let message = connection_message(error);
    let database = url.database_name().unwrap_or_default();
    ConnectError {
        url: url.masked(),
        failure: url.dialect().sql().connect_failure(&message, &database),
        detail: message.trim().to_string(),
    }
}

pub(crate) fn connection_message(error: &ConnectionError) -> String {
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

/// An insert that gives back the key the database assigned, whichever database it is
/// (each dialect's `insert.rs`). For generated code:
/// `insert_returning_key!(conn, table, key_column, values, KeyType, SqlType)`.
#[doc(hidden)]
#[macro_export]
macro_rules! insert_returning_key {
    ($conn:expr, $table:path, $key:path, $values:expr, $ty:ty, $sql:ident) => {{
        use $crate::diesel::prelude::*;
        match $conn {
            $crate::AnyConnection::Sqlite(c) => {
                $crate::__insert_returning_key_sqlite!(c, $table, $key, $values, $ty)
            }
            $crate::AnyConnection::Postgresql(c) => {
                $crate::__insert_returning_key_postgres!(c, $table, $key, $values, $ty)
            }
            $crate::AnyConnection::Mysql(c) => {
                $crate::__insert_returning_key_mysql!(c, $table, $key, $values, $ty, $sql)
            }
        }
    }};
}
