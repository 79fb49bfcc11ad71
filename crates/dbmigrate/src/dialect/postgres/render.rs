//! PostgreSQL's spellings: SERIAL keys, `TIMESTAMP WITHOUT TIME ZONE`, and ALTER COLUMN
//! with a USING cast for a type change.

use super::super::common;
use super::Postgres;
use crate::dialect::SqlDialect;
use crate::ops::{Op, OpError};
use crate::schema::{Column, ColumnType, ForeignKey, Schema, enum_check_name};

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

pub(super) fn op_statements(
    d: &Postgres,
    op: &Op,
    before: &Schema,
    after: &Schema,
) -> Result<Vec<String>, OpError> {
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
            let alter = format!(
                "ALTER TABLE {} ALTER COLUMN {}",
                d.quote(name),
                d.quote(column)
            );
            let mut statements = Vec::new();
            let check = d.quote(&enum_check_name(name, column));
            if let Some(ty) = ty {
                // An enumeration's values live in its CHECK constraint: the old one goes
                // before the type changes, the new one comes after.
                let was_enum = common::table(before, name)
                    .find_column(column)
                    .is_some_and(|c| matches!(c.ty, ColumnType::Enum(_)));
                if was_enum {
                    statements.push(format!(
                        "ALTER TABLE {} DROP CONSTRAINT {check}",
                        d.quote(name)
                    ));
                }
                let sql = type_sql(ty);
                statements.push(format!(
                    "{alter} TYPE {sql} USING {}::{sql}",
                    d.quote(column)
                ));
                let altered = Column::new(column, ty.clone());
                if let Some(constraint) = d.dialect().enum_check(name, &altered) {
                    statements.push(format!("ALTER TABLE {} ADD {constraint}", d.quote(name)));
                }
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
            if let Some(new_name) = new_name {
                let renamed = common::table(after, name).find_column(new_name);
                if renamed.is_some_and(|c| matches!(c.ty, ColumnType::Enum(_))) {
                    statements.push(rename_constraint(
                        d,
                        name,
                        &enum_check_name(name, column),
                        &enum_check_name(name, new_name),
                    ));
                }
            }
            statements
        }
        Op::RenameTable { table, new_name } => {
            let mut statements = common::statements(d, op, after)?;
            for column in &common::table(after, new_name).columns {
                if matches!(column.ty, ColumnType::Enum(_)) {
                    statements.push(rename_constraint(
                        d,
                        new_name,
                        &enum_check_name(table, &column.name),
                        &enum_check_name(new_name, &column.name),
                    ));
                }
            }
            statements
        }
        Op::SetPrimaryKey { table, columns } => {
            // The key's name is PostgreSQL's (`<table>_pkey` when the table was made), which
            // a renamed table keeps: look it up rather than guess it.
            let literal = table.replace('\'', "''");
            let mut statements = vec![format!(
                "DO $$ DECLARE key_name text; BEGIN \
                 SELECT conname INTO key_name FROM pg_constraint \
                 WHERE conrelid = '{}'::regclass AND contype = 'p'; \
                 IF key_name IS NOT NULL THEN \
                 EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', '{literal}', key_name); \
                 END IF; END $$",
                d.quote(table).replace('\'', "''")
            )];
            if !columns.is_empty() {
                statements.push(format!(
                    "ALTER TABLE {} ADD PRIMARY KEY ({})",
                    d.quote(table),
                    d.dialect().quote_list(columns)
                ));
            }
            statements
        }
        Op::Sql {
            sql, postgresql, ..
        } => common::sql_statements(postgresql.as_ref().unwrap_or(sql)),
        _ => common::statements(d, op, after)?,
    })
}

fn rename_constraint(d: &Postgres, table: &str, from: &str, to: &str) -> String {
    format!(
        "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
        d.quote(table),
        d.quote(from),
        d.quote(to)
    )
}
