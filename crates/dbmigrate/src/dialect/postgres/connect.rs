//! A PostgreSQL connection in UTC, without NOTICE chatter.

use diesel::connection::SimpleConnection;
use diesel::{Connection, ConnectionError, PgConnection};

use crate::connection::{AnyConnection, ConnectError, server_connect_error};
use crate::url::DatabaseUrl;

pub(super) fn connect(url: &DatabaseUrl) -> Result<AnyConnection, ConnectError> {
    PgConnection::establish(&url.driver_string())
        .and_then(|mut c| {
            c.batch_execute("SET TIME ZONE 'UTC'; SET client_min_messages = WARNING;")
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
            Ok(AnyConnection::Postgresql(c))
        })
        .map_err(|e| server_connect_error(url, &e))
}
