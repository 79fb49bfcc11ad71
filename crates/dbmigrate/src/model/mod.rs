//! Models declared with [`models`](macro@models): what the declaration generates implements
//! the traits here, and everything that reaches columns by name (the unit of work's checks,
//! a shell, forms) goes through the column descriptors, never through a list of its own.

mod dynamic;
mod grouped;
mod session;
mod value;

pub use dynamic::{Class, ModelClass, Models, Predicate, QuerySpec, Record};
pub use session::{DbError, Pending, PendingRefs, Ref, Session};
pub use value::{FromValue, IntoValue, Key, Value, ValueError};

pub use dbmigrate_derive::models;

use diesel::QueryResult;

use crate::connection::AnyConnection;
use crate::schema::{self, ColumnDefault, ColumnType, ForeignKey, ReferentialAction, Table};

/// A declared model: the row struct of one table.
pub trait Model: Sized + Clone + Send + Sync + std::fmt::Display + 'static {
    /// The row to insert: every column but a database-assigned key, each optional.
    type New: NewRow<Model = Self>;
    /// The primary key: one column's type, or a tuple.
    type Key: Key;
    /// The table's boxed Diesel query on [`AnyBackend`](crate::AnyBackend).
    type Query: Send + 'static;

    /// The struct's name, as the shell and messages show it.
    const NAME: &'static str;
    const TABLE: &'static str;

    fn columns() -> &'static [Column<Self>];
    fn relations() -> &'static [Relation];
    /// Filters that other models' relationships apply to this one's query.
    fn filters() -> &'static [Filter<Self>];

    /// Every row, to refine.
    fn query() -> Self::Query;
    fn load(
        query: Self::Query,
        limit: Option<i64>,
        offset: Option<i64>,
        conn: &mut AnyConnection,
    ) -> QueryResult<Vec<Self>>;
    fn count(query: Self::Query, conn: &mut AnyConnection) -> QueryResult<i64>;
    fn find(conn: &mut AnyConnection, key: Self::Key) -> QueryResult<Option<Self>>;
    fn key(&self) -> Self::Key;
    /// Writes every column but the key; the number of rows changed.
    fn update(&self, conn: &mut AnyConnection) -> QueryResult<usize>;
    fn delete(&self, conn: &mut AnyConnection) -> QueryResult<usize>;

    /// A column by name.
    fn column(name: &str) -> Option<&'static Column<Self>> {
        Self::columns().iter().find(|c| c.info.name == name)
    }

    /// Indexes declared on the model: over several columns, or partial.
    fn indexes() -> &'static [IndexInfo] {
        &[]
    }

    /// CHECK constraints declared on the model, as `(name, condition)`.
    fn checks() -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// The table as the migration engine sees it.
    fn table() -> Table {
        let mut table = table_of(Self::TABLE, Self::columns().iter().map(|c| &c.info));
        table
            .indexes
            .extend(Self::indexes().iter().map(|i| schema::Index {
                name: i.name.to_string(),
                columns: i.columns.iter().map(|c| c.to_string()).collect(),
                unique: i.unique,
                predicate: i.condition.map(str::to_string),
            }));
        table
            .check_constraints
            .extend(
                Self::checks()
                    .iter()
                    .map(|(name, condition)| schema::CheckConstraint {
                        name: name.to_string(),
                        condition: condition.to_string(),
                    }),
            );
        table
    }
}

/// The insert struct of a model.
pub trait NewRow: Clone + Default + Send + Sync + std::fmt::Display + 'static {
    type Model: Model<New = Self>;
    /// Inserts the row; its key, as the database assigned it where it did.
    fn insert(&self, conn: &mut AnyConnection) -> QueryResult<<Self::Model as Model>::Key>;
    /// Fills the columns whose default is computed in Rust and that were left empty.
    fn fill_defaults(&mut self);
    /// The references to rows not yet written, for models with relationships.
    fn pending_refs(&self) -> Option<&PendingRefs>;
    fn pending_refs_mut(&mut self) -> Option<&mut PendingRefs>;
}

/// An index a model declares as a whole (`#[model(index(...))]`).
#[derive(Debug, Clone, PartialEq)]
pub struct IndexInfo {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    pub unique: bool,
    /// A partial index's condition, as SQL.
    pub condition: Option<&'static str>,
}

