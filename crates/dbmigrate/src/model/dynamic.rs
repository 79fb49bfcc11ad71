//! Models reached by name, for code that does not know them at compile time (a shell, an
//! admin page): classes, records and queries, all through the column descriptors.

use std::marker::PhantomData;
use std::sync::OnceLock;

use super::session::{DbError, Pending, Session};
use super::{Column, ColumnInfo, Key, Model, NewRow, Relation, Value};
use crate::connection::AnyConnection;
use crate::schema::{Schema, Table};

/// A query described by data: filters, order, paging.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuerySpec {
    pub filters: Vec<Predicate>,
    /// Columns and whether each goes down; by primary key when empty.
    pub order: Vec<(String, bool)>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    /// The column equals the value (`IS NULL` for `Value::Null`).
    Equals(String, Value),
    /// The model's named filter (a many-to-many relationship) for another row's key.
    Filter(&'static str, Value),
}

/// A model, its type erased.
pub trait ModelClass: Send + Sync {
    fn name(&self) -> &'static str;
    fn table_name(&self) -> &'static str;
    fn columns(&self) -> Vec<&'static ColumnInfo>;
    fn relations(&self) -> &'static [Relation];
    fn table(&self) -> Table;
    fn select(
        &self,
        conn: &mut AnyConnection,
        spec: &QuerySpec,
    ) -> Result<Vec<Box<dyn Record>>, DbError>;
    /// The rows the filters select (order and paging do not change a count).
    fn count(&self, conn: &mut AnyConnection, spec: &QuerySpec) -> Result<i64, DbError>;
    fn get(
        &self,
        conn: &mut AnyConnection,
        key: &[Value],
    ) -> Result<Option<Box<dyn Record>>, DbError>;
    /// A new object with every column empty.
    fn blank(&self) -> Box<dyn Record>;
    /// The column names, in declared order.
    fn column_names(&self) -> Vec<&'static str> {
        self.columns().iter().map(|c| c.name).collect()
    }
}

/// An object of some model: a stored row, or a new one.
pub trait Record: Send {
    fn class(&self) -> &'static dyn ModelClass;
    fn get(&self, column: &str) -> Result<Value, DbError>;
    fn set(&mut self, column: &str, value: Value) -> Result<(), DbError>;
    /// The primary key of a stored row.
    fn key(&self) -> Option<Vec<Value>>;
    /// The session's number for a new row that was added.
    fn pending(&self) -> Option<u64>;
    /// Makes `column` refer to `target`: its key if stored, else the row pending in the
    /// same unit of work.
    fn refer(&mut self, column: &str, target: &dyn Record) -> Result<(), DbError>;
    /// Queues the object: an insert for a new one (once), an update for a stored one.
    fn add_to(&mut self, session: &mut Session);
    fn delete_from(&self, session: &mut Session) -> Result<(), DbError>;
    /// `<User john>`.
    fn repr(&self) -> String;
}

/// The class of `M`.
pub struct Class<M>(PhantomData<fn() -> M>);

impl<M> Class<M> {
    pub const fn new() -> Self {
        Class(PhantomData)
    }
}

impl<M> Default for Class<M> {
    fn default() -> Self {
        Self::new()
    }
}

fn class_of<M: Model>() -> &'static dyn ModelClass {
    &Class::<M>(PhantomData)
}

fn column<M: Model>(name: &str) -> Result<&'static Column<M>, DbError> {
    M::column(name).ok_or_else(|| DbError::UnknownColumn {
        model: M::NAME,
        column: name.to_string(),
        columns: M::columns().iter().map(|c| c.info.name).collect(),
    })
}

fn value_error<M: Model>(column: &str) -> impl FnOnce(super::ValueError) -> DbError + '_ {
    move |error| DbError::Value {
        model: M::NAME,
        column: column.to_string(),
        error,
    }
}

/// The query a spec describes; ordered unless only counting.
fn build<M: Model>(spec: &QuerySpec, ordered: bool) -> Result<M::Query, DbError> {
    let mut query = M::query();
    for predicate in &spec.filters {
        query = match predicate {
            Predicate::Equals(name, value) => {
                let column = column::<M>(name)?;
                (column.filter)(query, value.clone()).map_err(value_error::<M>(name))?
            }
            Predicate::Filter(name, value) => {
                let filter = M::filters()
                    .iter()
                    .find(|f| f.name == *name)
                    .ok_or_else(|| DbError::UnknownRelation {
                        model: M::NAME,
                        name: name.to_string(),
                    })?;
                (filter.apply)(query, value.clone()).map_err(value_error::<M>(name))?
            }
        };
    }
    if ordered {
        if spec.order.is_empty() {
            for column in M::columns().iter().filter(|c| c.info.primary_key) {
                query = (column.order)(query, false);
            }
        }
        for (name, descending) in &spec.order {
            query = (column::<M>(name)?.order)(query, *descending);
        }
    }
    Ok(query)
}

