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
        Op::Sql {
            sql, postgresql, ..
        } => vec![postgresql.as_ref().unwrap_or(sql).clone()],
        _ => common::statements(d, op, after)?,
    })
}
