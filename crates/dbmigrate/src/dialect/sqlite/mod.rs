//! SQLite: a file, a transaction per revision with foreign keys checked before commit, and
//! the table rebuild where its ALTER TABLE falls short.

mod admin;
mod apply;
mod connect;
mod errors;
mod history;
mod insert;
pub(crate) mod inspect;
mod lock;
mod render;

use diesel::QueryResult;
use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind};

use super::{Dialect, SqlDialect};
use crate::apply::{ApplyError, LockPolicy, Plan, Run};
use crate::connection::{AnyConnection, ConnectError, ConnectFailure, Timeouts};
use crate::lock::{LockError, MigrationLock};
use crate::ops::{Op, OpError};
use crate::schema::{Column, ColumnType, Schema, Table};
use crate::url::DatabaseUrl;
use crate::violation::ConstraintViolation;

pub struct Sqlite;

impl SqlDialect for Sqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
    fn name(&self) -> &'static str {
        "sqlite"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["sqlite", "sqlite3"]
    }
    fn url_schemes(&self) -> (&'static str, &'static str) {
        ("sqlite", "sqlite")
    }
    fn type_sql(&self, ty: &ColumnType) -> String {
        render::type_sql(ty)
    }
    fn assigned_key_type(&self, _: &Column) -> Option<String> {
        render::assigned_key_type()
    }
    fn op_statements(
        &self,
        op: &Op,
        before: &Schema,
        after: &Schema,
    ) -> Result<Vec<String>, OpError> {
        render::op_statements(self, op, before, after)
    }
    fn run(
        &self,
        conn: &mut AnyConnection,
        plan: &Plan,
        run: &mut Run,
        finish: &mut dyn FnMut(&mut AnyConnection) -> QueryResult<()>,
    ) -> Result<(), ApplyError> {
        apply::run(conn, plan, run, finish)
    }
    fn script_frame(&self) -> (&'static str, &'static str) {
        apply::SCRIPT_FRAME
    }
    fn steps_from_catalog(&self) -> bool {
        true
    }
    fn table_names(&self, conn: &mut AnyConnection) -> QueryResult<Vec<String>> {
        inspect::table_names(conn)
    }
    fn tables(&self, conn: &mut AnyConnection) -> QueryResult<Vec<Table>> {
        inspect::tables(conn)
    }
    fn as_stored(&self, schema: &mut Schema) {
        inspect::as_stored(schema)
    }
    fn lock(
        &self,
        conn: &mut AnyConnection,
        url: &DatabaseUrl,
        waiting: &mut dyn FnMut(),
    ) -> Result<MigrationLock, LockError> {
        let held = lock::lock(url, waiting)?;
        lock::commit_without_syncing_each_revision(conn);
        Ok(held)
    }
    fn lock_wait_setup(&self, policy: &LockPolicy) -> Option<String> {
        // Zero would be no waiting at all to SQLite; the largest it takes is as good as none.
        let ms = match policy.timeout.as_millis() {
            0 => i32::MAX as u128,
            ms => ms.min(i32::MAX as u128),
        };
        Some(format!("PRAGMA busy_timeout = {ms};"))
    }
    fn maintenance_databases(&self) -> &'static [&'static str] {
        admin::MAINTENANCE_DATABASES
    }
    fn database_exists_query(&self) -> &'static str {
        admin::EXISTS
    }
    fn create_database(&self, _: &str) -> String {
        admin::NO_STATEMENT.into()
    }
    fn drop_database(&self, _: &str) -> String {
        admin::NO_STATEMENT.into()
    }
    fn applied_at_column(&self) -> &'static str {
        history::APPLIED_AT
    }
    fn constraint_violation(
        &self,
        kind: &DatabaseErrorKind,
        info: &(dyn DatabaseErrorInformation + Send + Sync),
        schema: &Schema,
    ) -> Option<ConstraintViolation> {
        errors::constraint_violation(kind, info, schema)
    }
    fn connect_failure(&self, _: &str, _: &str) -> ConnectFailure {
        ConnectFailure::SqliteUnopenable
    }
    fn connect(
        &self,
        url: &DatabaseUrl,
        timeouts: Timeouts,
    ) -> Result<AnyConnection, ConnectError> {
        connect::connect(url, timeouts)
    }
}