impl<M: Model> ModelClass for Class<M> {
    fn name(&self) -> &'static str {
        M::NAME
    }

    fn table_name(&self) -> &'static str {
        M::TABLE
    }

    fn columns(&self) -> Vec<&'static ColumnInfo> {
        M::columns().iter().map(|c| &c.info).collect()
    }

    fn relations(&self) -> &'static [Relation] {
        M::relations()
    }

    fn table(&self) -> Table {
        M::table()
    }

    fn select(
        &self,
        conn: &mut AnyConnection,
        spec: &QuerySpec,
    ) -> Result<Vec<Box<dyn Record>>, DbError> {
        let query = build::<M>(spec, true)?;
        let rows = M::load(query, spec.limit, spec.offset, conn).map_err(DbError::Database)?;
        Ok(rows
            .into_iter()
            .map(|row| Box::new(row) as Box<dyn Record>)
            .collect())
    }

    fn count(&self, conn: &mut AnyConnection, spec: &QuerySpec) -> Result<i64, DbError> {
        M::count(build::<M>(spec, false)?, conn).map_err(DbError::Database)
    }

    fn get(
        &self,
        conn: &mut AnyConnection,
        key: &[Value],
    ) -> Result<Option<Box<dyn Record>>, DbError> {
        let key = M::Key::from_values(key).map_err(|error| DbError::Value {
            model: M::NAME,
            column: key_names::<M>(),
            error,
        })?;
        Ok(M::find(conn, key)
            .map_err(DbError::Database)?
            .map(|row| Box::new(row) as Box<dyn Record>))
    }

    fn blank(&self) -> Box<dyn Record> {
        Box::new(NewObject::<M> {
            row: M::New::default(),
            pending: None,
        })
    }
}

fn key_names<M: Model>() -> String {
    M::columns()
        .iter()
        .filter(|c| c.info.primary_key)
        .map(|c| c.info.name)
        .collect::<Vec<_>>()
        .join(", ")
}

impl<M: Model> Record for M {
    fn class(&self) -> &'static dyn ModelClass {
        class_of::<M>()
    }

    fn get(&self, name: &str) -> Result<Value, DbError> {
        Ok((column::<M>(name)?.get)(self))
    }

    fn set(&mut self, name: &str, value: Value) -> Result<(), DbError> {
        let column = column::<M>(name)?;
        if column.info.primary_key {
            return Err(value_error::<M>(name)(super::ValueError::Generated));
        }
        (column.set)(self, value).map_err(value_error::<M>(name))
    }

    fn key(&self) -> Option<Vec<Value>> {
        Some(Model::key(self).to_values())
    }

    fn pending(&self) -> Option<u64> {
        None
    }

    fn refer(&mut self, name: &str, target: &dyn Record) -> Result<(), DbError> {
        let key = target.key().ok_or(DbError::NotStored {
            model: target.class().name(),
            action: "refer to",
        })?;
        let value = key.into_iter().next().unwrap_or(Value::Null);
        Record::set(self, name, value)
    }

    fn add_to(&mut self, session: &mut Session) {
        session.update(self);
    }

    fn delete_from(&self, session: &mut Session) -> Result<(), DbError> {
        session.delete(self);
        Ok(())
    }

    fn repr(&self) -> String {
        self.to_string()
    }
}

/// A new object of `M`, and its number in the session once added.
struct NewObject<M: Model> {
    row: M::New,
    pending: Option<Pending<M>>,
}

impl<M: Model> Record for NewObject<M> {
    fn class(&self) -> &'static dyn ModelClass {
        class_of::<M>()
    }

    fn get(&self, name: &str) -> Result<Value, DbError> {
        Ok((column::<M>(name)?.get_new)(&self.row))
    }

    fn set(&mut self, name: &str, value: Value) -> Result<(), DbError> {
        let column = column::<M>(name)?;
        if let Some(refs) = self.row.pending_refs_mut() {
            refs.forget(column.info.name);
        }
        (column.set_new)(&mut self.row, value).map_err(value_error::<M>(name))
    }

    fn key(&self) -> Option<Vec<Value>> {
        None
    }

    fn pending(&self) -> Option<u64> {
        self.pending.map(|p| p.number())
    }

    fn refer(&mut self, name: &str, target: &dyn Record) -> Result<(), DbError> {
        if target.key().is_some() {
            let value = target
                .key()
                .into_iter()
                .flatten()
                .next()
                .unwrap_or(Value::Null);
            return self.set(name, value);
        }
        let column = column::<M>(name)?;
        let pending = target.pending().ok_or(DbError::NotStored {
            model: target.class().name(),
            action: "refer to before it is added to the session",
        })?;
        (column.set_new)(&mut self.row, Value::Null).map_err(value_error::<M>(name))?;
        let refs = self
            .row
            .pending_refs_mut()
            .ok_or_else(|| DbError::UnknownRelation {
                model: M::NAME,
                name: name.to_string(),
            })?;
        refs.set(column.info.name, pending);
        Ok(())
    }

    fn add_to(&mut self, session: &mut Session) {
        if self.pending.is_none() {
            self.pending = Some(session.add(self.row.clone()));
        }
    }

    fn delete_from(&self, _: &mut Session) -> Result<(), DbError> {
        Err(DbError::NotStored {
            model: M::NAME,
            action: "delete",
        })
    }

    fn repr(&self) -> String {
        self.row.to_string()
    }
}

/// The models of an application: its classes by name, and its schema.
pub struct Models {
    classes: &'static [&'static dyn ModelClass],
    schema: OnceLock<Schema>,
}

impl Models {
    pub const fn new(classes: &'static [&'static dyn ModelClass]) -> Self {
        Models {
            classes,
            schema: OnceLock::new(),
        }
    }

    pub fn classes(&self) -> &'static [&'static dyn ModelClass] {
        self.classes
    }

    pub fn class(&self, name: &str) -> Option<&'static dyn ModelClass> {
        self.classes.iter().copied().find(|c| c.name() == name)
    }

    /// Every model's table, in declared order: what migrations must build.
    pub fn schema(&self) -> &Schema {
        self.schema
            .get_or_init(|| Schema::new(self.classes.iter().map(|c| c.table()).collect()))
    }
}
