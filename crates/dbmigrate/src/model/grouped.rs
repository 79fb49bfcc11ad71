//! New rows of one table written several to a statement, as SQLAlchemy's
//! "insertmanyvalues" does, with each row's key known for certain.
//!
//! Neither SQLite nor PostgreSQL promises the rows of a multi-row `INSERT … RETURNING` in
//! the order of its `VALUES`, so a key the database assigns is not read back from such a
//! statement. The keys are taken first and written with the rows instead: on PostgreSQL
//! from the column's sequence (`nextval`, one query for the group); on SQLite, after the
//! group's first row is inserted alone (which takes the database's write lock for the rest
//! of the transaction, so that no other connection can insert meanwhile), as the numbers
//! after the table's largest key. MySQL has neither `RETURNING` nor sequences, but gives
//! a multi-row insert consecutive keys from the first, which `LAST_INSERT_ID()` returns
//! (as GORM and others rely on). Rows of a type outside the declaration's vocabulary are
//! written one at a time.
//!
//! Statements hold a power of two of rows, so that a connection's statement cache holds a
//! few shapes per table rather than one per group size.

use std::collections::HashMap;
use std::ops::Range;

use bigdecimal::BigDecimal;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use diesel::mysql::Mysql;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{self, BigInt, Integer, Nullable, Text};
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, QueryableByName, RunQueryDsl};

use super::session::{DbError, Insert};
use super::{ColumnInfo, FromValue, Value};
use crate::connection::AnyConnection;
use crate::schema::ColumnType;
use crate::url::Dialect;

/// The most rows one statement holds.
const MOST_ROWS: usize = 256;

/// Below SQLite's limit on parameters of one statement (32,766), and PostgreSQL's (65,535).
const MOST_PARAMETERS: usize = 32_766;

/// One column value, in the type of its column, ready to bind.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Bound {
    SmallInt(i16),
    Integer(i32),
    BigInt(i64),
    Bool(bool),
    Text(String),
    Float(f32),
    Double(f64),
    Numeric(BigDecimal),
    Date(NaiveDate),
    Time(NaiveTime),
    Timestamp(NaiveDateTime),
    Binary(Vec<u8>),
}

impl Bound {
    /// `value` as its column's type binds it; `None` for a type outside the vocabulary.
    pub(super) fn of(ty: &ColumnType, value: Value) -> Option<Result<Bound, super::ValueError>> {
        fn to<T: FromValue>(
            value: Value,
            bound: fn(T) -> Bound,
        ) -> Result<Bound, super::ValueError> {
            T::from_value(value).map(bound)
        }
        Some(match ty {
            ColumnType::SmallInteger => to(value, Bound::SmallInt),
            ColumnType::Integer => to(value, Bound::Integer),
            ColumnType::BigInteger => to(value, Bound::BigInt),
            ColumnType::Boolean => to(value, Bound::Bool),
            ColumnType::String(_) | ColumnType::Text | ColumnType::Enum(_) => {
                to(value, Bound::Text)
            }
            ColumnType::Float => to(value, Bound::Float),
            ColumnType::Double => to(value, Bound::Double),
            ColumnType::Numeric { .. } => to(value, Bound::Numeric),
            ColumnType::Date => to(value, Bound::Date),
            ColumnType::Time => to(value, Bound::Time),
            ColumnType::DateTime => to(value, Bound::Timestamp),
            ColumnType::Binary => to(value, Bound::Binary),
            ColumnType::Native(_) => return None,
        })
    }
}

/// How a grouped row's key is known.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum RowKey {
    /// The database assigns this integer column: the group takes the numbers first.
    Assigned(&'static ColumnInfo),
    /// Every key column is given, with these values.
    Given(Vec<Value>),
}

/// A new row as it will be written: the columns it gives (an empty one takes its default)
/// and their values.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct GroupRow {
    pub table: &'static str,
    pub columns: Vec<&'static ColumnInfo>,
    pub values: Vec<Bound>,
    pub key: RowKey,
}

