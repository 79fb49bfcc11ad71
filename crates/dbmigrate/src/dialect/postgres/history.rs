//! The history table's `applied_at`, as PostgreSQL stores it.

pub(super) const APPLIED_AT: &str = "TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP";
