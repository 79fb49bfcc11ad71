//! PostgreSQL names the table and the constraint of a violation, not always the columns.

use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind};

use crate::connection::ConnectFailure;
use crate::schema::Schema;
use crate::violation::{ConstraintViolation, unique_by_constraint};

pub(super) fn constraint_violation(
    kind: &DatabaseErrorKind,
    info: &(dyn DatabaseErrorInformation + Send + Sync),
    schema: &Schema,
) -> Option<ConstraintViolation> {
    match kind {
        DatabaseErrorKind::UniqueViolation => Some(unique_by_constraint(
            info,
            info.constraint_name().unwrap_or_default(),
            schema,
        )),
        DatabaseErrorKind::ForeignKeyViolation => Some(ConstraintViolation::ForeignKey {
            table: info.table_name().map(str::to_string),
            constraint: info.constraint_name().map(str::to_string),
        }),
        DatabaseErrorKind::NotNullViolation => Some(ConstraintViolation::NotNull {
            table: info.table_name().map(str::to_string),
            column: info.column_name().map(str::to_string),
        }),
        _ => None,
    }
}

/// libpq's messages at connect time.
pub(super) fn connect_failure(message: &str, database: &str) -> ConnectFailure {
    let lower = message.to_ascii_lowercase();
    if lower.contains("database") && lower.contains("does not exist") {
        ConnectFailure::DatabaseMissing(database.to_string())
    } else if lower.contains("password authentication failed")
        || lower.contains("role") && lower.contains("does not exist")
        || lower.contains("no password supplied")
        || lower.contains("no pg_hba.conf entry")
    {
        ConnectFailure::AccessDenied
    } else if lower.contains("connection refused")
        || lower.contains("could not translate host name")
        || lower.contains("timeout expired")
        || lower.contains("no such file or directory")
        || lower.contains("name or service not known")
    {
        ConnectFailure::Unreachable
    } else {
        ConnectFailure::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_messages_are_classified() {
        let missing = "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  database \"nope\" does not exist";
        assert_eq!(
            connect_failure(missing, "nope"),
            ConnectFailure::DatabaseMissing("nope".into())
        );
        assert_eq!(
            connect_failure(
                "connection to server at \"127.0.0.1\", port 1 failed: Connection refused Is the server running",
                ""
            ),
            ConnectFailure::Unreachable
        );
        assert_eq!(
            connect_failure("FATAL:  password authentication failed for user \"x\"", ""),
            ConnectFailure::AccessDenied
        );
    }
}
