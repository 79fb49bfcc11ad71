//! Reading a live database's catalog into the neutral schema model. Each database reads
//! its own catalog (`dialect/<database>/inspect.rs`) with the helpers here; all of them
//! normalise type spellings into [`ColumnType`] so that a schema read back compares equal
//! to the one that created it.

use std::collections::BTreeMap;

use diesel::sql_types::Text;
use diesel::{QueryResult, QueryableByName};

use crate::connection::AnyConnection;
use crate::schema::{ColumnType, ForeignKey, Index, ReferentialAction, Schema, Table};

/// An empty table for each name, for the catalog readers to fill from whole-database
/// listings (one query per kind of object, not per table: each costs milliseconds on a
/// server).
pub(crate) fn empty_tables(names: Vec<String>) -> BTreeMap<String, Table> {
    names
        .into_iter()
        .map(|name| (name.clone(), Table::new(&name)))
        .collect()
}

/// A row of one number, `COUNT(*) AS n`.
#[derive(QueryableByName)]
pub(crate) struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub n: i64,
}

/// The number a `SELECT COUNT(*) AS n …` query returns.
pub(crate) fn count(conn: &mut AnyConnection, sql: &str) -> QueryResult<i64> {
    Ok(diesel::RunQueryDsl::get_result::<Count>(diesel::sql_query(sql), conn)?.n)
}

/// A row of one name, as the table listings return.
#[derive(QueryableByName)]
pub(crate) struct Name {
    #[diesel(sql_type = Text)]
    pub name: String,
}

/// Adds one column of a catalog's index listing (one row per indexed column, in order).
pub(crate) fn add_index_column(table: &mut Table, name: String, unique: bool, column: String) {
    match table.indexes.last_mut() {
        Some(index) if index.name == name => index.columns.push(column),
        _ => table.indexes.push(Index {
            name,
            columns: vec![column],
            unique,
            predicate: None,
        }),
    }
}

/// One column pair of a server catalog's foreign key listing (one row per column, in
/// order), as PostgreSQL and MySQL both return it.
#[derive(QueryableByName)]
pub(crate) struct ForeignKeyRow {
    #[diesel(sql_type = Text)]
    pub table_name: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub column_name: String,
    #[diesel(sql_type = Text)]
    pub ref_table: String,
    #[diesel(sql_type = Text)]
    pub ref_column: String,
    #[diesel(sql_type = Text)]
    pub on_delete: String,
}

/// Adds a listing's foreign keys to their tables; `on_delete` reads the catalog's spelling
/// of the action (`None` for the default, NO ACTION).
pub(crate) fn add_foreign_keys(
    tables: &mut BTreeMap<String, Table>,
    rows: Vec<ForeignKeyRow>,
    on_delete: impl Fn(&str) -> Option<ReferentialAction>,
) {
    for row in rows {
        let Some(table) = tables.get_mut(&row.table_name) else {
            continue;
        };
        match table.foreign_keys.last_mut() {
            Some(fk) if fk.name == row.name => {
                fk.columns.push(row.column_name);
                fk.ref_columns.push(row.ref_column);
            }
            _ => table.foreign_keys.push(ForeignKey {
                on_delete: on_delete(&row.on_delete),
                name: row.name,
                columns: vec![row.column_name],
                ref_table: row.ref_table,
                ref_columns: vec![row.ref_column],
            }),
        }
    }
}

/// Tables the engine keeps for itself; never part of an application's schema.
pub const ENGINE_TABLES: &[&str] = &[
    "alembic_version",
    crate::history::HISTORY_TABLE,
    crate::history::PROGRESS_TABLE,
    crate::history::EXPANSION_TABLE,
];

/// The application's tables as the database sees them, in name order.
pub fn inspect(conn: &mut AnyConnection) -> QueryResult<Schema> {
    let mut tables = conn.dialect().sql().tables(conn)?;
    tables.retain(|t| !ENGINE_TABLES.contains(&t.name.as_str()));
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    for table in &mut tables {
        table.indexes.sort_by(|a, b| a.name.cmp(&b.name));
        table.unique_constraints.sort_by(|a, b| a.name.cmp(&b.name));
        table.foreign_keys.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(Schema::new(tables))
}

/// The names of all tables, engine tables included.
pub fn table_names(conn: &mut AnyConnection) -> QueryResult<Vec<String>> {
    conn.dialect().sql().table_names(conn)
}

/// Every quoted literal in `text`, in order (`''` read as one quote): the values of an
/// enumeration's CHECK constraint, however the database rewrote its expression.
pub(crate) fn quoted_literals(text: &str) -> Vec<String> {
    let mut literals = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut literal = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    literal.push('\'');
                }
                '\'' => break,
                c => literal.push(c),
            }
        }
        literals.push(literal);
    }
    literals
}

/// Makes the string column `column` of `table` an enumeration of `values`, as its CHECK
/// constraint says; whether it did.
pub(crate) fn make_enum(table: &mut Table, column: &str, values: Vec<String>) -> bool {
    if let Some(column) = table.columns.iter_mut().find(|c| c.name == column)
        && matches!(column.ty, ColumnType::String(_) | ColumnType::Text)
        && !values.is_empty()
    {
        column.ty = ColumnType::Enum(values);
        return true;
    }
    false
}

