//! SQLite's constraint errors name the columns (`UNIQUE constraint failed: user.username`)
//! but not the constraint, and never say which foreign key failed.

use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind};

use crate::schema::Schema;
use crate::violation::ConstraintViolation;

pub(super) fn constraint_violation(
    kind: &DatabaseErrorKind,
    info: &(dyn DatabaseErrorInformation + Send + Sync),
    schema: &Schema,
) -> Option<ConstraintViolation> {
    let message = info.message();
    match kind {
        DatabaseErrorKind::UniqueViolation => {
            let list = message.strip_prefix("UNIQUE constraint failed: ")?;
            let pairs: Vec<(&str, &str)> = list
                .split(", ")
                .filter_map(|qualified| qualified.split_once('.'))
                .collect();
            let table = pairs.first().map_or("", |(t, _)| *t).to_string();
            let columns: Vec<String> = pairs.iter().map(|(_, c)| c.to_string()).collect();
            let constraint = schema
                .table(&table)
                .and_then(|t| t.unique_over(&columns))
                .map_or_else(
                    || format!("uq_{table}_{}", columns.join("_")),
                    str::to_string,
                );
            Some(ConstraintViolation::Unique {
                table,
                columns,
                constraint,
            })
        }
        DatabaseErrorKind::ForeignKeyViolation => Some(ConstraintViolation::ForeignKey {
            table: None,
            constraint: None,
        }),
        DatabaseErrorKind::NotNullViolation => {
            let (table, column) = message
                .strip_prefix("NOT NULL constraint failed: ")
                .and_then(|q| q.split_once('.'))?;
            Some(ConstraintViolation::NotNull {
                table: Some(table.to_string()),
                column: Some(column.to_string()),
            })
        }
        _ => None,
    }
}
