//! A MySQL connection in UTC and in strict mode, so that a value too long or of the wrong
//! kind is refused rather than cut or changed; when asked, with a statement timeout the
//! server enforces.

use diesel::connection::SimpleConnection;
use diesel::{Connection, ConnectionError, MysqlConnection};

use crate::connection::{AnyConnection, ConnectError, Timeouts, server_connect_error};
use crate::url::DatabaseUrl;

pub(super) fn connect(
    url: &DatabaseUrl,
    timeouts: Timeouts,
) -> Result<AnyConnection, ConnectError> {
    MysqlConnection::establish(&url.driver_string())
        .and_then(|mut c| {
            c.batch_execute(
                "SET time_zone = '+00:00', \
                 sql_mode = CONCAT_WS(',', NULLIF(@@sql_mode, ''), 'STRICT_ALL_TABLES')",
            )
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
            if let Some(limit) = timeouts.statement {
                // MariaDB limits every statement, in seconds; MySQL only SELECTs, in
                // milliseconds, under another name.
                c.batch_execute(&format!(
                    "SET SESSION max_statement_time = {}",
                    limit.as_secs_f64()
                ))
                .or_else(|_| {
                    c.batch_execute(&format!(
                        "SET SESSION max_execution_time = {}",
                        limit.as_millis().max(1)
                    ))
                })
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
            }
            Ok(AnyConnection::Mysql(c))
        })
        .map_err(|e| server_connect_error(url, &e))
}