impl GroupRow {
    /// Whether `other` can go in the same statement as this row.
    pub(super) fn same_shape(&self, other: &GroupRow) -> bool {
        let keys_alike = match (&self.key, &other.key) {
            (RowKey::Assigned(a), RowKey::Assigned(b)) => a.name == b.name,
            (RowKey::Given(_), RowKey::Given(_)) => true,
            _ => false,
        };
        self.table == other.table
            && keys_alike
            && self.columns.len() == other.columns.len()
            && self
                .columns
                .iter()
                .zip(&other.columns)
                .all(|(a, b)| a.name == b.name)
    }
}

/// The keys the database will assign to `count` rows of `table`, taken from the sequence
/// of `column` (PostgreSQL); `None` when the column has no sequence.
pub(super) fn take_from_sequence(
    conn: &mut AnyConnection,
    table: &str,
    column: &str,
    count: usize,
) -> Result<Option<Vec<i64>>, DbError> {
    #[derive(QueryableByName)]
    struct Taken {
        #[diesel(sql_type = Nullable<BigInt>)]
        key: Option<i64>,
    }
    let count = i32::try_from(count).unwrap_or(i32::MAX);
    let taken: Vec<Taken> = diesel::sql_query(
        "SELECT nextval(pg_get_serial_sequence($1, $2)) AS key FROM generate_series(1, $3)",
    )
    .bind::<Text, _>(Dialect::Postgres.quote(table))
    .bind::<Text, _>(column)
    .bind::<Integer, _>(count)
    .load(conn)?;
    Ok(taken.into_iter().map(|t| t.key).collect())
}

/// The key MySQL gave the first row of the last insert, and the step between the keys of
/// its rows (`auto_increment_increment`, 1 unless replication spreads keys).
fn first_key_and_step(conn: &mut AnyConnection) -> Result<(i64, i64), DbError> {
    #[derive(QueryableByName)]
    struct Given {
        #[diesel(sql_type = BigInt)]
        first: i64,
        #[diesel(sql_type = BigInt)]
        step: i64,
    }
    let given: Given = diesel::sql_query(
        "SELECT CAST(LAST_INSERT_ID() AS SIGNED) AS first, \
         CAST(@@auto_increment_increment AS SIGNED) AS step",
    )
    .get_result(conn)?;
    Ok((given.first, given.step))
}

/// The largest value of `column` in `table` (SQLite, under the write lock).
pub(super) fn largest_key(
    conn: &mut AnyConnection,
    table: &str,
    column: &str,
) -> Result<Option<i64>, DbError> {
    #[derive(QueryableByName)]
    struct Largest {
        #[diesel(sql_type = Nullable<BigInt>)]
        key: Option<i64>,
    }
    let sql = format!(
        "SELECT max({}) AS key FROM {}",
        Dialect::Sqlite.quote(column),
        Dialect::Sqlite.quote(table)
    );
    let largest: Largest = diesel::sql_query(sql).get_result(conn)?;
    Ok(largest.key)
}

/// Writes `rows` (of one shape), each with its key in `keys` when the database would
/// otherwise assign it, in statements of a power of two of rows; `after` is told the rows
/// of each statement once it ran.
pub(super) fn insert_rows(
    conn: &mut AnyConnection,
    rows: &[Waiting],
    keys: Option<&[i64]>,
    mut after: impl FnMut(&mut AnyConnection, Range<usize>) -> Result<(), DbError>,
) -> Result<(), DbError> {
    let Some(first) = rows.first().map(|w| &w.row) else {
        return Ok(());
    };
    let key_column = match (&first.key, keys) {
        (RowKey::Assigned(column), Some(_)) => Some(column.name),
        _ => None,
    };
    let width = first.columns.len() + usize::from(key_column.is_some());
    let most = (MOST_PARAMETERS / width.max(1)).clamp(1, MOST_ROWS);
    let mut start = 0;
    for size in power_of_two_sizes(rows.len(), most) {
        let statement = InsertRows {
            table: first.table,
            key_column,
            columns: &first.columns,
            rows: &rows[start..start + size],
            keys: keys.map(|k| &k[start..start + size]),
            overriding: conn.dialect() == Dialect::Postgres,
        };
        match conn {
            AnyConnection::Sqlite(c) => statement.execute(c)?,
            AnyConnection::Postgresql(c) => statement.execute(c)?,
            AnyConnection::Mysql(c) => statement.execute(c)?,
        };
        after(conn, start..start + size)?;
        start += size;
    }
    Ok(())
}

