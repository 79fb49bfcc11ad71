//! A PostgreSQL connection in UTC, without NOTICE chatter, with libpq's own connect
//! timeout and, when asked, a statement timeout the server enforces.

use diesel::connection::SimpleConnection;
use diesel::{Connection, ConnectionError, PgConnection};

use crate::connection::{AnyConnection, ConnectError, Timeouts, server_connect_error};
use crate::url::DatabaseUrl;

pub(super) fn connect(
    url: &DatabaseUrl,
    timeouts: Timeouts,
) -> Result<AnyConnection, ConnectError> {
    let setup = session_settings(timeouts.statement);
    PgConnection::establish(&with_connect_timeout(&url.driver_string(), timeouts))
        .and_then(|mut c| {
            c.batch_execute(&setup)
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
            Ok(AnyConnection::Postgresql(c))
        })
        .map_err(|e| server_connect_error(url, &e))
}

/// What every connection to PostgreSQL runs first, whichever driver opened it: UTC, no
/// NOTICE chatter, and `statement` as the server's bound on a statement, if given.
pub fn session_settings(statement: Option<std::time::Duration>) -> String {
    let mut setup = String::from("SET TIME ZONE 'UTC'; SET client_min_messages = WARNING;");
    if let Some(limit) = statement {
        setup.push_str(&format!(
            " SET statement_timeout = {};",
            limit.as_millis().max(1)
        ));
    }
    setup
}

/// The URL with libpq's `connect_timeout` (whole seconds, at least 2, as libpq rounds up
/// to), unless the URL sets its own: a second past the wait, so that the caller's deadline
/// (`connect_with`) answers first and libpq's only ends the thread that waited.
fn with_connect_timeout(url: &str, timeouts: Timeouts) -> String {
    if url.contains("connect_timeout=") {
        return url.to_string();
    }
    let seconds = timeouts.wait.as_secs_f64().ceil().max(1.0) as u64 + 1;
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}connect_timeout={seconds}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_connect_timeout_joins_the_url_unless_it_has_one() {
        let timeouts = Timeouts {
            wait: Duration::from_millis(2500),
            statement: None,
        };
        assert_eq!(
            with_connect_timeout("postgres://u@h/db", timeouts),
            "postgres://u@h/db?connect_timeout=4"
        );
        assert_eq!(
            with_connect_timeout("postgres://u@h/db?sslmode=require", timeouts),
            "postgres://u@h/db?sslmode=require&connect_timeout=4"
        );
        assert_eq!(
            with_connect_timeout("postgres://u@h/db?connect_timeout=30", timeouts),
            "postgres://u@h/db?connect_timeout=30"
        );
    }
}
