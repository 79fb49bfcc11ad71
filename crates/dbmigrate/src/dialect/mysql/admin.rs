//! Whole databases on a MySQL or MariaDB server; new ones in utf8mb4 with a binary
//! collation, as the tables are.

use super::Mysql;
use crate::dialect::SqlDialect;

pub(super) const MAINTENANCE_DATABASES: &[&str] = &["information_schema"];
pub(super) const EXISTS: &str =
    "SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?";

pub(super) fn create_database(d: &Mysql, name: &str) -> String {
    format!(
        "CREATE DATABASE {} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        d.quote(name)
    )
}

pub(super) fn drop_database(d: &Mysql, name: &str) -> String {
    format!("DROP DATABASE IF EXISTS {}", d.quote(name))
}