/// The keys of the rows of a commit: those it wrote, and those earlier commits did.
pub(super) struct Keys<'a> {
    pub new: HashMap<u64, Vec<Value>>,
    pub known: &'a HashMap<u64, Vec<Value>>,
}

impl Keys<'_> {
    pub fn has(&self, pending: u64) -> bool {
        self.new.contains_key(&pending) || self.known.contains_key(&pending)
    }

    pub fn of(&self, pending: u64) -> Option<Vec<Value>> {
        self.new
            .get(&pending)
            .or_else(|| self.known.get(&pending))
            .cloned()
    }
}

/// A new row waiting to be written with others of its shape.
pub(super) struct Waiting<'c> {
    pub number: u64,
    pub insert: &'c dyn Insert,
    pub row: GroupRow,
}

/// Writes the waiting rows (of one shape) and records their keys; the module says how their
/// keys are known.
pub(super) fn write_group(
    conn: &mut AnyConnection,
    waiting: &mut Vec<Waiting>,
    keys: &mut Keys,
) -> Result<(), DbError> {
    let group = std::mem::take(waiting);
    let Some(first) = group.first() else {
        return Ok(());
    };
    let alone = |conn: &mut AnyConnection, rows: &[Waiting], keys: &mut Keys| {
        for waiting in rows {
            let key = waiting.insert.write(conn, &|n| keys.of(n))?;
            keys.new.insert(waiting.number, key);
        }
        Ok::<_, DbError>(())
    };
    if group.len() == 1 {
        return alone(conn, &group, keys);
    }
    let table = first.row.table;
    let column = match &first.row.key {
        RowKey::Given(_) => {
            insert_rows(conn, &group, None, |_, _| Ok(()))?;
            for waiting in group {
                if let RowKey::Given(key) = waiting.row.key {
                    keys.new.insert(waiting.number, key);
                }
            }
            return Ok(());
        }
        RowKey::Assigned(column) => column.name,
    };
    let (rest, taken) = match conn.dialect() {
        Dialect::Postgres => (
            &group[..],
            take_from_sequence(conn, table, column, group.len())?,
        ),
        Dialect::Sqlite => {
            alone(conn, &group[..1], keys)?;
            let rest = &group[1..];
            let largest = largest_key(conn, table, column)?;
            let taken = largest.and_then(|largest| {
                (1..=rest.len() as i64)
                    .map(|i| largest.checked_add(i))
                    .collect()
            });
            (rest, taken)
        }
        Dialect::Mysql => {
            // A multi-row insert's keys are consecutive (by the step) from the first, in
            // the order of its rows: MySQL allocates them at once for an insert whose
            // number of rows is known, in every `innodb_autoinc_lock_mode`, and
            // LAST_INSERT_ID() gives the first so that the statement can be replayed.
            let mut taken = Vec::with_capacity(group.len());
            insert_rows(conn, &group, None, |conn, range| {
                let (first, step) = first_key_and_step(conn)?;
                taken.extend((0..range.len() as i64).map(|i| first + i * step));
                Ok(())
            })?;
            record(&group, taken, keys);
            return Ok(());
        }
    };
    let Some(taken) = taken else {
        return alone(conn, rest, keys);
    };
    insert_rows(conn, rest, Some(&taken), |_, _| Ok(()))?;
    record(rest, taken, keys);
    Ok(())
}

/// Each row's key, assigned by the database in the order of the rows.
fn record(rows: &[Waiting], taken: Vec<i64>, keys: &mut Keys) {
    for (waiting, key) in rows.iter().zip(taken) {
        keys.new.insert(waiting.number, vec![Value::Integer(key)]);
    }
}

/// `count` as a sum of powers of two, largest first, none over `most`.
fn power_of_two_sizes(count: usize, most: usize) -> impl Iterator<Item = usize> {
    let most = 1 << most.ilog2();
    let mut left = count;
    std::iter::from_fn(move || {
        (left > 0).then(|| {
            let size = (1 << left.ilog2()).min(most);
            left -= size;
            size
        })
    })
}

