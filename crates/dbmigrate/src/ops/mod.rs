//! Migration operations: written once, database-neutral, in revision files; rendered to each
//! database's SQL when applied. Each one also evolves a [`Schema`] value, so that the
//! schema a revision leaves behind is known without a database (for `--sql`, and for
//! SQLite's table rebuilds).

use serde::{Deserialize, Serialize};

use crate::schema::{
    CheckConstraint, Column, ColumnDefault, ColumnType, ForeignKey, ReferentialAction, Schema,
    UniqueConstraint,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Op {
    CreateTable {
        table: String,
        columns: Vec<Column>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        primary_key: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        unique_constraints: Vec<UniqueConstraint>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        foreign_keys: Vec<ForeignKey>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        check_constraints: Vec<CheckConstraint>,
    },
    DropTable {
        table: String,
    },
    RenameTable {
        table: String,
        new_name: String,
    },
    AddColumn {
        table: String,
        column: Column,
        /// On PostgreSQL, a column of an existing table whose default must be computed row
        /// by row (`random()`, `gen_random_uuid()`) is added without it, given it for new
        /// rows, and filled in batches, rather than written into every row under a lock
        /// that stops the site. `false` asks for the one statement.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        online: Option<bool>,
    },
    DropColumn {
        table: String,
        column: String,
    },
    /// Changes what is given, keeps the rest.
    AlterColumn {
        table: String,
        column: String,
        #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
        ty: Option<ColumnType>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nullable: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        set_default: Option<ColumnDefault>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        drop_default: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        new_name: Option<String>,
        /// On PostgreSQL, NOT NULL on an existing table is proven first by a CHECK
        /// constraint validated without blocking writes, so that SET NOT NULL does not scan
        /// the table under its exclusive lock. `false` asks for the plain statement.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        online: Option<bool>,
    },
    CreateIndex {
        table: String,
        name: String,
        columns: Vec<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        unique: bool,
        /// A partial index: only rows where this SQL condition holds (SQLite, PostgreSQL).
        #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
        predicate: Option<String>,
        /// Without locking out writes, on PostgreSQL (`CREATE INDEX CONCURRENTLY`, outside
        /// the revision's transaction). By default on a table that existed before the
        /// revision; `false` asks for the plain statement.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        concurrently: Option<bool>,
    },
    DropIndex {
        table: String,
        name: String,
        /// Without locking out reads and writes, on PostgreSQL; by default as for
        /// `create_index`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        concurrently: Option<bool>,
    },
    CreateUniqueConstraint {
        table: String,
        name: String,
        columns: Vec<String>,
        /// On PostgreSQL, an existing table's constraint is made from a unique index built
        /// concurrently (`ADD CONSTRAINT … USING INDEX`). `false` asks for the one statement.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        online: Option<bool>,
    },
    DropUniqueConstraint {
        table: String,
        name: String,
    },
    CreateForeignKey {
        table: String,
        name: String,
        columns: Vec<String>,
        ref_table: String,
        ref_columns: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        on_delete: Option<ReferentialAction>,
        /// On PostgreSQL, an existing table's key is added NOT VALID and validated after,
        /// without blocking writes. `false` asks for the one statement.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        online: Option<bool>,
    },
    DropForeignKey {
        table: String,
        name: String,
    },
    CreateCheckConstraint {
        table: String,
        name: String,
        condition: String,
        /// As for `create_foreign_key`: NOT VALID, then validated without blocking writes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        online: Option<bool>,
    },
    DropCheckConstraint {
        table: String,
        name: String,
    },
    /// Makes `columns` the table's primary key, in place of the one it has; none for no key.
    SetPrimaryKey {
        table: String,
        columns: Vec<String>,
    },
    /// Sets columns of existing rows in batches by key, outside the revision's
    /// transaction on PostgreSQL and MySQL, so that no lock is held on many rows for long;
    /// a run stopped partway continues where it stopped. Changes data, not structure.
    Backfill {
        table: String,
        /// Each column set, to an SQL expression over the row.
        set: std::collections::BTreeMap<String, String>,
        /// Only rows where this SQL condition holds.
        #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
        condition: Option<String>,
        /// Rows per batch, by key [default: 1000].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        batch_size: Option<u32>,
        /// Milliseconds to wait between batches, to leave the database to the site.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pause_ms: Option<u64>,
    },
    /// SQL run as written; `sqlite`, `postgresql` or `mysql` replaces it on that database.
    /// It does not change the schema the engine tracks: use it for data, not structure.
    Sql {
        sql: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sqlite: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        postgresql: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mysql: Option<String>,
    },
}

/// An operation that does not fit the schema it is applied to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    #[error("there is no table '{0}'")]
    NoTable(String),
    #[error("the table '{0}' already exists")]
    TableExists(String),
    #[error("the table '{table}' has no column '{column}'")]
    NoColumn { table: String, column: String },
    #[error("the table '{table}' already has a column '{column}'")]
    ColumnExists { table: String, column: String },
    #[error("the table '{table}' has no {kind} '{name}'")]
    NoConstraint {
        table: String,
        kind: &'static str,
        name: String,
    },
    #[error("the name '{name}' is already used by an index or constraint of '{table}'")]
    NameTaken { table: String, name: String },
    #[error("{0} has no partial indexes: leave `where` out of the index on this database")]
    NoPartialIndexes(&'static str),
    #[error(
        "'{table}.{column}' can hold NULL, which a primary key column cannot: make it NOT NULL first (alter_column with nullable = false)"
    )]
    NullableKeyColumn { table: String, column: String },
    #[error(
        "a backfill goes through '{0}' by its key, and it has no primary key of one integer column"
    )]
    NoBatchKey(String),
    #[error("a backfill of '{0}' sets no column")]
    NothingToSet(String),
}

