//! The history table's `applied_at`, as SQLite stores it.

pub(super) const APPLIED_AT: &str = "TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP";
