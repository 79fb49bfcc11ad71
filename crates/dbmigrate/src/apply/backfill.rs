//! Backfills: existing rows updated in batches by key, each batch a short transaction of its
//! own on PostgreSQL and MySQL, so that no lock is held on many rows at once and the site
//! goes on between batches. A batch covers the next `batch_size` keys, whatever the
//! condition, so every batch is as cheap to find as the last; the key it reached is
//! recorded with it (on PostgreSQL, in the same transaction), so that a run stopped
//! partway goes on after the last key done, and nothing is done twice.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Nullable};
use diesel::{Connection, QueryResult, QueryableByName, RunQueryDsl, sql_query};

use super::locks::{self, LockMode, LockPolicy, Notice, TableLock};
use super::{ApplyError, Drafted, Placement, Plan, Work, failure};
use crate::connection::AnyConnection;
use crate::ops::{Op, OpError, batch_key};
use crate::schema::Schema;
use crate::url::Dialect;

const DEFAULT_BATCH: u32 = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backfill {
    pub table: String,
    /// The table's key, one integer column, that batches follow.
    pub key: String,
    /// Each column set, to an SQL expression.
    pub set: Vec<(String, String)>,
    pub condition: Option<String>,
    pub batch_size: u32,
    pub pause: Duration,
}

/// The step of an `Op::Backfill` on a table of `schema`.
pub(crate) fn draft(op: &Op, schema: &Schema) -> Result<Drafted, OpError> {
    let Op::Backfill {
        table,
        set,
        condition,
        batch_size,
        pause_ms,
    } = op
    else {
        unreachable!("only backfills are drafted here")
    };
    let found = schema
        .table(table)
        .ok_or_else(|| OpError::NoTable(table.clone()))?;
    let backfill = Backfill {
        table: table.clone(),
        key: batch_key(found)?.to_string(),
        set: set.iter().map(|(c, e)| (c.clone(), e.clone())).collect(),
        condition: condition.clone(),
        batch_size: batch_size.unwrap_or(DEFAULT_BATCH).max(1),
        pause: Duration::from_millis(pause_ms.unwrap_or(0)),
    };
    Ok(Drafted {
        work: Work::Backfill(backfill),
        placement: Placement::Outside,
        locks: Some(vec![TableLock::new(table, LockMode::RowExclusive)]),
        reaches: None,
        cleanup: None,
    })
}

#[derive(QueryableByName)]
struct Bound {
    #[diesel(sql_type = Nullable<BigInt>)]
    n: Option<i64>,
}

/// A batch that could not be done.
pub(crate) enum BatchError {
    Database(diesel::result::Error),
    Apply(ApplyError),
}

impl From<diesel::result::Error> for BatchError {
    fn from(error: diesel::result::Error) -> Self {
        BatchError::Database(error)
    }
}

impl BatchError {
    /// As the failure of step `position` of `plan`.
    pub(crate) fn at(self, plan: &Plan, position: usize) -> ApplyError {
        match self {
            BatchError::Database(error) => failure(plan, position, error),
            BatchError::Apply(error) => error,
        }
    }
}

impl Backfill {
    fn assignments(&self, dialect: Dialect) -> String {
        let set: Vec<String> = self
            .set
            .iter()
            .map(|(column, expression)| format!("{} = {expression}", dialect.quote(column)))
            .collect();
        set.join(", ")
    }

    fn condition_sql(&self) -> String {
        self.condition
            .as_ref()
            .map(|c| format!(" AND ({c})"))
            .unwrap_or_default()
    }

    /// Whether it sets columns `before` has: rows that undoing the revision cannot restore.
    pub(crate) fn changes_existing_rows(&self, before: &Schema) -> bool {
        before.table(&self.table).is_some_and(|table| {
            self.set
                .iter()
                .any(|(column, _)| table.find_column(column).is_some())
        })
    }

    /// The UPDATE of one batch, after key `after` up to key `upto`.
    fn batch_sql(&self, dialect: Dialect, after: i64, upto: i64) -> String {
        let key = dialect.quote(&self.key);
        format!(
            "UPDATE {} SET {} WHERE {key} > {after} AND {key} <= {upto}{}",
            dialect.quote(&self.table),
            self.assignments(dialect),
            self.condition_sql()
        )
    }

    /// The backfill as one statement over every row, and how it runs, for messages.
    pub fn describe_sql(&self) -> String {
        let dialect = Dialect::Postgres;
        let condition = self.condition.as_deref().unwrap_or("TRUE");
        format!(
            "UPDATE {} SET {} WHERE {condition} -- in batches of {} by {}",
            dialect.quote(&self.table),
            self.assignments(dialect),
            self.batch_size,
            self.key
        )
    }

