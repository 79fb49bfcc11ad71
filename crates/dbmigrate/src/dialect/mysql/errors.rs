//! MySQL names only the key of a unique violation (`… for key 'user.ix_user_username'`)
//! and the constraint of a foreign key one, in its messages.

use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind};

use crate::connection::ConnectFailure;
use crate::schema::Schema;
use crate::violation::{ConstraintViolation, quoted_after, unique_by_constraint};

pub(super) fn constraint_violation(
    kind: &DatabaseErrorKind,
    info: &(dyn DatabaseErrorInformation + Send + Sync),
    schema: &Schema,
) -> Option<ConstraintViolation> {
    let message = info.message();
    match kind {
        DatabaseErrorKind::UniqueViolation => {
            let key = quoted_after(message, "for key ").unwrap_or_default();
            let constraint = key.rsplit('.').next().unwrap_or(&key).to_string();
            Some(unique_by_constraint(info, &constraint, schema))
        }
        DatabaseErrorKind::ForeignKeyViolation => Some(ConstraintViolation::ForeignKey {
            table: info.table_name().map(str::to_string),
            constraint: quoted_after(message, "CONSTRAINT "),
        }),
        _ if message.starts_with("Column '") && message.ends_with("' cannot be null") => {
            Some(ConstraintViolation::NotNull {
                table: None,
                column: quoted_after(message, "Column "),
            })
        }
        DatabaseErrorKind::NotNullViolation => Some(ConstraintViolation::NotNull {
            table: info.table_name().map(str::to_string),
            column: quoted_after(message, "column "),
        }),
        _ => None,
    }
}

/// libmariadb's messages at connect time.
pub(super) fn connect_failure(message: &str, database: &str) -> ConnectFailure {
    let lower = message.to_ascii_lowercase();
    if lower.contains("unknown database") {
        ConnectFailure::DatabaseMissing(database.to_string())
    } else if lower.contains("access denied") {
        ConnectFailure::AccessDenied
    } else if lower.contains("can't connect")
        || lower.contains("unknown server host")
        || lower.contains("connection refused")
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
    fn libmariadb_messages_are_classified() {
        assert_eq!(
            connect_failure("Unknown database 'nope'", "nope"),
            ConnectFailure::DatabaseMissing("nope".into())
        );
        assert_eq!(
            connect_failure(
                "Access denied for user 'x'@'localhost' (using password: YES)",
                ""
            ),
            ConnectFailure::AccessDenied
        );
        assert_eq!(
            connect_failure("Can't connect to server on '127.0.0.1' (111)", ""),
            ConnectFailure::Unreachable
        );
    }
}