impl Op {
    /// A one-line description, as printed when the operation runs or fails.
    pub fn describe(&self) -> String {
        match self {
            Op::CreateTable { table, .. } => format!("create table '{table}'"),
            Op::DropTable { table } => format!("drop table '{table}'"),
            Op::RenameTable { table, new_name } => {
                format!("rename table '{table}' to '{new_name}'")
            }
            Op::AddColumn { table, column, .. } => format!("add column '{table}.{}'", column.name),
            Op::DropColumn { table, column } => format!("drop column '{table}.{column}'"),
            Op::AlterColumn { table, column, .. } => format!("alter column '{table}.{column}'"),
            Op::CreateIndex { table, name, .. } => format!("create index '{name}' on '{table}'"),
            Op::DropIndex { table, name, .. } => format!("drop index '{name}' on '{table}'"),
            Op::CreateUniqueConstraint { table, name, .. } => {
                format!("create unique constraint '{name}' on '{table}'")
            }
            Op::DropUniqueConstraint { table, name } => {
                format!("drop unique constraint '{name}' on '{table}'")
            }
            Op::CreateForeignKey { table, name, .. } => {
                format!("create foreign key '{name}' on '{table}'")
            }
            Op::DropForeignKey { table, name } => format!("drop foreign key '{name}' on '{table}'"),
            Op::CreateCheckConstraint { table, name, .. } => {
                format!("create check constraint '{name}' on '{table}'")
            }
            Op::DropCheckConstraint { table, name } => {
                format!("drop check constraint '{name}' on '{table}'")
            }
            Op::SetPrimaryKey { table, columns } => {
                format!(
                    "set the primary key of '{table}' to ({})",
                    columns.join(", ")
                )
            }
            Op::Backfill { table, set, .. } => {
                let columns: Vec<&str> = set.keys().map(String::as_str).collect();
                format!("backfill '{table}' ({})", columns.join(", "))
            }
            Op::Sql { sql, .. } => {
                let first = sql.lines().next().unwrap_or("").trim();
                format!("execute SQL: {first}")
            }
        }
    }