    /// The backfill in a script: on PostgreSQL, a loop committing each batch; elsewhere
    /// one UPDATE, as a script cannot loop there.
    pub fn script_sql(&self, dialect: Dialect) -> String {
        let q = |name: &str| dialect.quote(name);
        if dialect != Dialect::Postgres {
            let condition = self.condition.as_deref().unwrap_or("1 = 1");
            return format!(
                "UPDATE {} SET {} WHERE {condition}",
                q(&self.table),
                self.assignments(dialect)
            );
        }
        let (table, key) = (q(&self.table), q(&self.key));
        format!(
            "DO $$\nDECLARE\n    done bigint := (SELECT MIN({key}) - 1 FROM {table});\n    upto bigint;\nBEGIN\n    LOOP\n        SELECT MAX({key}) INTO upto FROM (SELECT {key} FROM {table} WHERE {key} > done ORDER BY {key} LIMIT {}) batch;\n        EXIT WHEN upto IS NULL;\n        UPDATE {table} SET {} WHERE {key} > done AND {key} <= upto{};\n        COMMIT;\n        done := upto;\n    END LOOP;\nEND\n$$",
            self.batch_size,
            self.assignments(dialect),
            self.condition_sql()
        )
    }

    fn bound(&self, conn: &mut AnyConnection, sql: String) -> QueryResult<Option<i64>> {
        Ok(sql_query(sql).get_result::<Bound>(conn)?.n)
    }

    /// The smallest and largest keys there are.
    fn key_range(&self, conn: &mut AnyConnection) -> QueryResult<Option<(i64, i64)>> {
        let dialect = conn.dialect();
        let (key, table) = (dialect.quote(&self.key), dialect.quote(&self.table));
        let sql = |f: &str| {
            format!(
                "SELECT {} AS n FROM {table}",
                dialect.sql().cast_to_bigint(&format!("{f}({key})"))
            )
        };
        let low = self.bound(conn, sql("MIN"))?;
        let high = self.bound(conn, sql("MAX"))?;
        Ok(low.zip(high))
    }

    /// The last key of the batch after key `after`; `None` when no key follows.
    fn batch_end(&self, conn: &mut AnyConnection, after: i64) -> QueryResult<Option<i64>> {
        let dialect = conn.dialect();
        let (key, table) = (dialect.quote(&self.key), dialect.quote(&self.table));
        self.bound(
            conn,
            format!(
                "SELECT {} AS n FROM (SELECT {key} FROM {table} WHERE {key} > {after} ORDER BY {key} LIMIT {}) batch",
                dialect.sql().cast_to_bigint(&format!("MAX({key})")),
                self.batch_size
            ),
        )
    }

    /// Every batch on `conn` as it is, inside whatever transaction it is in (SQLite's
    /// revision transaction).
    pub(crate) fn run_inline(
        &self,
        conn: &mut AnyConnection,
        notify: &mut dyn FnMut(Notice),
    ) -> QueryResult<()> {
        let Some((low, high)) = self.key_range(conn)? else {
            return Ok(());
        };
        let mut done = low - 1;
        while let Some(upto) = self.batch_end(conn, done)? {
            conn.batch_execute(&self.batch_sql(conn.dialect(), done, upto))?;
            done = upto;
            notify(self.progress(low, high, done));
        }
        Ok(())
    }

    /// Every batch after key `resume_after` (all of them for `None`), each in a transaction
    /// of its own with `record(conn, last key done)`, waiting for row locks as `policy`
    /// says, pausing between batches.
    pub(crate) fn run_batched(
        &self,
        conn: &mut AnyConnection,
        policy: &LockPolicy,
        notify: &mut dyn FnMut(Notice),
        resume_after: Option<i64>,
        record: &mut dyn FnMut(&mut AnyConnection, i64) -> QueryResult<()>,
    ) -> Result<(), BatchError> {
        let Some((low, high)) = self.key_range(conn)? else {
            return Ok(());
        };
        let mut done = resume_after.unwrap_or(low - 1);
        let locks = [TableLock::new(&self.table, LockMode::RowExclusive)];
        while let Some(upto) = self.batch_end(conn, done)? {
            let sql = self.batch_sql(conn.dialect(), done, upto);
            locks::retrying(conn, policy, &locks, notify, |c| {
                c.transaction(|t| {
                    t.batch_execute(&sql)?;
                    record(t, upto)
                })
                .map_err(ApplyError::Database)
            })
            .map_err(|error| match error {
                ApplyError::Database(error) => BatchError::Database(error),
                other => BatchError::Apply(other),
            })?;
            done = upto;
            notify(self.progress(low, high, done));
            if !self.pause.is_zero() {
                std::thread::sleep(self.pause);
            }
        }
        Ok(())
    }

    fn progress(&self, low: i64, high: i64, done: i64) -> Notice {
        Notice::Backfilled {
            table: self.table.clone(),
            done: (done - low + 1).max(0) as u64,
            total: (high - low + 1).max(0) as u64,
        }
    }
}
