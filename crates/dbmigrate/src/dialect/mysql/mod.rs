//! MySQL and MariaDB: DDL commits at once, so statements run one by one, online where the
//! server can, each recorded as it finishes; AUTO_INCREMENT keys; utf8mb4 with a binary collation; GET_LOCK.

mod admin;
mod apply;
mod connect;
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
use crate::apply::{ApplyError, LockHolder, LockPolicy, Notice, Plan, Run, TableLock};
use crate::connection::{AnyConnection, ConnectError, ConnectFailure, Timeouts};
use crate::lock::{LockError, MigrationLock};
use crate::ops::{Op, OpError};
use crate::schema::{ColumnType, ForeignKey, Schema, Table};
use crate::url::DatabaseUrl;
use crate::violation::ConstraintViolation;

pub struct Mysql;

impl SqlDialect for Mysql {
    fn dialect(&self) -> Dialect {
        Dialect::Mysql
    }
    fn name(&self) -> &'static str {
        "mysql"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["mysql", "mariadb"]
    }
    fn url_schemes(&self) -> (&'static str, &'static str) {
        ("mysql", "mysql")
    }
    fn quote(&self, ident: &str) -> String {
        format!("`{}`", ident.replace('`', "``"))
    }
    fn type_sql(&self, ty: &ColumnType) -> String {
        render::type_sql(ty)
    }
    fn assigned_key_clause(&self) -> &'static str {
        " AUTO_INCREMENT"
    }
    fn char_length(&self) -> &'static str {
        "CHAR_LENGTH"
    }
    fn current_timestamp(&self) -> &'static str {
        "CURRENT_TIMESTAMP(6)"
    }
    fn table_options(&self) -> &'static str {
        render::TABLE_OPTIONS
    }
    fn enum_by_check(&self) -> bool {
        false
    }
    fn drop_index(&self, table: &str, name: &str) -> String {
        format!("DROP INDEX {} ON {}", self.quote(name), self.quote(table))
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
    fn as_catalog_keeps(&self, schema: &mut Schema) {
        inspect::as_catalog_keeps(schema)
    }
    fn lock(
        &self,
        conn: &mut AnyConnection,
        url: &DatabaseUrl,
        waiting: &mut dyn FnMut(),
    ) -> Result<MigrationLock, LockError> {
        lock::lock(conn, url, waiting)
    }
    fn lock_wait_setup(&self, policy: &LockPolicy) -> Option<String> {
        Some(lock::wait_setup(policy))
    }
    fn lock_holders(
        &self,
        conn: &mut AnyConnection,
        locks: &[TableLock],
        after_timeout: bool,
    ) -> QueryResult<Vec<LockHolder>> {
        lock::holders(conn, locks, after_timeout)
    }
    fn execute_alone(
        &self,
        conn: &mut AnyConnection,
        statement: &str,
        notify: &mut dyn FnMut(Notice),
    ) -> QueryResult<()> {
        online::execute(conn, statement, notify)
    }
    fn cast_to_bigint(&self, expression: &str) -> String {
        format!("CAST({expression} AS SIGNED)")
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
