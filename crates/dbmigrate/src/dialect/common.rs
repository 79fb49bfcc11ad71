//! The statements the databases agree on, for each dialect's `render.rs` to fall back on
//! for what it does not do its own way.

use super::SqlDialect;
use crate::ops::{Op, OpError};
use crate::schema::{ColumnType, Schema, Table};

/// The name a table has while SQLite rebuilds it.
pub const REBUILD_PREFIX: &str = "_dbmigrate_rebuild_";

/// The type as standard SQL spells it; each dialect spells its own differences.
pub(super) fn type_sql(ty: &ColumnType) -> String {
    use ColumnType::*;
    match ty {
        SmallInteger => "SMALLINT".into(),
        Integer => "INTEGER".into(),
        BigInteger => "BIGINT".into(),
        Boolean => "BOOLEAN".into(),
        String(Some(n)) => format!("VARCHAR({n})"),
        String(None) => "VARCHAR".into(),
        Text => "TEXT".into(),
        Float => "FLOAT".into(),
        Double => "DOUBLE".into(),
        Numeric { precision, scale } => format!("NUMERIC({precision}, {scale})"),
        Date => "DATE".into(),
        Time => "TIME".into(),
        DateTime => "TIMESTAMP".into(),
        Binary => "BLOB".into(),
        Enum(values) => format!("VARCHAR({})", crate::schema::enum_length(values)),
        Native(name) => name.clone(),
    }
}

pub(super) fn table<'s>(schema: &'s Schema, name: &str) -> &'s Table {
    schema.table(name).expect("apply checked the table")
}

pub(super) fn rename_column(
    d: &dyn SqlDialect,
    table: &str,
    column: &str,
    new_name: &str,
) -> String {
    format!(
        "ALTER TABLE {} RENAME COLUMN {} TO {}",
        d.quote(table),
        d.quote(column),
        d.quote(new_name)
    )
}

/// `op` in standard SQL. Changing a column's definition has no standard form: each
/// dialect writes it, and this gives only the renaming part of an `alter_column`.
pub(super) fn statements(
    d: &dyn SqlDialect,
    op: &Op,
    after: &Schema,
) -> Result<Vec<String>, OpError> {
    let dialect = d.dialect();
    let q = |ident: &str| d.quote(ident);
    Ok(match op {
        Op::CreateTable { table: name, .. } => {
            let mut create = table(after, name).clone();
            create.indexes.clear();
            dialect.create_table(&create)
        }
        Op::DropTable { table } => vec![dialect.drop_table(table)],
        // Run in batches by the plan (`apply::backfill`), not as one statement.
        Op::Backfill { .. } => Vec::new(),
        Op::CreateCheckConstraint {
            table,
            name,
            condition,
            ..
        } => vec![format!(
            "ALTER TABLE {} ADD CONSTRAINT {} CHECK ({condition})",
            q(table),
            q(name)
        )],
        Op::DropCheckConstraint { table, name } => vec![format!(
            "ALTER TABLE {} DROP CONSTRAINT {}",
            q(table),
            q(name)
        )],
        Op::SetPrimaryKey { .. } => {
            unreachable!("each dialect's render.rs sets a primary key its own way")
        }
        Op::RenameTable { table, new_name } => {
            vec![format!(
                "ALTER TABLE {} RENAME TO {}",
                q(table),
                q(new_name)
            )]
        }
        Op::AddColumn { table, column, .. } => vec![format!(
            "ALTER TABLE {} ADD COLUMN {}",
            q(table),
            dialect.column_sql(table, column)
        )],
        Op::DropColumn { table, column } => {
            vec![format!(
                "ALTER TABLE {} DROP COLUMN {}",
                q(table),
                q(column)
            )]
        }
        Op::AlterColumn {
            table,
            column,
            new_name,
            ..
        } => new_name
            .iter()
            .map(|new_name| rename_column(d, table, column, new_name))
            .collect(),
        Op::CreateIndex {
            table: name,
            name: index,
            ..
        } => {
            let created = table(after, name)
                .indexes
                .iter()
                .find(|i| &i.name == index)
                .expect("apply added it");
            vec![dialect.create_index(name, created)]
        }
        Op::DropIndex { table, name, .. } => vec![d.drop_index(table, name)],
        Op::CreateUniqueConstraint {
            table,
            name,
            columns,
            ..
        } => vec![format!(
            "ALTER TABLE {} ADD CONSTRAINT {} UNIQUE ({})",
            q(table),
            q(name),
            dialect.quote_list(columns)
        )],
        Op::DropUniqueConstraint { table, name } | Op::DropForeignKey { table, name } => {
            vec![format!(
                "ALTER TABLE {} DROP CONSTRAINT {}",
                q(table),
                q(name)
            )]
        }
        Op::CreateForeignKey {
            table: name,
            name: key,
            ..
        } => {
            let created = table(after, name)
                .foreign_keys
                .iter()
                .find(|f| &f.name == key)
                .expect("apply added it");
            vec![format!(
                "ALTER TABLE {} ADD {}",
                q(name),
                dialect.foreign_key_sql(created)
            )]
        }
        Op::Sql { sql, .. } => vec![sql.clone()],
    })
}

/// An `sql` operation's text for one database: nothing when it is empty there (a
/// revision that does something on one database only leaves the others' variants empty).
pub(crate) fn sql_statements(sql: &str) -> Vec<String> {
    if sql.trim().is_empty() {
        Vec::new()
    } else {
        vec![sql.to_string()]
    }
}