/// A CHECK constraint as a catalog gives it (`CHECK ((price > 0))`, `price > 0`): the
/// condition, without the keyword and the parentheses around the whole.
pub(crate) fn check_condition(definition: &str) -> String {
    let mut condition = definition.trim();
    condition = condition
        .strip_suffix(" NOT VALID")
        .unwrap_or(condition)
        .trim();
    if condition.len() > 5 && condition[..5].eq_ignore_ascii_case("check") {
        condition = condition[5..].trim();
    }
    while closing_paren(condition) == Some(condition.len() - 1) {
        condition = condition[1..condition.len() - 1].trim();
    }
    condition.to_string()
}

/// Where the parenthesis that opens `text` is closed, quoted strings aside.
pub(crate) fn closing_paren(text: &str) -> Option<usize> {
    if !text.starts_with('(') {
        return None;
    }
    let mut depth = 0;
    let mut in_quotes = false;
    for (at, c) in text.char_indices() {
        match c {
            '\'' => in_quotes = !in_quotes,
            '(' if !in_quotes => depth += 1,
            ')' if !in_quotes => {
                depth -= 1;
                if depth == 0 {
                    return Some(at);
                }
            }
            _ => {}
        }
    }
    None
}

/// A CHECK constraint as a catalog lists it.
#[derive(QueryableByName)]
pub(crate) struct CheckRow {
    #[diesel(sql_type = Text)]
    pub table_name: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub definition: String,
}

/// A type name as a catalog spells it (`character varying`, `int(11)`, `VARCHAR(64)`,
/// `timestamp without time zone`, `datetime(6)`…), with its length when the catalog gives
/// it separately.
pub(crate) fn normalize_type(raw: &str, length: Option<i64>) -> ColumnType {
    let lower = raw.trim().to_ascii_lowercase();
    let (base, args) = match lower.split_once('(') {
        Some((base, rest)) => (base.trim(), rest.trim_end_matches(')').trim()),
        None => (lower.as_str(), ""),
    };
    let base = base.trim_end_matches(" unsigned").trim();
    if base == "enum" {
        // The values keep their case: read them from the name as given.
        let values = raw.split_once('(').map(|(_, rest)| quoted_literals(rest));
        if let Some(values) = values.filter(|v| !v.is_empty()) {
            return ColumnType::Enum(values);
        }
    }
    let numbers: Vec<u32> = args
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let length = length
        .and_then(|n| u32::try_from(n).ok())
        .or(numbers.first().copied());
    match base {
        "smallint" | "int2" | "smallserial" => ColumnType::SmallInteger,
        "tinyint" if numbers.first() == Some(&1) => ColumnType::Boolean,
        "tinyint" | "mediumint" => ColumnType::SmallInteger,
        "integer" | "int" | "int4" | "serial" => ColumnType::Integer,
        "bigint" | "int8" | "bigserial" => ColumnType::BigInteger,
        "boolean" | "bool" => ColumnType::Boolean,
        "varchar" | "character varying" | "nvarchar" | "varchar2" | "char varying" => {
            ColumnType::String(length)
        }
        "text" | "clob" | "longtext" | "mediumtext" | "tinytext" => ColumnType::Text,
        "real" | "float" | "float4" => ColumnType::Float,
        "double" | "double precision" | "float8" => ColumnType::Double,
        "numeric" | "decimal" => ColumnType::Numeric {
            precision: numbers.first().copied().unwrap_or(0),
            scale: numbers.get(1).copied().unwrap_or(0),
        },
        "date" => ColumnType::Date,
        "time" | "time without time zone" => ColumnType::Time,
        "datetime" | "timestamp" | "timestamp without time zone" => ColumnType::DateTime,
        "blob" | "bytea" | "longblob" | "binary" | "varbinary" => ColumnType::Binary,
        _ => {
            by_affinity(base, length).unwrap_or_else(|| ColumnType::Native(raw.trim().to_string()))
        }
    }
}

/// Names no rule above knows, by the words SQLite files them under an affinity with
/// (`character(20)`, `int2`, `double precision`); the rest are kept as the database names
/// them.
fn by_affinity(name: &str, length: Option<u32>) -> Option<ColumnType> {
    if name.starts_with('_') {
        // PostgreSQL's name for an array of the type after it.
        return None;
    }
    Some(
        if name.contains("int") && !name.contains("interval") && !name.contains("point") {
            ColumnType::Integer
        } else if name.contains("char") || name.contains("clob") || name.contains("text") {
            length.map_or(ColumnType::Text, |n| ColumnType::String(Some(n)))
        } else if name.contains("blob") || name.is_empty() {
            ColumnType::Binary
        } else if name.contains("real") || name.contains("floa") || name.contains("doub") {
            ColumnType::Double
        } else {
            return None;
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_databases_spelling_normalises_to_one_type() {
        let string64 = ColumnType::String(Some(64));
        assert_eq!(normalize_type("VARCHAR(64)", None), string64);
        assert_eq!(normalize_type("character varying", Some(64)), string64);
        assert_eq!(normalize_type("varchar(64)", None), string64);
        for datetime in [
            "DATETIME",
            "timestamp without time zone",
            "datetime(6)",
            "datetime",
        ] {
            assert_eq!(
                normalize_type(datetime, None),
                ColumnType::DateTime,
                "{datetime}"
            );
        }
        for integer in ["INTEGER", "integer", "int(11)", "int"] {
            assert_eq!(
                normalize_type(integer, None),
                ColumnType::Integer,
                "{integer}"
            );
        }
        assert_eq!(normalize_type("tinyint(1)", None), ColumnType::Boolean);
        assert_eq!(
            normalize_type("NVARCHAR(10)", None),
            ColumnType::String(Some(10))
        );
    }
}
