//! MySQL's spellings (`DATETIME(6)` so that microseconds survive, `LONGBLOB`), MODIFY
//! COLUMN for a new definition, and InnoDB's rules about the indexes foreign keys use.

use super::super::common::{self, rename_column, table};
use super::Mysql;
use crate::dialect::{Dialect, SqlDialect};
use crate::ops::{Op, OpError};
use crate::schema::{ColumnType, ForeignKey, Schema, Table};

/// Binary collation: the same case-sensitive uniqueness and order as the others.
pub(super) const TABLE_OPTIONS: &str = " DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

pub(super) fn type_sql(ty: &ColumnType) -> String {
    match ty {
        ColumnType::Boolean => "BOOL".into(),
        ColumnType::String(None) => "TEXT".into(),
        ColumnType::Time => "TIME(6)".into(),
        // Six digits, so that MySQL gives back the microseconds the others keep.
        ColumnType::DateTime => "DATETIME(6)".into(),
        ColumnType::Binary => "LONGBLOB".into(),
        ColumnType::Enum(values) => format!("ENUM({})", crate::schema::enum_values_sql(values)),
        other => common::type_sql(other),
    }
}

/// In one statement, so that the index the key uses stays and serves the renamed key.
pub(super) fn rename_foreign_key(d: &Mysql, table: &str, from: &str, key: &ForeignKey) -> String {
    format!(
        "ALTER TABLE {} DROP FOREIGN KEY {}, ADD {}",
        d.quote(table),
        d.quote(from),
        Dialect::Mysql.foreign_key_sql(key)
    )
}

pub(super) fn op_statements(
    d: &Mysql,
    op: &Op,
    before: &Schema,
    after: &Schema,
) -> Result<Vec<String>, OpError> {
    let q = |ident: &str| d.quote(ident);
    if let Op::CreateIndex {
        predicate: Some(_), ..
    } = op
    {
        return Err(OpError::NoPartialIndexes("MySQL"));
    }
    Ok(match op {
        Op::AlterColumn {
            table: name,
            column,
            ty,
            nullable,
            set_default,
            drop_default,
            new_name,
            ..
        } => {
            let mut statements = Vec::new();
            if ty.is_some() || nullable.is_some() || set_default.is_some() || *drop_default {
                let final_name = new_name.as_deref().unwrap_or(column);
                let mut definition = table(after, name)
                    .find_column(final_name)
                    .expect("apply checked the column")
                    .clone();
                definition.name = column.clone();
                statements.push(format!(
                    "ALTER TABLE {} MODIFY COLUMN {}",
                    q(name),
                    Dialect::Mysql.column_sql(name, &definition)
                ));
            }
            if let Some(new_name) = new_name {
                statements.push(rename_column(d, name, column, new_name));
            }
            statements
        }
        Op::DropIndex {
            table: name,
            name: index,
            ..
        } => drop_index(table(before, name), table(after, name), index),
        Op::DropUniqueConstraint { table, name } => {
            vec![format!("ALTER TABLE {} DROP INDEX {}", q(table), q(name))]
        }
        Op::SetPrimaryKey {
            table: name,
            columns,
        } => {
            // One statement, so that the table is never without a key for an
            // AUTO_INCREMENT column to need.
            let mut changes = Vec::new();
            if !table(before, name).primary_key.is_empty() {
                changes.push("DROP PRIMARY KEY".to_string());
            }
            if !columns.is_empty() {
                changes.push(format!(
                    "ADD PRIMARY KEY ({})",
                    d.dialect().quote_list(columns)
                ));
            }
            vec![format!("ALTER TABLE {} {}", q(name), changes.join(", "))]
        }
        Op::DropForeignKey {
            table: name,
            name: key,
        } => {
            let mut statements = vec![format!(
                "ALTER TABLE {} DROP FOREIGN KEY {}",
                q(name),
                q(key)
            )];
            // Without an index of its own to use, InnoDB made one, named after the key,
            // and keeps it after the key is gone.
            let old = table(before, name);
            let fk = old.foreign_keys.iter().find(|f| &f.name == key);
            if fk.is_some_and(|fk| !old.has_index_for(&fk.columns)) {
                statements.push(d.drop_index(name, key));
            }
            statements
        }
        Op::Sql { sql, mysql, .. } => common::sql_statements(mysql.as_ref().unwrap_or(sql)),
        _ => common::statements(d, op, after)?,
    })
}

/// InnoDB refuses to drop the index a foreign key uses; the key is dropped first and made
/// again after, when InnoDB gives it an index of its own.
fn drop_index(before: &Table, after: &Table, name: &str) -> Vec<String> {
    let d = Dialect::Mysql;
    let dropped = before
        .indexes
        .iter()
        .find(|i| i.name == name)
        .expect("apply checked it");
    let orphaned: Vec<&ForeignKey> = after
        .foreign_keys
        .iter()
        .filter(|fk| dropped.columns.starts_with(&fk.columns) && !after.has_index_for(&fk.columns))
        .collect();
    let mut statements: Vec<String> = orphaned
        .iter()
        .map(|fk| {
            format!(
                "ALTER TABLE {} DROP FOREIGN KEY {}",
                d.quote(&before.name),
                d.quote(&fk.name)
            )
        })
        .collect();
    statements.push(d.drop_index(&before.name, name));
    statements.extend(orphaned.iter().map(|fk| {
        format!(
            "ALTER TABLE {} ADD {}",
            d.quote(&before.name),
            d.foreign_key_sql(fk)
        )
    }));
    statements
}
