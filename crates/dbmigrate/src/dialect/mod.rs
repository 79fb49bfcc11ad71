//! Everything that differs between databases, one folder per database with the same files
//! in each, as Atlas and SQLAlchemy lay out their dialects:
//!
//! | file | what it holds |
//! |---|---|
//! | `render.rs` | quoting, type spellings, and each operation as this database's statements |
//! | `apply.rs` | how a revision's statements run: transaction, checks before commit |
//! | `inspect.rs` | the catalog read into the neutral schema model |
//! | `lock.rs` | the migration lock |
//! | `admin.rs` | creating and dropping whole databases on a server |
//! | `history.rs` | the history table's column types |
//! | `errors.rs` | what the driver's errors mean: constraint violations, connection failures |
//! | `connect.rs` | opening a connection and setting it up |
//! | `insert.rs` | an insert that gives back the key the database assigned |
//!
//! The rest of the engine asks a [`Dialect`] through [`SqlDialect`] and never matches on it;
//! a fourth database is a fourth folder, a variant here and one in `AnyConnection`.

mod common;
pub mod mysql;
pub mod postgres;
pub mod sqlite;

use std::fmt;

use diesel::QueryResult;
use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind};

pub use common::REBUILD_PREFIX;

use crate::apply::{ApplyError, Drafted, LockHolder, LockPolicy, Notice, Plan, Run, TableLock};
use crate::connection::{AnyConnection, ConnectError, ConnectFailure, Timeouts};
use crate::lock::{LockError, MigrationLock};
use crate::ops::{Op, OpError};
use crate::schema::{Column, ColumnDefault, ColumnType, ForeignKey, Index, Schema, Table};
use crate::url::DatabaseUrl;
use crate::violation::ConstraintViolation;

/// The database families the engine speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    Sqlite,
    Postgres,
    Mysql,
}

