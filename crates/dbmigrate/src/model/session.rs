//! The unit of work of SQLAlchemy's `db.session`: add, change and delete objects, then
//! `commit` writes all of it in one transaction, or none of it; `rollback` forgets it.
//!
//! As SQLAlchemy does, a commit orders its statements by the foreign keys between the
//! tables, whatever order the calls came in: rows are inserted parents first (an author
//! before the post that references it) and deleted children first (posts before their
//! author).

use std::collections::HashMap;
use std::marker::PhantomData;

use diesel::Connection;

use super::grouped::{Bound, GroupRow, Keys, RowKey, Waiting, write_group};
use super::{Key, Model, NewRow, Value, ValueError};
use crate::connection::AnyConnection;
use crate::schema::Schema;
use crate::url::Dialect;
use crate::violation::{ConstraintViolation, constraint_violation};

/// An object added to the session, not yet written: after a commit, [`Session::id_of`]
/// gives its key.
pub struct Pending<M> {
    key: u64,
    model: PhantomData<fn() -> M>,
}

impl<M> Pending<M> {
    /// The session's own number for the object.
    #[doc(hidden)]
    pub fn number(&self) -> u64 {
        self.key
    }
}

impl<M> Clone for Pending<M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M> Copy for Pending<M> {}
impl<M> PartialEq for Pending<M> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<M> Eq for Pending<M> {}
impl<M> std::fmt::Debug for Pending<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pending#{}", self.key)
    }
}

/// Another row a new row refers to: one already stored, or one added to the same unit of
/// work whose key is not known until it is written.
pub enum Ref<'a, M> {
    Stored(&'a M),
    Pending(Pending<M>),
}

impl<'a, M> From<&'a M> for Ref<'a, M> {
    fn from(row: &'a M) -> Self {
        Ref::Stored(row)
    }
}

impl<M> From<Pending<M>> for Ref<'_, M> {
    fn from(pending: Pending<M>) -> Self {
        Ref::Pending(pending)
    }
}

/// The columns of a new row that take the key of a row pending in the same unit of work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingRefs(Vec<(&'static str, u64)>);

impl PendingRefs {
    pub fn set(&mut self, column: &'static str, pending: u64) {
        self.forget(column);
        self.0.push((column, pending));
    }

    pub fn forget(&mut self, column: &str) {
        self.0.retain(|(c, _)| *c != column);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.0.iter().copied()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    Constraint(ConstraintViolation),
    #[error("{table}.{column} holds at most {max} characters, and {actual} were given")]
    TooLong {
        table: &'static str,
        column: &'static str,
        max: usize,
        actual: usize,
    },
    #[error("'{value}' is not one of the values of {table}.{column}: {}", .allowed.join(", "))]
    NotAllowed {
        table: &'static str,
        column: &'static str,
        value: String,
        allowed: &'static [&'static str],
    },
    #[error(
        "{table}.{column} refers to a row that was added to the session but is neither saved nor part of this commit"
    )]
    ReferenceNotSaved {
        table: &'static str,
        column: &'static str,
    },
    #[error("{model} has no column '{column}'; its columns are {}", .columns.join(", "))]
    UnknownColumn {
        model: &'static str,
        column: String,
        columns: Vec<&'static str>,
    },
    #[error("{model} has no relationship '{name}'")]
    UnknownRelation { model: &'static str, name: String },
    #[error("{model}.{column} {error}")]
    Value {
        model: &'static str,
        column: String,
        error: ValueError,
    },
    #[error("this {model} was never committed, so there is nothing to {action}")]
    NotStored {
        model: &'static str,
        action: &'static str,
    },
    #[error("database error: {0}")]
    Database(diesel::result::Error),
}

impl From<diesel::result::Error> for DbError {
    fn from(error: diesel::result::Error) -> Self {
        DbError::Database(error)
    }
}

impl DbError {
    pub fn violation(&self) -> Option<&ConstraintViolation> {
        match self {
            DbError::Constraint(v) => Some(v),
            _ => None,
        }
    }

