//! A MySQL connection in UTC and in strict mode, so that a value too long or of the wrong
//! kind is refused rather than cut or changed.

use diesel::connection::SimpleConnection;
use diesel::{Connection, ConnectionError, MysqlConnection};

use crate::connection::{AnyConnection, ConnectError, server_connect_error};
use crate::url::DatabaseUrl;

pub(super) fn connect(url: &DatabaseUrl) -> Result<AnyConnection, ConnectError> {
    MysqlConnection::establish(&url.driver_string())
        .and_then(|mut c| {
            c.batch_execute(
                "SET time_zone = '+00:00', \
                 sql_mode = CONCAT_WS(',', NULLIF(@@sql_mode, ''), 'STRICT_ALL_TABLES')",
            )
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
            Ok(AnyConnection::Mysql(c))
        })
        .map_err(|e| server_connect_error(url, &e))
}
