//! Constraint violations, read out of each database's error report into one typed value,
//! so that callers match on a table, columns and constraint instead of parsing messages.

use diesel::result::{DatabaseErrorInformation, Error};

use crate::schema::Schema;
use crate::url::Dialect;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConstraintViolation {
    /// A value already present in a unique index or constraint.
    Unique {
        table: String,
        columns: Vec<String>,
        constraint: String,
    },
    /// A reference to a missing row, or the removal of a row still referenced.
    /// SQLite does not say which key; the fields are then `None`.
    ForeignKey {
        table: Option<String>,
        constraint: Option<String>,
    },
    /// NULL written to a NOT NULL column.
    NotNull {
        table: Option<String>,
        column: Option<String>,
    },
}

impl std::fmt::Display for ConstraintViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConstraintViolation::Unique {
                table,
                columns,
                constraint,
            } => write!(
                f,
                "{table}.{} must be unique and that value is already taken ({constraint})",
                columns.join(", ")
            ),
            ConstraintViolation::ForeignKey { table, constraint } => {
                write!(f, "a foreign key would not hold")?;
                if let Some(table) = table {
                    write!(f, " on {table}")?;
                }
                if let Some(constraint) = constraint {
                    write!(f, " ({constraint})")?;
                }
                write!(
                    f,
                    ": a referenced row is missing, or a row to delete is still referenced"
                )
            }
            ConstraintViolation::NotNull { table, column } => write!(
                f,
                "{}.{} cannot be empty (NULL)",
                table.as_deref().unwrap_or("?"),
                column.as_deref().unwrap_or("?")
            ),
        }
    }
}

/// The violation an error of a `dialect` connection reports, if it reports one. `schema`
/// maps constraint names to columns and back, since each database names only one of the
/// two (each dialect's `errors.rs`).
pub fn constraint_violation(
    dialect: Dialect,
    error: &Error,
    schema: &Schema,
) -> Option<ConstraintViolation> {
    let Error::DatabaseError(kind, info) = error else {
        return None;
    };
    dialect
        .sql()
        .constraint_violation(kind, info.as_ref(), schema)
}

/// A unique violation known by its constraint's name: the table and columns come from the
/// schema, else from what the error says.
pub(crate) fn unique_by_constraint(
    info: &(dyn DatabaseErrorInformation + Send + Sync),
    constraint: &str,
    schema: &Schema,
) -> ConstraintViolation {
    let owner = schema.tables.iter().find(|t| {
        info.table_name().is_none_or(|name| name == t.name)
            && t.unique_columns(constraint).is_some()
    });
    ConstraintViolation::Unique {
        table: owner
            .map(|t| t.name.clone())
            .or_else(|| info.table_name().map(str::to_string))
            .unwrap_or_default(),
        columns: owner
            .and_then(|t| t.unique_columns(constraint))
            .map(<[String]>::to_vec)
            .or_else(|| info.column_name().map(|c| vec![c.to_string()]))
            .unwrap_or_default(),
        constraint: constraint.to_string(),
    }
}

/// The name quoted (by `'`, `` ` `` or `"`) right after `marker` in `message`.
pub(crate) fn quoted_after(message: &str, marker: &str) -> Option<String> {
    let rest = &message[message.find(marker)? + marker.len()..];
    let quote = rest
        .chars()
        .next()
        .filter(|c| matches!(c, '\'' | '`' | '"'))?;
    let inner = &rest[1..];
    Some(inner[..inner.find(quote)?].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_name_is_found_after_its_marker() {
        assert_eq!(
            quoted_after(
                "Duplicate entry 'john' for key 'ix_user_username'",
                "for key "
            ),
            Some("ix_user_username".into())
        );
        assert_eq!(
            quoted_after(
                "Cannot add or update a child row: a foreign key constraint fails (`t`.`post`, CONSTRAINT `fk_post_user_id_user` FOREIGN KEY",
                "CONSTRAINT "
            ),
            Some("fk_post_user_id_user".into())
        );
        assert_eq!(quoted_after("nothing here", "for key "), None);
    }
}
