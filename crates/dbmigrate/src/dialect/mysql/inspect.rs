//! MySQL's and MariaDB's catalog, in the connection's current database.

use std::collections::BTreeMap;

use crate::connection::AnyConnection;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{QueryResult, QueryableByName, RunQueryDsl, sql_query};

use crate::inspect::{
    CheckRow, ForeignKeyRow, Name, add_foreign_keys, add_index_column, check_condition,
    empty_tables, normalize_type,
};
use crate::schema::{CheckConstraint, Column, ColumnDefault, ColumnType, ReferentialAction, Table};

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    column_type: String,
    #[diesel(sql_type = Text)]
    nullable: String,
    #[diesel(sql_type = Nullable<Text>)]
    default_sql: Option<String>,
    #[diesel(sql_type = Text)]
    extra: String,
    #[diesel(sql_type = Text)]
    column_key: String,
}

#[derive(QueryableByName)]
struct IndexColumnRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    index_name: String,
    #[diesel(sql_type = BigInt)]
    non_unique: i64,
    #[diesel(sql_type = Text)]
    column_name: String,
}

pub(crate) fn table_names(conn: &mut AnyConnection) -> QueryResult<Vec<String>> {
    let rows: Vec<Name> = sql_query(
        "SELECT CAST(TABLE_NAME AS CHAR) AS name FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
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
        "SELECT CAST(TABLE_NAME AS CHAR) AS table_name, CAST(COLUMN_NAME AS CHAR) AS name, CAST(COLUMN_TYPE AS CHAR) AS column_type, \
                CAST(IS_NULLABLE AS CHAR) AS nullable, CAST(COLUMN_DEFAULT AS CHAR) AS default_sql, \
                CAST(EXTRA AS CHAR) AS extra, CAST(COLUMN_KEY AS CHAR) AS column_key \
         FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION",
    )
    .load(conn)?;
    for row in columns {
        let Some(table) = tables.get_mut(&row.table_name) else {
            continue;
        };
        if row.column_key == "PRI" {
            table.primary_key.push(row.name.clone());
        }
        let ty = normalize_type(&row.column_type, None);
        table.columns.push(Column {
            default: row.default_sql.and_then(|d| parse_default(d, &ty)),
            name: row.name,
            ty,
            nullable: row.nullable == "YES",
            autoincrement: row.extra.to_ascii_lowercase().contains("auto_increment"),
        });
    }

    let fk_rows: Vec<ForeignKeyRow> = sql_query(
        "SELECT CAST(k.TABLE_NAME AS CHAR) AS table_name, CAST(k.CONSTRAINT_NAME AS CHAR) AS name, CAST(k.COLUMN_NAME AS CHAR) AS column_name, \
                CAST(k.REFERENCED_TABLE_NAME AS CHAR) AS ref_table, \
                CAST(k.REFERENCED_COLUMN_NAME AS CHAR) AS ref_column, \
                CAST(r.DELETE_RULE AS CHAR) AS on_delete \
         FROM information_schema.KEY_COLUMN_USAGE k \
         JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
           ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME \
          AND r.TABLE_NAME = k.TABLE_NAME \
         WHERE k.TABLE_SCHEMA = DATABASE() \
         ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
    )
    .load(conn)?;
    add_foreign_keys(tables, fk_rows, |action| {
        ReferentialAction::parse(action)
            .filter(|a| !matches!(a, ReferentialAction::NoAction | ReferentialAction::Restrict))
    });

    let index_rows: Vec<IndexColumnRow> = sql_query(
        "SELECT CAST(TABLE_NAME AS CHAR) AS table_name, CAST(INDEX_NAME AS CHAR) AS index_name, CAST(NON_UNIQUE AS SIGNED) AS non_unique, \
                CAST(COLUMN_NAME AS CHAR) AS column_name \
         FROM information_schema.STATISTICS \
         WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME <> 'PRIMARY' \
         ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
    )
    .load(conn)?;
    for row in index_rows {
        let Some(table) = tables.get_mut(&row.table_name) else {
            continue;
        };
        // InnoDB makes an index for each foreign key that has none, named after the key,
        // or after its first column when the key itself had no name.
        if table.foreign_keys.iter().any(|fk| {
            fk.name == row.index_name
                || (fk.columns.first() == Some(&row.index_name) && row.non_unique != 0)
        }) {
            continue;
        }
        add_index_column(table, row.index_name, row.non_unique == 0, row.column_name);
    }
    for check in check_constraints(conn)? {
        if let Some(table) = tables.get_mut(&check.table_name) {
            table.check_constraints.push(CheckConstraint {
                name: check.name,
                condition: check_condition(&check.definition),
            });
        }
    }
    Ok(())
}

fn parse_default(sql: String, ty: &ColumnType) -> Option<ColumnDefault> {
    // MariaDB reports an absent default as the text NULL.
    if sql.eq_ignore_ascii_case("null") {
        return None;
    }
    let lower = sql.to_ascii_lowercase();
    if lower.starts_with("current_timestamp") || lower.starts_with("now(") {
        return Some(ColumnDefault::CurrentTimestamp);
    }
    let quoted = sql.starts_with('\'');
    let numeric = matches!(
        ty,
        ColumnType::SmallInteger
            | ColumnType::Integer
            | ColumnType::BigInteger
            | ColumnType::Boolean
            | ColumnType::Float
            | ColumnType::Double
            | ColumnType::Numeric { .. }
    );
    Some(ColumnDefault::Literal(if quoted || numeric {
        sql
    } else {
        format!("'{}'", sql.replace('\'', "''"))
    }))
}
/// MySQL keeps a unique constraint as a unique index: there both are unique indexes.
pub(crate) fn as_catalog_keeps(schema: &mut crate::schema::Schema) {
    for table in &mut schema.tables {
        let uniques = std::mem::take(&mut table.unique_constraints);
        table
            .indexes
            .extend(uniques.into_iter().map(|u| crate::schema::Index {
                predicate: None,
                name: u.name,
                columns: u.columns,
                unique: true,
            }));
    }
}

/// Table-level CHECK constraints. MariaDB lists them with their table (names are unique
/// per table there) and apart from the checks it adds to a column on its own (a JSON
/// column's); MySQL 8 has neither column, and names them uniquely in the schema.
fn check_constraints(conn: &mut AnyConnection) -> QueryResult<Vec<CheckRow>> {
    sql_query(
        "SELECT CAST(TABLE_NAME AS CHAR) AS table_name, CAST(CONSTRAINT_NAME AS CHAR) AS name, \
                CAST(CHECK_CLAUSE AS CHAR) AS definition \
         FROM information_schema.CHECK_CONSTRAINTS \
         WHERE CONSTRAINT_SCHEMA = DATABASE() AND LEVEL = 'Table'",
    )
    .load(conn)
    .or_else(|_| {
        sql_query(
            "SELECT CAST(tc.TABLE_NAME AS CHAR) AS table_name, CAST(cc.CONSTRAINT_NAME AS CHAR) AS name, \
                    CAST(cc.CHECK_CLAUSE AS CHAR) AS definition \
             FROM information_schema.CHECK_CONSTRAINTS cc \
             JOIN information_schema.TABLE_CONSTRAINTS tc \
               ON tc.CONSTRAINT_SCHEMA = cc.CONSTRAINT_SCHEMA AND tc.CONSTRAINT_NAME = cc.CONSTRAINT_NAME \
             WHERE cc.CONSTRAINT_SCHEMA = DATABASE() AND tc.CONSTRAINT_TYPE = 'CHECK'",
        )
        .load(conn)
    })
}