/// What one database does its own way.
pub trait SqlDialect: Send + Sync {
    fn dialect(&self) -> Dialect;
    /// The name people and messages use: `sqlite`, `postgresql`, `mysql`.
    fn name(&self) -> &'static str;
    /// The URL schemes (before any `+driver`) that name this database.
    fn schemes(&self) -> &'static [&'static str];
    /// The scheme its driver takes, and the one shown to people.
    fn url_schemes(&self) -> (&'static str, &'static str);

    // render.rs
    /// An identifier quoted, so that reserved words such as `user` are safe.
    fn quote(&self, ident: &str) -> String {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }
    fn type_sql(&self, ty: &ColumnType) -> String;
    /// The type of a column whose values the database assigns, where it has its own.
    fn assigned_key_type(&self, column: &Column) -> Option<String> {
        let _ = column;
        None
    }
    /// What follows the definition of a column whose values the database assigns.
    fn assigned_key_clause(&self) -> &'static str {
        ""
    }
    /// The function that counts a string's characters (not its bytes).
    fn char_length(&self) -> &'static str {
        "LENGTH"
    }
    fn current_timestamp(&self) -> &'static str {
        "CURRENT_TIMESTAMP"
    }
    /// Whether an enumeration is a VARCHAR held to its values by a CHECK constraint (the
    /// database has no ENUM type of a column's own).
    fn enum_by_check(&self) -> bool {
        true
    }
    /// What follows CREATE TABLE's parenthesis.
    fn table_options(&self) -> &'static str {
        ""
    }
    fn drop_index(&self, table: &str, name: &str) -> String {
        let _ = table;
        format!("DROP INDEX {}", self.quote(name))
    }
    /// A foreign key renamed in one statement, keeping the index it uses; `None` where the
    /// database cannot.
    fn rename_foreign_key(&self, table: &str, from: &str, key: &ForeignKey) -> Option<String> {
        let _ = (table, from, key);
        None
    }
    /// The statements that take a database from `before` to `after`, which `op` makes.
    fn op_statements(
        &self,
        op: &Op,
        before: &Schema,
        after: &Schema,
    ) -> Result<Vec<String>, OpError>;

    /// The steps that apply `op`: its statements, in the revision's transaction unless the
    /// database has a form that keeps the site running for a table that was there before
    /// the revision (`existing`) and the operation does not ask for the plain one.
    fn op_steps(
        &self,
        op: &Op,
        before: &Schema,
        after: &Schema,
        existing: bool,
    ) -> Result<Vec<Drafted>, OpError> {
        let _ = existing;
        Ok(self
            .op_statements(op, before, after)?
            .into_iter()
            .map(Drafted::shared)
            .collect())
    }
    /// `expression` as a BIGINT, for reading it back as one.
    fn cast_to_bigint(&self, expression: &str) -> String {
        format!("CAST({expression} AS BIGINT)")
    }

    // apply.rs
    /// Runs one statement outside any transaction, in the form the database runs best.
    fn execute_alone(
        &self,
        conn: &mut AnyConnection,
        statement: &str,
        notify: &mut dyn FnMut(Notice),
    ) -> QueryResult<()> {
        let _ = notify;
        diesel::connection::SimpleConnection::batch_execute(conn, statement)
    }
    /// Runs a plan's steps, then `finish`, as one unit where the database allows.
    fn run(
        &self,
        conn: &mut AnyConnection,
        plan: &Plan,
        run: &mut Run,
        finish: &mut dyn FnMut(&mut AnyConnection) -> QueryResult<()>,
    ) -> Result<(), ApplyError>;
    /// Whether a revision that would break the release serving can run side by side
    /// (`crate::expand`): schemas of views, and triggers.
    fn runs_side_by_side(&self) -> bool {
        false
    }
    /// Whether a plan whose steps cannot share one transaction runs in phases
    /// (`apply::phases`), each recorded as it finishes.
    fn runs_in_phases(&self) -> bool {
        false
    }
    /// What a `--sql` script puts before and after each transaction of a revision.
    fn script_frame(&self) -> (&'static str, &'static str);
    /// Whether a step must start from the live catalog rather than the revisions' account
    /// (SQLite's rebuilds copy tables as they really are).
    fn steps_from_catalog(&self) -> bool {
        false
    }

    // inspect.rs
    /// Every table's name, engine tables included.
    fn table_names(&self, conn: &mut AnyConnection) -> QueryResult<Vec<String>>;
    fn tables(&self, conn: &mut AnyConnection) -> QueryResult<Vec<Table>>;
    /// A declared schema told as this database stores it, so that it compares equal to the
    /// catalog it made (what cannot be stored is not a difference).
    fn as_stored(&self, schema: &mut Schema) {
        let _ = schema;
    }
    /// A schema told as this database's catalog can tell it apart (what it keeps as one
    /// thing is one thing).
    fn as_catalog_keeps(&self, schema: &mut Schema) {
        let _ = schema;
    }

    // lock.rs
    fn lock(
        &self,
        conn: &mut AnyConnection,
        url: &DatabaseUrl,
        waiting: &mut dyn FnMut(),
    ) -> Result<MigrationLock, LockError>;
    /// What a migration's connection sets first: how long a statement waits for a lock.
    fn lock_wait_setup(&self, policy: &LockPolicy) -> Option<String> {
        let _ = policy;
        None
    }
    /// Sets how long each next statement waits for a lock (`Duration::ZERO`: as long as
    /// it takes), for statements that keep no one waiting meanwhile.
    fn lock_timeout_sql(&self, timeout: std::time::Duration) -> Option<String> {
        let _ = timeout;
        None
    }
    /// The sessions that hold locks conflicting with `locks`: before a try, only those that
    /// have held theirs for long (the try then waits rather than queue behind them); after
    /// a try timed out, those that may be why.
    fn lock_holders(
        &self,
        conn: &mut AnyConnection,
        locks: &[TableLock],
        after_timeout: bool,
    ) -> QueryResult<Vec<LockHolder>> {
        let _ = (conn, locks, after_timeout);
        Ok(Vec::new())
    }

    // admin.rs
    /// Databases of the server that can be connected to when the wanted one is missing.
    fn maintenance_databases(&self) -> &'static [&'static str];
    /// Counts the databases named `$1`/`?` (one parameter).
    fn database_exists_query(&self) -> &'static str;
    fn create_database(&self, name: &str) -> String;
    fn drop_database(&self, name: &str) -> String;

    // history.rs
    /// The type of the engine's tables' short text columns (revision ids, checksums).
    /// The type and default of the history table's `applied_at` column.
    fn word_type(&self) -> &'static str {
        "VARCHAR(64)"
    }
    fn applied_at_column(&self) -> &'static str {
        "TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP"
    }

    // errors.rs
    fn constraint_violation(
        &self,
        kind: &DatabaseErrorKind,
        info: &(dyn DatabaseErrorInformation + Send + Sync),
        schema: &Schema,
    ) -> Option<ConstraintViolation>;
    /// What a connection failure's message (drivers give no codes then) means, for the
    /// database named `database`.
    fn connect_failure(&self, message: &str, database: &str) -> ConnectFailure;

    // connect.rs
    fn connect(&self, url: &DatabaseUrl, timeouts: Timeouts)
    -> Result<AnyConnection, ConnectError>;
}

impl Dialect {
    pub const ALL: [Dialect; 3] = [Dialect::Sqlite, Dialect::Postgres, Dialect::Mysql];

