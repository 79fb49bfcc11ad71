//! SQLite's spellings, and its table rebuild: what its ALTER TABLE cannot do (change a
//! column's type, nullability or default, add or drop a constraint or foreign key) becomes
//! SQLite's documented procedure: a new table, the rows copied, the old one dropped, the
//! new one renamed, the indexes made again. The runner wraps it in one transaction with
//! foreign keys switched off before and checked before commit (`apply.rs`).

use super::super::common::{self, REBUILD_PREFIX, rename_column, table};
use super::Sqlite;
use crate::dialect::Dialect;
use crate::ops::{Op, OpError};
use crate::schema::{ColumnType, Schema, Table};

pub(super) fn type_sql(ty: &ColumnType) -> String {
    match ty {
        ColumnType::DateTime => "DATETIME".into(),
        other => common::type_sql(other),
    }
}

/// Only a column declared exactly INTEGER takes its values from the rowid.
pub(super) fn assigned_key_type() -> Option<String> {
    Some("INTEGER".into())
}

pub(super) fn op_statements(
    d: &Sqlite,
    op: &Op,
    before: &Schema,
    after: &Schema,
) -> Result<Vec<String>, OpError> {
    let rebuilt = |name: &str| rebuild(table(before, name), table(after, name));
    Ok(match op {
        Op::AddColumn {
            table: name,
            column,
            ..
        } if !column.nullable && column.default.is_none() || column.autoincrement => rebuilt(name),
        Op::DropColumn {
            table: name,
            column,
        } => {
            let old = table(before, name);
            let constrained = old.primary_key.contains(column)
                || old.indexes.iter().any(|i| i.columns.contains(column))
                || old
                    .unique_constraints
                    .iter()
                    .any(|u| u.columns.contains(column))
                || old.foreign_keys.iter().any(|f| f.columns.contains(column));
            if constrained {
                rebuilt(name)
            } else {
                common::statements(d, op, after)?
            }
        }
        Op::AlterColumn {
            table: name,
            column,
            ty,
            nullable,
            set_default,
            drop_default,
            new_name,
            ..
        } if ty.is_some() || nullable.is_some() || set_default.is_some() || *drop_default => {
            // Rename natively first, then rebuild with the new definition.
            let mut statements = Vec::new();
            let mut renamed = before.clone();
            if let Some(new_name) = new_name {
                statements.push(rename_column(d, name, column, new_name));
                renamed.apply(&Op::rename_column(name, column, new_name))?;
            }
            statements.extend(rebuild(table(&renamed, name), table(after, name)));
            statements
        }
        Op::CreateUniqueConstraint { table: name, .. }
        | Op::DropUniqueConstraint { table: name, .. }
        | Op::CreateForeignKey { table: name, .. }
        | Op::DropForeignKey { table: name, .. }
        | Op::SetPrimaryKey { table: name, .. }
        | Op::CreateCheckConstraint { table: name, .. }
        | Op::DropCheckConstraint { table: name, .. } => rebuilt(name),
        Op::Sql { sql, sqlite, .. } => common::sql_statements(sqlite.as_ref().unwrap_or(sql)),
        _ => common::statements(d, op, after)?,
    })
}

/// SQLite's twelve-step procedure, the steps that are statements: the runner does the rest
/// (foreign keys off before the transaction, `PRAGMA foreign_key_check` before commit).
fn rebuild(old: &Table, new: &Table) -> Vec<String> {
    let d = Dialect::Sqlite;
    let temporary = format!("{REBUILD_PREFIX}{}", new.name);
    let mut shape = new.clone();
    shape.indexes.clear();
    // Made under the temporary name, with the constraints named after the table it becomes.
    let mut statements = d.create_table(&shape);
    statements[0] = statements[0].replacen(
        &format!("CREATE TABLE {} (", d.quote(&new.name)),
        &format!("CREATE TABLE {} (", d.quote(&temporary)),
        1,
    );
    let kept: Vec<String> = new
        .columns
        .iter()
        .filter(|c| old.find_column(&c.name).is_some())
        .map(|c| c.name.clone())
        .collect();
    let kept = d.quote_list(&kept);
    statements.push(format!(
        "INSERT INTO {} ({kept}) SELECT {kept} FROM {}",
        d.quote(&temporary),
        d.quote(&old.name)
    ));
    statements.push(d.drop_table(&old.name));
    statements.push(format!(
        "ALTER TABLE {} RENAME TO {}",
        d.quote(&temporary),
        d.quote(&new.name)
    ));
    statements.extend(new.indexes.iter().map(|i| d.create_index(&new.name, i)));
    statements
}
