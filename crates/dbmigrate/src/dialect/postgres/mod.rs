//! PostgreSQL: transactional DDL, so a revision is all or nothing; SERIAL keys; an advisory
//! lock; the catalog read from `pg_catalog`.

mod admin;
mod apply;
mod connect;
pub use connect::session_settings;
mod errors;
mod history;
mod insert;
pub(crate) mod inspect;
mod lock;
mod online;
mod render;

use diesel::QueryResult;
use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind};

use super::{Dialect, SqlDialect};
use crate::apply::{ApplyError, Drafted, LockHolder, LockPolicy, Plan, Run, TableLock};
use crate::connection::{AnyConnection, ConnectError, ConnectFailure, Timeouts};
use crate::lock::{LockError, MigrationLock};
use crate::ops::{Op, OpError};
use crate::schema::{Column, ColumnType, ForeignKey, Schema, Table};
use crate::url::DatabaseUrl;
use crate::violation::ConstraintViolation;

pub struct Postgres;

impl SqlDialect for Postgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
    fn name(&self) -> &'static str {
        "postgresql"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["postgresql", "postgres", "pgsql"]
    }
    fn url_schemes(&self) -> (&'static str, &'static str) {
        ("postgres", "postgresql")
    }
    fn type_sql(&self, ty: &ColumnType) -> String {
        render::type_sql(ty)
    }
    fn assigned_key_type(&self, column: &Column) -> Option<String> {
        Some(render::serial_type(&column.ty))
    }
    fn rename_foreign_key(&self, table: &str, from: &str, key: &ForeignKey) -> Option<String> {
        Some(render::rename_foreign_key(self, table, from, key))
    }
    fn op_statements(
        &self,
        op: &Op,
        before: &Schema,
        after: &Schema,
    ) -> Result<Vec<String>, OpError> {
        render::op_statements(self, op, before, after)
    }
    fn op_steps(
        &self,
        op: &Op,
        before: &Schema,
        after: &Schema,
        existing: bool,
    ) -> Result<Vec<Drafted>, OpError> {
        online::op_steps(self, op, before, after, existing)
    }
    fn runs_in_phases(&self) -> bool {
        true
    }
    fn runs_side_by_side(&self) -> bool {
        true
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
    fn table_names(&self, conn: &mut AnyConnection) -> QueryResult<Vec<String>> {
        inspect::table_names(conn)
    }
    fn tables(&self, conn: &mut AnyConnection) -> QueryResult<Vec<Table>> {
        inspect::tables(conn)
    }
    fn lock(
        &self,
        conn: &mut AnyConnection,
        _: &DatabaseUrl,
        waiting: &mut dyn FnMut(),
    ) -> Result<MigrationLock, LockError> {
        lock::lock(conn, waiting)
    }
    fn lock_wait_setup(&self, policy: &LockPolicy) -> Option<String> {
        Some(lock::wait_setup(policy))
    }
    fn lock_timeout_sql(&self, timeout: std::time::Duration) -> Option<String> {
        Some(lock::timeout_sql(timeout))
    }
    fn lock_holders(
        &self,
        conn: &mut AnyConnection,
        locks: &[TableLock],
        after_timeout: bool,
    ) -> QueryResult<Vec<LockHolder>> {
        lock::holders(conn, locks, after_timeout)
    }
    fn maintenance_databases(&self) -> &'static [&'static str] {
        admin::MAINTENANCE_DATABASES
    }
    fn database_exists_query(&self) -> &'static str {
        admin::EXISTS
    }
    fn create_database(&self, name: &str) -> String {
        admin::create_database(self, name)
    }
    fn drop_database(&self, name: &str) -> String {
        admin::drop_database(self, name)
    }
    fn word_type(&self) -> &'static str {
        history::WORD
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
    fn connect_failure(&self, message: &str, database: &str) -> ConnectFailure {
        errors::connect_failure(message, database)
    }
    fn connect(
        &self,
        url: &DatabaseUrl,
        timeouts: Timeouts,
    ) -> Result<AnyConnection, ConnectError> {
        connect::connect(url, timeouts)
    }
}