    /// A database error of a `dialect` connection, read as a constraint violation of
    /// `schema` where it is one.
    pub fn from_database(
        error: diesel::result::Error,
        dialect: Dialect,
        schema: &Schema,
    ) -> DbError {
        match constraint_violation(dialect, &error, schema) {
            Some(violation) => DbError::Constraint(violation),
            None => DbError::Database(error),
        }
    }
}

/// A new row, its model erased, as the unit of work holds it.
pub(super) trait Insert: Send {
    fn table(&self) -> &'static str;
    fn check(&self) -> Result<(), DbError>;
    /// The session's numbers of the rows this one takes the keys of.
    fn refers_to(&self) -> Vec<u64>;
    /// Inserts the row alone; its key.
    fn write(
        &self,
        conn: &mut AnyConnection,
        key_of: &dyn Fn(u64) -> Option<Vec<Value>>,
    ) -> Result<Vec<Value>, DbError>;
    /// The row as a statement of several rows writes it; `None` when it cannot be (a
    /// type outside the vocabulary, a key neither given nor assigned by the database).
    fn grouped(
        &self,
        key_of: &dyn Fn(u64) -> Option<Vec<Value>>,
    ) -> Result<Option<GroupRow>, DbError>;
}

impl<N: NewRow> Insert for N {
    fn table(&self) -> &'static str {
        N::Model::TABLE
    }

    fn check(&self) -> Result<(), DbError> {
        check_lengths::<N::Model>(|c| (c.get_new)(self))
    }

    fn refers_to(&self) -> Vec<u64> {
        self.pending_refs()
            .map(|r| r.iter().map(|(_, pending)| pending).collect())
            .unwrap_or_default()
    }

    fn write(
        &self,
        conn: &mut AnyConnection,
        key_of: &dyn Fn(u64) -> Option<Vec<Value>>,
    ) -> Result<Vec<Value>, DbError> {
        let row = as_written(self, key_of)?;
        Ok(row.insert(conn).map_err(DbError::Database)?.to_values())
    }

    fn grouped(
        &self,
        key_of: &dyn Fn(u64) -> Option<Vec<Value>>,
    ) -> Result<Option<GroupRow>, DbError> {
        let row = as_written(self, key_of)?;
        let (mut columns, mut values, mut given_key, mut assigned) =
            (Vec::new(), Vec::new(), Vec::new(), None);
        for column in N::Model::columns() {
            let info = &column.info;
            let value = (column.get_new)(&row);
            if info.primary_key {
                if value == Value::Null && info.autoincrement {
                    assigned = Some(info);
                    continue;
                }
                given_key.push(value.clone());
            }
            if value == Value::Null {
                continue;
            }
            let Some(bound) = Bound::of(&info.ty, value) else {
                return Ok(None);
            };
            values.push(bound.map_err(|error| DbError::Value {
                model: N::Model::NAME,
                column: info.name.to_string(),
                error,
            })?);
            columns.push(info);
        }
        let key = match assigned {
            Some(column) if given_key.is_empty() => RowKey::Assigned(column),
            None if !given_key.is_empty() && !given_key.contains(&Value::Null) => {
                RowKey::Given(given_key)
            }
            _ => return Ok(None),
        };
        Ok(Some(GroupRow {
            table: N::Model::TABLE,
            columns,
            values,
            key,
        }))
    }
}

/// `row` as it is written: the keys of the rows it refers to filled in, then the
/// defaults computed in Rust.
fn as_written<N: NewRow>(
    row: &N,
    key_of: &dyn Fn(u64) -> Option<Vec<Value>>,
) -> Result<N, DbError> {
    let mut row = row.clone();
    let refs: Vec<_> = row
        .pending_refs()
        .map(|r| r.iter().collect())
        .unwrap_or_default();
    for (column, pending) in refs {
        let unsaved = || DbError::ReferenceNotSaved {
            table: N::Model::TABLE,
            column,
        };
        let key = key_of(pending)
            .and_then(|k| k.into_iter().next())
            .ok_or_else(unsaved)?;
        let descriptor = N::Model::column(column).ok_or_else(unsaved)?;
        (descriptor.set_new)(&mut row, key).map_err(|error| DbError::Value {
            model: N::Model::NAME,
            column: column.to_string(),
            error,
        })?;
    }
    row.fill_defaults();
    Ok(row)
}