/// `INSERT INTO t (key, a, b) VALUES (…), (…)`, bound from grouped rows.
struct InsertRows<'a> {
    table: &'a str,
    /// The column of the keys given with the rows, when the database would assign them.
    key_column: Option<&'a str>,
    columns: &'a [&'static ColumnInfo],
    rows: &'a [Waiting<'a>],
    keys: Option<&'a [i64]>,
    /// PostgreSQL's `OVERRIDING SYSTEM VALUE`: a key taken from an identity column's
    /// sequence is written even where the column is `GENERATED ALWAYS`.
    overriding: bool,
}

/// The SQL differs with the number of rows and columns: Diesel caches the statement under
/// its text.
impl QueryId for InsertRows<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Conn> RunQueryDsl<Conn> for InsertRows<'_> {}

macro_rules! insert_rows_for {
    ($($backend:ty),*) => {$(
        impl QueryFragment<$backend> for InsertRows<'_> {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, $backend>) -> QueryResult<()> {
                out.push_sql("INSERT INTO ");
                out.push_identifier(self.table)?;
                out.push_sql(" (");
                let names = self.key_column.into_iter().chain(self.columns.iter().map(|c| c.name));
                for (i, name) in names.enumerate() {
                    if i > 0 {
                        out.push_sql(", ");
                    }
                    out.push_identifier(name)?;
                }
                out.push_sql(")");
                if self.overriding && self.key_column.is_some() {
                    out.push_sql(" OVERRIDING SYSTEM VALUE");
                }
                out.push_sql(" VALUES ");
                for (i, row) in self.rows.iter().map(|w| &w.row).enumerate() {
                    out.push_sql(if i == 0 { "(" } else { ", (" });
                    if let Some(keys) = self.keys {
                        out.push_bind_param::<BigInt, i64>(&keys[i])?;
                        if !row.values.is_empty() {
                            out.push_sql(", ");
                        }
                    }
                    for (j, value) in row.values.iter().enumerate() {
                        if j > 0 {
                            out.push_sql(", ");
                        }
                        match value {
                            Bound::SmallInt(v) => out.push_bind_param::<sql_types::SmallInt, _>(v)?,
                            Bound::Integer(v) => out.push_bind_param::<Integer, _>(v)?,
                            Bound::BigInt(v) => out.push_bind_param::<BigInt, _>(v)?,
                            Bound::Bool(v) => out.push_bind_param::<sql_types::Bool, _>(v)?,
                            Bound::Text(v) => out.push_bind_param::<Text, _>(v)?,
                            Bound::Float(v) => out.push_bind_param::<sql_types::Float, _>(v)?,
                            Bound::Double(v) => out.push_bind_param::<sql_types::Double, _>(v)?,
                            Bound::Numeric(v) => out.push_bind_param::<sql_types::Numeric, _>(v)?,
                            Bound::Date(v) => out.push_bind_param::<sql_types::Date, _>(v)?,
                            Bound::Time(v) => out.push_bind_param::<sql_types::Time, _>(v)?,
                            Bound::Timestamp(v) => {
                                out.push_bind_param::<sql_types::Timestamp, _>(v)?
                            }
                            Bound::Binary(v) => out.push_bind_param::<sql_types::Binary, _>(v)?,
                        }
                    }
                    out.push_sql(")");
                }
                Ok(())
            }
        }
    )*};
}

insert_rows_for!(Sqlite, Pg, Mysql);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_hold_powers_of_two_of_rows_up_to_the_most() {
        let sizes = |count, most| power_of_two_sizes(count, most).collect::<Vec<_>>();
        assert_eq!(sizes(1000, 256), [256, 256, 256, 128, 64, 32, 8]);
        assert_eq!(sizes(7, 256), [4, 2, 1]);
        assert_eq!(
            sizes(5, 3),
            [2, 2, 1],
            "the most is rounded down to a power of two"
        );
        assert_eq!(sizes(0, 256), Vec::<usize>::new());
    }
}
