//! PostgreSQL's spellings: SERIAL keys, `TIMESTAMP WITHOUT TIME ZONE`, and ALTER COLUMN
//! with a USING cast for a type change.

use super::super::common;
use super::Postgres;
use crate::dialect::SqlDialect;
use crate::ops::{Op, OpError};
use crate::schema::{ColumnType, ForeignKey, Schema};

pub(super) fn type_sql(ty: &ColumnType) -> String {
    match ty {
        ColumnType::Float => "REAL".into(),
        ColumnType::Double => "DOUBLE PRECISION".into(),
        ColumnType::DateTime => "TIMESTAMP WITHOUT TIME ZONE".into(),
        ColumnType::Binary => "BYTEA".into(),
        other => common::type_sql(other),
    }
}

pub(super) fn serial_type(ty: &ColumnType) -> String {
    match ty {
        ColumnType::SmallInteger => "SMALLSERIAL",
        ColumnType::BigInteger => "BIGSERIAL",
        _ => "SERIAL",
    }
    .into()
}

pub(super) fn rename_foreign_key(
    d: &Postgres,
    table: &str,
    from: &str,
    key: &ForeignKey,
) -> String {
    format!(
        "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
        d.quote(table),
        d.quote(from),
        d.quote(&key.name)
    )
}

pub(super) fn op_statements(d: &Postgres, op: &Op, after: &Schema) -> Result<Vec<String>, OpError> {
    Ok(match op {
        Op::AlterColumn {
            table: name,
            column,
            ty,
            nullable,
            set_default,
            drop_default,
            ..
        } => {
            let alter = format!(
                "ALTER TABLE {} ALTER COLUMN {}",
                d.quote(name),
                d.quote(column)
            );
            let mut statements = Vec::new();
            if let Some(ty) = ty {
                let ty = type_sql(ty);
                statements.push(format!("{alter} TYPE {ty} USING {}::{ty}", d.quote(column)));
            }
            match nullable {
                Some(false) => statements.push(format!("{alter} SET NOT NULL")),
                Some(true) => statements.push(format!("{alter} DROP NOT NULL")),
                None => {}
            }
            if *drop_default && set_default.is_none() {
                statements.push(format!("{alter} DROP DEFAULT"));
            }
            if let Some(default) = set_default {
                let default = d.dialect().default_sql(default);
                statements.push(format!("{alter} SET DEFAULT {default}"));
            }
            statements.extend(common::statements(d, op, after)?);
            statements
        }
        Op::CreateIndex {
            table,
            name,
            concurrently: true,
            ..
        } => {
            let index = common::table(after, table)
                .indexes
                .iter()
                .find(|i| &i.name == name)
                .expect("apply added it");
            let plain = d.dialect().create_index(table, index);
            vec![plain.replacen(" INDEX ", " INDEX CONCURRENTLY ", 1)]
        }
        Op::DropIndex {
            name,
            concurrently: true,
            ..
        } => vec![format!("DROP INDEX CONCURRENTLY {}", d.quote(name))],
        Op::Sql {
            sql, postgresql, ..
        } => vec![postgresql.as_ref().unwrap_or(sql).clone()],
        _ => common::statements(d, op, after)?,
    })
}

/// A `CREATE INDEX CONCURRENTLY` that fails leaves the index behind, marked INVALID.
pub(super) fn cleanup_advice(statement: &str) -> Option<String> {
    let rest = statement.split(" INDEX CONCURRENTLY ").nth(1)?;
    let name = rest.split(" ON ").next()?.trim();
    Some(format!(
        "PostgreSQL leaves the index it was building, marked invalid: drop it with `DROP INDEX CONCURRENTLY {name}` before running the revision again"
    ))
}