/// A stored row, its model erased.
trait Stored: Send {
    fn table(&self) -> &'static str;
    fn check(&self) -> Result<(), DbError>;
    fn update(&self, conn: &mut AnyConnection) -> diesel::QueryResult<usize>;
    fn delete(&self, conn: &mut AnyConnection) -> diesel::QueryResult<usize>;
}

impl<M: Model> Stored for M {
    fn table(&self) -> &'static str {
        M::TABLE
    }

    fn check(&self) -> Result<(), DbError> {
        check_lengths::<M>(|c| (c.get)(self))
    }

    fn update(&self, conn: &mut AnyConnection) -> diesel::QueryResult<usize> {
        Model::update(self, conn)
    }

    fn delete(&self, conn: &mut AnyConnection) -> diesel::QueryResult<usize> {
        Model::delete(self, conn)
    }
}

/// SQLite does not enforce VARCHAR lengths and MySQL would refuse them only in strict
/// mode: check them here, so that every database keeps the same data. An enumeration's
/// values are checked here too, for a message that names them.
fn check_lengths<M: Model>(value: impl Fn(&super::Column<M>) -> Value) -> Result<(), DbError> {
    for column in M::columns() {
        let allowed = column.info.values;
        let max = column.info.max_length();
        if allowed.is_empty() && max.is_none() {
            continue;
        }
        let Value::Text(text) = value(column) else {
            continue;
        };
        if !allowed.is_empty() && !allowed.contains(&text.as_str()) {
            return Err(DbError::NotAllowed {
                table: M::TABLE,
                column: column.info.name,
                value: text,
                allowed,
            });
        }
        if let Some(max) = max {
            let actual = text.chars().count();
            if actual > max {
                return Err(DbError::TooLong {
                    table: M::TABLE,
                    column: column.info.name,
                    max,
                    actual,
                });
            }
        }
    }
    Ok(())
}

enum Change {
    Insert(u64, Box<dyn Insert>),
    Update(Box<dyn Stored>),
    Delete(Box<dyn Stored>),
}

impl Change {
    fn table(&self) -> &'static str {
        match self {
            Change::Insert(_, row) => row.table(),
            Change::Update(row) | Change::Delete(row) => row.table(),
        }
    }

    /// Inserts parents first, then updates, then deletes children first.
    fn order_key(&self, rank: &HashMap<&str, usize>) -> (u8, isize) {
        let rank = rank.get(self.table()).copied().unwrap_or(usize::MAX / 2) as isize;
        match self {
            Change::Insert(..) => (0, rank),
            Change::Update(_) => (1, rank),
            Change::Delete(_) => (2, -rank),
        }
    }
}

pub struct Session {
    conn: AnyConnection,
    schema: &'static Schema,
    changes: Vec<Change>,
    next_key: u64,
    assigned: HashMap<u64, Vec<Value>>,
}

impl Session {
    /// A unit of work on `conn` for the models of `schema` (whose foreign keys order the
    /// statements and name the constraints in errors).
    pub fn new(conn: AnyConnection, schema: &'static Schema) -> Self {
        Session {
            conn,
            schema,
            changes: Vec::new(),
            next_key: 0,
            assigned: HashMap::new(),
        }
    }

