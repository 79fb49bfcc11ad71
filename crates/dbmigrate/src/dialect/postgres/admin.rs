//! Whole databases on a PostgreSQL server, through its maintenance databases.

use super::Postgres;
use crate::dialect::SqlDialect;

pub(super) const MAINTENANCE_DATABASES: &[&str] = &["postgres", "template1"];
pub(super) const EXISTS: &str = "SELECT COUNT(*) AS n FROM pg_database WHERE datname = $1";

pub(super) fn create_database(d: &Postgres, name: &str) -> String {
    format!("CREATE DATABASE {} ENCODING 'UTF8'", d.quote(name))
}

/// Other sessions on it are closed first.
pub(super) fn drop_database(d: &Postgres, name: &str) -> String {
    format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", d.quote(name))
}