    /// How this database does what differs.
    pub fn sql(self) -> &'static dyn SqlDialect {
        match self {
            Dialect::Sqlite => &sqlite::Sqlite,
            Dialect::Postgres => &postgres::Postgres,
            Dialect::Mysql => &mysql::Mysql,
        }
    }

    pub fn name(self) -> &'static str {
        self.sql().name()
    }

    /// The database a URL scheme (before any `+driver`) names.
    pub fn from_scheme(scheme: &str) -> Option<Dialect> {
        Dialect::ALL
            .into_iter()
            .find(|d| d.sql().schemes().contains(&scheme))
    }

    pub fn quote(self, ident: &str) -> String {
        self.sql().quote(ident)
    }

    pub fn quote_list(self, idents: &[String]) -> String {
        idents
            .iter()
            .map(|i| self.quote(i))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn type_sql(self, ty: &ColumnType) -> String {
        self.sql().type_sql(ty)
    }

    pub fn default_sql(self, default: &ColumnDefault) -> String {
        match default {
            ColumnDefault::Literal(sql) => sql.clone(),
            ColumnDefault::CurrentTimestamp => self.sql().current_timestamp().into(),
        }
    }

    /// A column of `table` as it appears inside CREATE TABLE or ADD COLUMN.
    pub fn column_sql(self, table: &str, column: &Column) -> String {
        let sql_dialect = self.sql();
        let assigned = column.autoincrement;
        let ty = assigned
            .then(|| sql_dialect.assigned_key_type(column))
            .flatten()
            .unwrap_or_else(|| self.type_sql(&column.ty));
        let mut sql = format!("{} {ty}", self.quote(&column.name));
        if !column.nullable {
            sql.push_str(" NOT NULL");
        }
        if let Some(default) = &column.default {
            sql.push_str(" DEFAULT ");
            sql.push_str(&self.default_sql(default));
        }
        if assigned {
            sql.push_str(sql_dialect.assigned_key_clause());
        }
        if let Some(check) = self.enum_check(table, column) {
            sql.push(' ');
            sql.push_str(&check);
        }
        sql
    }

    /// `CONSTRAINT ck_… CHECK (col IN (…))` for an enumeration, where the database has no
    /// ENUM type.
    pub fn enum_check(self, table: &str, column: &Column) -> Option<String> {
        let ColumnType::Enum(values) = &column.ty else {
            return None;
        };
        self.sql().enum_by_check().then(|| {
            format!(
                "CONSTRAINT {} CHECK ({} IN ({}))",
                self.quote(&crate::schema::enum_check_name(table, &column.name)),
                self.quote(&column.name),
                crate::schema::enum_values_sql(values)
            )
        })
    }

    pub fn foreign_key_sql(self, fk: &ForeignKey) -> String {
        let mut sql = format!(
            "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})",
            self.quote(&fk.name),
            self.quote_list(&fk.columns),
            self.quote(&fk.ref_table),
            self.quote_list(&fk.ref_columns),
        );
        if let Some(action) = fk.on_delete {
            sql.push_str(" ON DELETE ");
            sql.push_str(action.sql());
        }
        sql
    }

    /// CREATE TABLE, then one CREATE INDEX per index.
    pub fn create_table(self, table: &Table) -> Vec<String> {
        let mut parts: Vec<String> = table
            .columns
            .iter()
            .map(|c| self.column_sql(&table.name, c))
            .collect();
        if !table.primary_key.is_empty() {
            parts.push(format!(
                "PRIMARY KEY ({})",
                self.quote_list(&table.primary_key)
            ));
        }
        for unique in &table.unique_constraints {
            parts.push(format!(
                "CONSTRAINT {} UNIQUE ({})",
                self.quote(&unique.name),
                self.quote_list(&unique.columns)
            ));
        }
        for fk in &table.foreign_keys {
            parts.push(self.foreign_key_sql(fk));
        }
        for check in &table.check_constraints {
            parts.push(format!(
                "CONSTRAINT {} CHECK ({})",
                self.quote(&check.name),
                check.condition
            ));
        }
        let mut statements = vec![format!(
            "CREATE TABLE {} (\n    {}\n){}",
            self.quote(&table.name),
            parts.join(",\n    "),
            self.sql().table_options()
        )];
        statements.extend(
            table
                .indexes
                .iter()
                .map(|i| self.create_index(&table.name, i)),
        );
        statements
    }

    pub fn create_index(self, table: &str, index: &Index) -> String {
        let mut sql = format!(
            "CREATE {}INDEX {} ON {} ({})",
            if index.unique { "UNIQUE " } else { "" },
            self.quote(&index.name),
            self.quote(table),
            self.quote_list(&index.columns)
        );
        if let Some(predicate) = &index.predicate {
            sql.push_str(" WHERE ");
            sql.push_str(predicate);
        }
        sql
    }

    pub fn drop_index(self, table: &str, name: &str) -> String {
        self.sql().drop_index(table, name)
    }

    pub fn drop_table(self, table: &str) -> String {
        format!("DROP TABLE {}", self.quote(table))
    }

    pub fn rename_foreign_key(self, table: &str, from: &str, key: &ForeignKey) -> Option<String> {
        self.sql().rename_foreign_key(table, from, key)
    }

    /// The statements that apply `op` to a database whose schema is `before`.
    pub fn op_statements(self, op: &Op, before: &Schema) -> Result<Vec<String>, OpError> {
        let resolved = op.resolved(before);
        let op = resolved.as_ref().unwrap_or(op);
        let mut after = before.clone();
        after.apply(op)?;
        self.sql().op_statements(op, before, &after)
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests;