    /// The connection, for queries: `User::query().load::<User>(session.conn())`.
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }

    pub fn schema(&self) -> &'static Schema {
        self.schema
    }

    pub fn add<N: NewRow>(&mut self, row: N) -> Pending<N::Model> {
        self.next_key += 1;
        self.changes
            .push(Change::Insert(self.next_key, Box::new(row)));
        Pending {
            key: self.next_key,
            model: PhantomData,
        }
    }

    /// Writes the object's current field values at the next commit.
    pub fn update<M: Model>(&mut self, row: &M) {
        self.changes.push(Change::Update(Box::new(row.clone())));
    }

    pub fn delete<M: Model>(&mut self, row: &M) {
        self.changes.push(Change::Delete(Box::new(row.clone())));
    }

    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// Forgets every change not yet committed.
    pub fn rollback(&mut self) {
        self.changes.clear();
    }

    /// The key the database gave an added object, once committed.
    pub fn id_of<M: Model>(&self, pending: Pending<M>) -> Option<M::Key> {
        self.key_of(pending.key)
            .and_then(|values| M::Key::from_values(&values).ok())
    }

    /// The key values of the object the session numbered `pending`, once committed.
    #[doc(hidden)]
    pub fn key_of(&self, pending: u64) -> Option<Vec<Value>> {
        self.assigned.get(&pending).cloned()
    }

    /// `db.session.get(User, 1)`.
    pub fn get<M: Model>(&mut self, key: M::Key) -> Result<Option<M>, DbError> {
        let dialect = self.conn.dialect();
        M::find(&mut self.conn, key).map_err(|e| DbError::from_database(e, dialect, self.schema))
    }

    /// Writes every change in one transaction. On failure nothing is written, the changes
    /// stay in the session (to inspect, or to drop with [`Session::rollback`]), and the
    /// session remains usable.
    pub fn commit(&mut self) -> Result<(), DbError> {
        if self.changes.is_empty() {
            return Ok(());
        }
        for change in &self.changes {
            match change {
                Change::Insert(_, row) => row.check()?,
                Change::Update(row) | Change::Delete(row) => row.check()?,
            }
        }
        let rank: HashMap<&str, usize> = self
            .schema
            .dependency_order()
            .into_iter()
            .enumerate()
            .map(|(i, name)| (name, i))
            .collect();
        let mut ordered: Vec<&Change> = self.changes.iter().collect();
        ordered.sort_by_key(|c| c.order_key(&rank));
        let schema = self.schema;
        let dialect = self.conn.dialect();
        let known = &self.assigned;
        let new_keys = self.conn.transaction::<_, DbError, _>(|conn| {
            let mut keys = Keys {
                new: HashMap::new(),
                known,
            };
            let mut waiting: Vec<Waiting> = Vec::new();
            for change in ordered {
                let database = |e| DbError::from_database(e, dialect, schema);
                match change {
                    Change::Insert(number, row) => {
                        // A row whose key is not known yet is waiting (or not to be written).
                        if row.refers_to().into_iter().any(|n| !keys.has(n)) {
                            write_group(conn, &mut waiting, &mut keys)?;
                        }
                        match row.grouped(&|n| keys.of(n))? {
                            Some(grouped) => {
                                if waiting.first().is_some_and(|w| !w.row.same_shape(&grouped)) {
                                    write_group(conn, &mut waiting, &mut keys)?;
                                }
                                waiting.push(Waiting {
                                    number: *number,
                                    insert: row.as_ref(),
                                    row: grouped,
                                });
                            }
                            None => {
                                write_group(conn, &mut waiting, &mut keys)?;
                                let key = row.write(conn, &|n| keys.of(n))?;
                                keys.new.insert(*number, key);
                            }
                        }
                    }
                    Change::Update(row) => {
                        write_group(conn, &mut waiting, &mut keys)?;
                        row.update(conn).map_err(database)?;
                    }
                    Change::Delete(row) => {
                        write_group(conn, &mut waiting, &mut keys)?;
                        row.delete(conn).map_err(database)?;
                    }
                }
            }
            write_group(conn, &mut waiting, &mut keys)?;
            Ok(keys.new)
        });
        let new_keys = new_keys.map_err(|e| match e {
            DbError::Database(e) => DbError::from_database(e, dialect, schema),
            other => other,
        })?;
        self.assigned.extend(new_keys);
        self.changes.clear();
        Ok(())
    }
}
