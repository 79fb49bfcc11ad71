//! Creating and dropping whole databases on a PostgreSQL or MySQL server, through a
//! maintenance connection to the same server.

use diesel::QueryableByName;
use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::{RunQueryDsl, sql_query};

use crate::connection::{AnyConnection, ConnectError, connect};
use crate::url::{DatabaseUrl, Dialect};

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

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// A connection to the server of `url` that does not need `url`'s database to exist.
fn maintenance_connection(url: &DatabaseUrl) -> Result<AnyConnection, AdminError> {
    let candidates: &[&str] = match url.dialect() {
        Dialect::Postgres => &["postgres", "template1"],
        Dialect::Mysql => &["information_schema"],
        Dialect::Sqlite => {
            return Err(AdminError::Sqlite { url: url.masked() });
        }
    };
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
    let query = match url.dialect() {
        Dialect::Postgres => "SELECT COUNT(*) AS n FROM pg_database WHERE datname = $1",
        _ => "SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
    };
    let counts: Vec<Count> = sql_query(query)
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
    let dialect = url.dialect();
    let statement = match dialect {
        Dialect::Postgres => format!("CREATE DATABASE {} ENCODING 'UTF8'", dialect.quote(&name)),
        _ => format!(
            "CREATE DATABASE {} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            dialect.quote(&name)
        ),
    };
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
    let dialect = url.dialect();
    let statement = match dialect {
        Dialect::Postgres => format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            dialect.quote(&name)
        ),
        _ => format!("DROP DATABASE IF EXISTS {}", dialect.quote(&name)),
    };
    maintenance_connection(url)?
        .batch_execute(&statement)
        .map_err(|cause| AdminError::Statement {
            action: "drop",
            name,
            url: url.masked(),
            cause,
        })
}