    /// MySQL keeps a unique constraint as a unique index, so a schema read from it names
    /// as an index what another database calls a constraint. A drop of the one is taken as
    /// a drop of the other where the schema has only the other, so a revision written
    /// against any of the three databases runs on all of them.
    pub fn resolved(&self, schema: &Schema) -> Option<Op> {
        let (table, name, concurrently) = match self {
            Op::DropIndex {
                table,
                name,
                concurrently,
            } => (table, name, concurrently),
            Op::DropUniqueConstraint { table, name } => (table, name, &None),
            _ => return None,
        };
        let t = schema.table(table)?;
        let has_index = t.indexes.iter().any(|i| &i.name == name);
        let has_unique_index = t.indexes.iter().any(|i| &i.name == name && i.unique);
        let has_constraint = t.unique_constraints.iter().any(|u| &u.name == name);
        match self {
            Op::DropIndex { .. } if !has_index && has_constraint => {
                Some(Op::DropUniqueConstraint {
                    table: table.clone(),
                    name: name.clone(),
                })
            }
            Op::DropUniqueConstraint { .. } if !has_constraint && has_unique_index => {
                Some(Op::DropIndex {
                    table: table.clone(),
                    name: name.clone(),
                    concurrently: *concurrently,
                })
            }
            _ => None,
        }
    }

    /// `alter_column` that only renames.
    pub fn rename_column(table: &str, from: &str, to: &str) -> Op {
        Op::AlterColumn {
            table: table.into(),
            column: from.into(),
            ty: None,
            nullable: None,
            set_default: None,
            drop_default: false,
            new_name: Some(to.into()),
            online: None,
        }
    }

    /// What the revision file says of the form that does not stop the site (`online`, or
    /// `concurrently` for an index): `None` where it says nothing and the engine chooses.
    pub fn online(&self) -> Option<bool> {
        match self {
            Op::CreateIndex { concurrently, .. } | Op::DropIndex { concurrently, .. } => {
                *concurrently
            }
            Op::AddColumn { online, .. }
            | Op::AlterColumn { online, .. }
            | Op::CreateUniqueConstraint { online, .. }
            | Op::CreateForeignKey { online, .. }
            | Op::CreateCheckConstraint { online, .. } => *online,
            _ => None,
        }
    }

    /// Whether PostgreSQL has a form of it that keeps the site running on a table with rows
    /// (`dialect/postgres/online.rs`), which `online`/`concurrently` chooses.
    pub fn has_online_form(&self) -> bool {
        match self {
            Op::CreateIndex { .. }
            | Op::DropIndex { .. }
            | Op::CreateUniqueConstraint { .. }
            | Op::CreateForeignKey { .. }
            | Op::CreateCheckConstraint { .. } => true,
            Op::AlterColumn { nullable, .. } => *nullable == Some(false),
            Op::AddColumn { column, .. } => column
                .default
                .as_ref()
                .is_some_and(|d| !d.is_same_for_every_row()),
            _ => false,
        }
    }

    /// The operation with its choice of form written out, for a revision file that shows it.
    pub fn with_online(mut self, choice: bool) -> Op {
        match &mut self {
            Op::CreateIndex { concurrently, .. } | Op::DropIndex { concurrently, .. } => {
                *concurrently = Some(choice)
            }
            Op::AddColumn { online, .. }
            | Op::AlterColumn { online, .. }
            | Op::CreateUniqueConstraint { online, .. }
            | Op::CreateForeignKey { online, .. }
            | Op::CreateCheckConstraint { online, .. } => *online = Some(choice),
            _ => {}
        }
        self
    }

    /// The table the operation changes, if any.
    pub fn table(&self) -> Option<&str> {
        match self {
            Op::CreateTable { table, .. }
            | Op::DropTable { table }
            | Op::RenameTable { table, .. }
            | Op::AddColumn { table, .. }
            | Op::DropColumn { table, .. }
            | Op::AlterColumn { table, .. }
            | Op::CreateIndex { table, .. }
            | Op::DropIndex { table, .. }
            | Op::CreateUniqueConstraint { table, .. }
            | Op::DropUniqueConstraint { table, .. }
            | Op::CreateForeignKey { table, .. }
            | Op::DropForeignKey { table, .. }
            | Op::CreateCheckConstraint { table, .. }
            | Op::DropCheckConstraint { table, .. }
            | Op::SetPrimaryKey { table, .. }
            | Op::Backfill { table, .. } => Some(table),
            Op::Sql { .. } => None,
        }
    }
}

mod evolve;
pub use evolve::batch_key;

#[cfg(test)]
mod tests;
