//! A SQLite database is a file, created when first opened: there is no server to ask.

pub(super) const MAINTENANCE_DATABASES: &[&str] = &[];
pub(super) const EXISTS: &str = "";
pub(super) const NO_STATEMENT: &str = "";
