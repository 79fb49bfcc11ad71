//! The history table's `applied_at`, to the microsecond as every timestamp here.

pub(super) const APPLIED_AT: &str = "DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)";
