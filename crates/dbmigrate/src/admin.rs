//! Creating and dropping whole databases on a server, through a maintenance connection to
//! the same server; the statements are each dialect's (`dialect/<database>/admin.rs`).

use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{RunQueryDsl, sql_query};

use crate::connection::{AnyConnection, ConnectError, connect};
use crate::url::DatabaseUrl;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("{url} is a SQLite database: it is a file, created when first opened")]
    Sqlite { url: String },
    #[error("cannot {action} the database '{name}' on {url}: {cause}")]
    Statement {
        action: &'static str,
        name: String,
        url: String,
        cause: diesel::result::Error,
    },
}

/// A connection to the server of `url` that does not need `url`'s database to exist.
fn maintenance_connection(url: &DatabaseUrl) -> Result<AnyConnection, AdminError> {
    let candidates = url.dialect().sql().maintenance_databases();
    if candidates.is_empty() {
        return Err(AdminError::Sqlite { url: url.masked() });
    }
    let mut last_error = None;
    for name in candidates {
        match connect(&url.with_database_name(name)) {
            Ok(conn) => return Ok(conn),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.expect("at least one candidate").into())
}

/// Whether the database `url` names exists on its server.
pub fn database_exists(url: &DatabaseUrl) -> Result<bool, AdminError> {
    let name = url.database_name().unwrap_or_default();
    let mut conn = maintenance_connection(url)?;
    let statement_error = |cause| AdminError::Statement {
        action: "look up",
        name: name.clone(),
        url: url.masked(),
        cause,
    };
    let counts: Vec<crate::inspect::Count> = sql_query(url.dialect().sql().database_exists_query())
        .bind::<Text, _>(&name)
        .load(&mut conn)
        .map_err(statement_error)?;
    Ok(counts.first().is_some_and(|c| c.n > 0))
}

/// Creates the database `url` names; `Ok(false)` when it already existed.
pub fn create_database(url: &DatabaseUrl) -> Result<bool, AdminError> {
    if database_exists(url)? {
        return Ok(false);
    }
    let name = url.database_name().unwrap_or_default();
    let statement = url.dialect().sql().create_database(&name);
    maintenance_connection(url)?
        .batch_execute(&statement)
        .map_err(|cause| AdminError::Statement {
            action: "create",
            name,
            url: url.masked(),
            cause,
        })?;
    Ok(true)
}

/// Drops the database `url` names, closing other sessions on it first (PostgreSQL).
pub fn drop_database(url: &DatabaseUrl) -> Result<(), AdminError> {
    let name = url.database_name().unwrap_or_default();
    let statement = url.dialect().sql().drop_database(&name);
    maintenance_connection(url)?
        .batch_execute(&statement)
        .map_err(|cause| AdminError::Statement {
            action: "drop",
            name,
            url: url.masked(),
            cause,
        })
}
