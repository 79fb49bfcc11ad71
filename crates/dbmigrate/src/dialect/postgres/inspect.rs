//! PostgreSQL's catalog, in the connection's current schema.

use std::collections::BTreeMap;

use crate::connection::AnyConnection;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel::{QueryResult, QueryableByName, RunQueryDsl, sql_query};

use crate::inspect::{
    CheckRow, ForeignKeyRow, Name, add_foreign_keys, add_index_column, check_condition,
    empty_tables, make_enum, normalize_type, quoted_literals,
};
use crate::schema::{
    CheckConstraint, Column, ColumnDefault, ReferentialAction, Table, UniqueConstraint,
    enum_check_name,
};

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    ty: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    length: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    precision: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    scale: Option<i64>,
    #[diesel(sql_type = Bool)]
    nullable: bool,
    #[diesel(sql_type = Nullable<Text>)]
    default_sql: Option<String>,
    #[diesel(sql_type = Bool)]
    identity: bool,
}

#[derive(QueryableByName)]
struct IndexColumnRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    index_name: String,
    #[diesel(sql_type = Bool)]
    is_unique: bool,
    #[diesel(sql_type = Bool)]
    is_primary: bool,
    #[diesel(sql_type = Bool)]
    is_constraint: bool,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    predicate: Option<String>,
}

pub(crate) fn table_names(conn: &mut AnyConnection) -> QueryResult<Vec<String>> {
    let rows: Vec<Name> = sql_query(
        "SELECT table_name::text AS name FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name",
    )
    .load(conn)?;
    Ok(rows.into_iter().map(|r| r.name).collect())
}

pub(crate) fn tables(conn: &mut AnyConnection) -> QueryResult<Vec<Table>> {
    let mut tables = empty_tables(table_names(conn)?);
    fill(conn, &mut tables)?;
    Ok(tables.into_values().collect())
}

fn fill(conn: &mut AnyConnection, tables: &mut BTreeMap<String, Table>) -> QueryResult<()> {
    let columns: Vec<ColumnRow> = sql_query(
        "SELECT table_name::text AS table_name, column_name::text AS name, \
                CASE WHEN data_type IN ('USER-DEFINED', 'ARRAY') THEN udt_name::text ELSE data_type::text END AS ty, \
                character_maximum_length::bigint AS length, \
                numeric_precision::bigint AS precision, numeric_scale::bigint AS scale, \
                is_nullable = 'YES' AS nullable, column_default::text AS default_sql, \
                is_identity = 'YES' AS identity \
         FROM information_schema.columns \
         WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
    )
    .load(conn)?;
    for row in columns {
        let Some(table) = tables.get_mut(&row.table_name) else {
            continue;
        };
        let mut ty = normalize_type(&row.ty, row.length);
        if let crate::schema::ColumnType::Numeric { precision, scale } = &mut ty {
            *precision = row.precision.unwrap_or(0) as u32;
            *scale = row.scale.unwrap_or(0) as u32;
        }
        let serial = row
            .default_sql
            .as_deref()
            .is_some_and(|d| d.starts_with("nextval("));
        table.columns.push(Column {
            name: row.name,
            ty,
            nullable: row.nullable,
            default: if serial {
                None
            } else {
                row.default_sql.map(parse_default)
            },
            autoincrement: serial || row.identity,
        });
    }

    let index_rows: Vec<IndexColumnRow> = sql_query(
        "SELECT tc.relname::text AS table_name, ic.relname::text AS index_name, ix.indisunique AS is_unique, \
                ix.indisprimary AS is_primary, \
                EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid AND c.contype = 'u') \
                    AS is_constraint, \
                a.attname::text AS column_name, \
                pg_get_expr(ix.indpred, ix.indrelid) AS predicate \
         FROM pg_index ix \
         JOIN pg_class tc ON tc.oid = ix.indrelid \
         JOIN pg_namespace n ON n.oid = tc.relnamespace \
         JOIN pg_class ic ON ic.oid = ix.indexrelid \
         CROSS JOIN LATERAL unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
         JOIN pg_attribute a ON a.attrelid = tc.oid AND a.attnum = k.attnum \
         WHERE n.nspname = current_schema() \
         ORDER BY tc.relname, ic.relname, k.ord",
    )
    .load(conn)?;
    for row in index_rows {
        let Some(table) = tables.get_mut(&row.table_name) else {
            continue;
        };
        if row.is_primary {
            table.primary_key.push(row.column_name);
        } else if row.is_constraint {
            match table.unique_constraints.last_mut() {
                Some(u) if u.name == row.index_name => u.columns.push(row.column_name),
                _ => table.unique_constraints.push(UniqueConstraint {
                    name: row.index_name,
                    columns: vec![row.column_name],
                }),
            }
        } else {
            add_index_column(table, row.index_name, row.is_unique, row.column_name);
            if let Some(index) = table.indexes.last_mut() {
                index.predicate = row.predicate;
            }
        }
    }

    let fk_rows: Vec<ForeignKeyRow> = sql_query(
        "SELECT t.relname::text AS table_name, c.conname::text AS name, a.attname::text AS column_name, \
                rt.relname::text AS ref_table, ra.attname::text AS ref_column, \
                c.confdeltype::text AS on_delete \
         FROM pg_constraint c \
         JOIN pg_class t ON t.oid = c.conrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         JOIN pg_class rt ON rt.oid = c.confrelid \
         CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(attnum, refattnum, ord) \
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum \
         JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = k.refattnum \
         WHERE c.contype = 'f' AND n.nspname = current_schema() \
         ORDER BY t.relname, c.conname, k.ord",
    )
    .load(conn)?;
    add_foreign_keys(tables, fk_rows, |action| match action {
        "r" => Some(ReferentialAction::Restrict),
        "c" => Some(ReferentialAction::Cascade),
        "n" => Some(ReferentialAction::SetNull),
        "d" => Some(ReferentialAction::SetDefault),
        _ => None,
    });

    let checks: Vec<CheckRow> = sql_query(
        "SELECT t.relname::text AS table_name, c.conname::text AS name, \
                pg_get_constraintdef(c.oid) AS definition \
         FROM pg_constraint c \
         JOIN pg_class t ON t.oid = c.conrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE c.contype = 'c' AND n.nspname = current_schema()",
    )
    .load(conn)?;
    for check in checks {
        let Some(table) = tables.get_mut(&check.table_name) else {
            continue;
        };
        let column = table
            .columns
            .iter()
            .find(|c| enum_check_name(&check.table_name, &c.name) == check.name)
            .map(|c| c.name.clone());
        let is_enum = column
            .is_some_and(|column| make_enum(table, &column, quoted_literals(&check.definition)));
        if !is_enum {
            table.check_constraints.push(CheckConstraint {
                name: check.name,
                condition: check_condition(&check.definition),
            });
        }
    }
    Ok(())
}

fn parse_default(sql: String) -> ColumnDefault {
    let lower = sql.to_ascii_lowercase();
    if lower == "current_timestamp" || lower == "now()" || lower.starts_with("current_timestamp") {
        ColumnDefault::CurrentTimestamp
    } else {
        // PostgreSQL adds casts to literals: 'draft'::character varying
        let literal = match sql.split_once("::") {
            Some((value, _)) if value.starts_with('\'') => value.to_string(),
            _ => sql,
        };
        ColumnDefault::Literal(literal)
    }
}