/// What the declaration says of one column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnInfo {
    pub name: &'static str,
    pub ty: ColumnType,
    /// An enumeration's values, for a string column held to them; empty otherwise. (`ty`
    /// is then a string as long as the longest value: what Rust holds.)
    pub values: &'static [&'static str],
    pub nullable: bool,
    pub primary_key: bool,
    pub autoincrement: bool,
    pub index: bool,
    pub unique: bool,
    pub server_default: Option<ServerDefault>,
    /// Whether a Rust function fills the column when an insert leaves it empty.
    pub computed_default: bool,
    pub references: Option<Reference>,
}

impl ColumnInfo {
    /// The column's type in the schema: an enumeration where the declaration lists values.
    pub fn column_type(&self) -> ColumnType {
        if self.values.is_empty() {
            self.ty.clone()
        } else {
            ColumnType::Enum(self.values.iter().map(|v| v.to_string()).collect())
        }
    }

    /// The most characters the column holds, for a bounded string.
    pub fn max_length(&self) -> Option<usize> {
        match self.ty {
            ColumnType::String(Some(max)) => Some(max as usize),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ServerDefault {
    Literal(&'static str),
    CurrentTimestamp,
}

/// A foreign key: the table and column it references.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub table: &'static str,
    pub column: &'static str,
    pub on_delete: Option<ReferentialAction>,
}

/// One column of `M`: what it is, and how to read, write, filter and order by it.
pub struct Column<M: Model> {
    pub info: ColumnInfo,
    pub get: fn(&M) -> Value,
    pub set: fn(&mut M, Value) -> Result<(), ValueError>,
    pub get_new: fn(&M::New) -> Value,
    pub set_new: fn(&mut M::New, Value) -> Result<(), ValueError>,
    /// Rows where the column equals the value (`IS NULL` for `Value::Null`).
    pub filter: fn(M::Query, Value) -> Result<M::Query, ValueError>,
    /// Ordered by the column, descending if asked. NULL sorts first going up and last
    /// going down, on every database.
    pub order: fn(M::Query, bool) -> M::Query,
}

/// A relationship of a model, by name, for code that follows relationships dynamically.
#[derive(Debug, Clone, PartialEq)]
pub struct Relation {
    pub name: &'static str,
    /// The model at the other end (its `NAME`).
    pub target: &'static str,
    pub kind: RelationKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RelationKind {
    /// Many-to-one: this row's `column` holds the key of one target row.
    ToOne { column: &'static str },
    /// One-to-many: the target rows whose `column` holds this row's key.
    ToMany { column: &'static str },
    /// Many-to-many: the target rows the target's filter named `filter` selects for this
    /// row's key.
    Through { filter: &'static str },
}

/// A named filter on `M`'s query, taking a key of another model.
pub struct Filter<M: Model> {
    pub name: &'static str,
    pub apply: fn(M::Query, Value) -> Result<M::Query, ValueError>,
}

/// The engine's table for declared columns, named by the engine's conventions.
pub fn table_of<'c>(name: &str, columns: impl IntoIterator<Item = &'c ColumnInfo>) -> Table {
    let mut table = Table::new(name);
    for info in columns {
        table.columns.push(schema::Column {
            name: info.name.to_string(),
            ty: info.column_type(),
            nullable: info.nullable,
            default: info.server_default.as_ref().map(|d| match d {
                ServerDefault::Literal(sql) => ColumnDefault::Literal(sql.to_string()),
                ServerDefault::CurrentTimestamp => ColumnDefault::CurrentTimestamp,
            }),
            autoincrement: info.autoincrement,
        });
        if info.primary_key {
            table.primary_key.push(info.name.to_string());
        }
        if info.index {
            table = table.index(info.name, info.unique);
        } else if info.unique {
            table = table.unique(info.name);
        }
        if let Some(reference) = &info.references {
            table.foreign_keys.push(ForeignKey {
                on_delete: reference.on_delete,
                ..ForeignKey::conventional(name, info.name, reference.table, reference.column)
            });
        }
    }
    table
}

/// Formats a model for `Display` from its `repr` template's pieces.
#[doc(hidden)]
pub fn write_repr(f: &mut std::fmt::Formatter<'_>, pieces: &[ReprPiece]) -> std::fmt::Result {
    for piece in pieces {
        match piece {
            ReprPiece::Text(text) => f.write_str(text)?,
            ReprPiece::Value(value) => write!(f, "{value}")?,
        }
    }
    Ok(())
}

#[doc(hidden)]
pub enum ReprPiece {
    Text(&'static str),
    Value(Value),
}
