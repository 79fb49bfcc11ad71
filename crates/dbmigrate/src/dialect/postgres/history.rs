//! The engine's tables as PostgreSQL's own advice has them: TEXT rather than a VARCHAR
//! whose length would ever need changing, times with their zone.

pub(super) const APPLIED_AT: &str = "TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP";
pub(super) const WORD: &str = "TEXT";
