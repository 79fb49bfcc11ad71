//! The rows a finding is about, counted in a database at the revision's parent.

use diesel::QueryResult;

use crate::connection::AnyConnection;
use crate::schema::ColumnType;
use crate::url::Dialect;

pub(super) enum Query<'a> {
    Rows {
        table: &'a str,
    },
    Null {
        table: &'a str,
        column: &'a str,
    },
    NotNull {
        table: &'a str,
        column: &'a str,
    },
    /// Values that a column of `ty` could not hold.
    NotFitting {
        table: &'a str,
        column: &'a str,
        ty: &'a ColumnType,
    },
    /// Groups of rows sharing the same values (NULLs aside).
    Duplicates {
        table: &'a str,
        columns: &'a [String],
    },
}

pub(super) fn count(conn: &mut AnyConnection, query: &Query) -> QueryResult<i64> {
    let dialect = conn.dialect();
    let q = |name: &str| dialect.quote(name);
    let sql = match query {
        Query::Rows { table } => format!("SELECT COUNT(*) AS n FROM {}", q(table)),
        Query::Null { table, column } => format!(
            "SELECT COUNT(*) AS n FROM {} WHERE {} IS NULL",
            q(table),
            q(column)
        ),
        Query::NotNull { table, column } => format!(
            "SELECT COUNT(*) AS n FROM {} WHERE {} IS NOT NULL",
            q(table),
            q(column)
        ),
        Query::NotFitting { table, column, ty } => {
            let condition = not_fitting(dialect, column, ty);
            format!("SELECT COUNT(*) AS n FROM {} WHERE {condition}", q(table))
        }
        Query::Duplicates { table, columns } => {
            let list = dialect.quote_list(columns);
            let present: Vec<String> = columns
                .iter()
                .map(|c| format!("{} IS NOT NULL", q(c)))
                .collect();
            format!(
                "SELECT COUNT(*) AS n FROM (SELECT {list} FROM {} WHERE {} GROUP BY {list} HAVING COUNT(*) > 1) repeated",
                q(table),
                present.join(" AND ")
            )
        }
    };
    crate::inspect::count(conn, &sql)
}

/// The condition that holds for a value of `column` that a column of `ty` could not hold:
/// too long for a string, not among an enumeration's values; any value where a conversion
/// cannot be judged from here.
pub(crate) fn not_fitting(dialect: Dialect, column: &str, ty: &ColumnType) -> String {
    let column = dialect.quote(column);
    match ty {
        ColumnType::String(Some(length)) => {
            format!("{}({column}) > {length}", dialect.sql().char_length())
        }
        ColumnType::Enum(values) => format!(
            "{column} NOT IN ({})",
            crate::schema::enum_values_sql(values)
        ),
        _ => format!("{column} IS NOT NULL"),
    }
}
