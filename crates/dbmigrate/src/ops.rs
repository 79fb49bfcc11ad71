//! Migration operations: written once, database-neutral, in revision files; rendered to each
//! database's SQL when applied. Each one also evolves a [`Schema`] value, so that the
//! schema a revision leaves behind is known without a database (for `--sql`, and for
//! SQLite's table rebuilds).

use serde::{Deserialize, Serialize};

use crate::schema::{
    CheckConstraint, Column, ColumnDefault, ColumnType, ForeignKey, Index, ReferentialAction,
    Schema, Table, UniqueConstraint,
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
        /// Without locking out writes, on PostgreSQL (`CREATE INDEX CONCURRENTLY`); the
        /// revision must then run outside a transaction (`transaction = false`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        concurrently: bool,
    },
    DropIndex {
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        concurrently: bool,
        table: String,
        name: String,
    },
    CreateUniqueConstraint {
        table: String,
        name: String,
        columns: Vec<String>,
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
    },
    DropForeignKey {
        table: String,
        name: String,
    },
    CreateCheckConstraint {
        table: String,
        name: String,
        condition: String,
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
            Op::AddColumn { table, column } => format!("add column '{table}.{}'", column.name),
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
        let (table, name) = match self {
            Op::DropIndex { table, name, .. } | Op::DropUniqueConstraint { table, name } => {
                (table, name)
            }
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
                    concurrently: false,
                })
            }
            _ => None,
        }
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
            | Op::SetPrimaryKey { table, .. } => Some(table),
            Op::Sql { .. } => None,
        }
    }
}

impl Schema {
    fn table_mut(&mut self, name: &str) -> Result<&mut Table, OpError> {
        self.tables
            .iter_mut()
            .find(|t| t.name == name)
            .ok_or_else(|| OpError::NoTable(name.to_string()))
    }

    /// The schema after `op`, or why `op` does not fit it.
    pub fn apply(&mut self, op: &Op) -> Result<(), OpError> {
        let resolved = op.resolved(self);
        match resolved.as_ref().unwrap_or(op) {
            Op::CreateTable {
                table,
                columns,
                primary_key,
                unique_constraints,
                foreign_keys,
                check_constraints,
            } => {
                if self.table(table).is_some() {
                    return Err(OpError::TableExists(table.clone()));
                }
                self.tables.push(Table {
                    name: table.clone(),
                    columns: columns.clone(),
                    primary_key: primary_key.clone(),
                    indexes: Vec::new(),
                    unique_constraints: unique_constraints.clone(),
                    foreign_keys: foreign_keys.clone(),
                    check_constraints: check_constraints.clone(),
                });
            }
            Op::DropTable { table } => {
                self.table_mut(table)?;
                self.tables.retain(|t| &t.name != table);
            }
            Op::RenameTable { table, new_name } => {
                if self.table(new_name).is_some() {
                    return Err(OpError::TableExists(new_name.clone()));
                }
                self.table_mut(table)?.name = new_name.clone();
                for other in &mut self.tables {
                    for fk in &mut other.foreign_keys {
                        if &fk.ref_table == table {
                            fk.ref_table = new_name.clone();
                        }
                    }
                }
            }
            Op::AddColumn { table, column } => {
                let t = self.table_mut(table)?;
                if t.find_column(&column.name).is_some() {
                    return Err(OpError::ColumnExists {
                        table: table.clone(),
                        column: column.name.clone(),
                    });
                }
                t.columns.push(column.clone());
            }
            Op::DropColumn { table, column } => {
                let t = self.table_mut(table)?;
                column_index(t, column)?;
                t.columns.retain(|c| &c.name != column);
                t.indexes.retain(|i| !i.columns.contains(column));
                t.unique_constraints.retain(|u| !u.columns.contains(column));
                t.foreign_keys.retain(|f| !f.columns.contains(column));
                t.primary_key.retain(|c| c != column);
            }
            Op::AlterColumn {
                table,
                column,
                ty,
                nullable,
                set_default,
                drop_default,
                new_name,
            } => {
                let t = self.table_mut(table)?;
                let at = column_index(t, column)?;
                if let Some(new_name) = new_name
                    && new_name != column
                    && t.find_column(new_name).is_some()
                {
                    return Err(OpError::ColumnExists {
                        table: table.clone(),
                        column: new_name.clone(),
                    });
                }
                let c = &mut t.columns[at];
                if let Some(ty) = ty {
                    c.ty = ty.clone();
                }
                if let Some(nullable) = nullable {
                    c.nullable = *nullable;
                }
                if *drop_default {
                    c.default = None;
                }
                if let Some(default) = set_default {
                    c.default = Some(default.clone());
                }
                if let Some(new_name) = new_name {
                    c.name = new_name.clone();
                    rename_in(&mut t.primary_key, column, new_name);
                    for index in &mut t.indexes {
                        rename_in(&mut index.columns, column, new_name);
                    }
                    for unique in &mut t.unique_constraints {
                        rename_in(&mut unique.columns, column, new_name);
                    }
                    for fk in &mut t.foreign_keys {
                        rename_in(&mut fk.columns, column, new_name);
                    }
                    for other in &mut self.tables {
                        for fk in other
                            .foreign_keys
                            .iter_mut()
                            .filter(|fk| &fk.ref_table == table)
                        {
                            rename_in(&mut fk.ref_columns, column, new_name);
                        }
                    }
                }
            }
            Op::CreateIndex {
                table,
                name,
                columns,
                unique,
                predicate,
                ..
            } => {
                let t = self.table_mut(table)?;
                check_columns(t, columns)?;
                check_name_free(t, name)?;
                t.indexes.push(Index {
                    name: name.clone(),
                    columns: columns.clone(),
                    unique: *unique,
                    predicate: predicate.clone(),
                });
            }
            Op::DropIndex { table, name, .. } => {
                let t = self.table_mut(table)?;
                remove_named(&mut t.indexes, |i| &i.name, name, table, "index")?;
            }
            Op::CreateUniqueConstraint {
                table,
                name,
                columns,
            } => {
                let t = self.table_mut(table)?;
                check_columns(t, columns)?;
                check_name_free(t, name)?;
                t.unique_constraints.push(UniqueConstraint {
                    name: name.clone(),
                    columns: columns.clone(),
                });
            }
            Op::DropUniqueConstraint { table, name } => {
                let t = self.table_mut(table)?;
                remove_named(
                    &mut t.unique_constraints,
                    |u| &u.name,
                    name,
                    table,
                    "unique constraint",
                )?;
            }
            Op::CreateForeignKey {
                table,
                name,
                columns,
                ref_table,
                ref_columns,
                on_delete,
            } => {
                let referenced = self
                    .table(ref_table)
                    .ok_or_else(|| OpError::NoTable(ref_table.clone()))?;
                check_columns(referenced, ref_columns)?;
                let t = self.table_mut(table)?;
                check_columns(t, columns)?;
                check_name_free(t, name)?;
                t.foreign_keys.push(ForeignKey {
                    name: name.clone(),
                    columns: columns.clone(),
                    ref_table: ref_table.clone(),
                    ref_columns: ref_columns.clone(),
                    on_delete: *on_delete,
                });
            }
            Op::DropForeignKey { table, name } => {
                let t = self.table_mut(table)?;
                remove_named(&mut t.foreign_keys, |f| &f.name, name, table, "foreign key")?;
            }
            Op::CreateCheckConstraint {
                table,
                name,
                condition,
            } => {
                let t = self.table_mut(table)?;
                check_name_free(t, name)?;
                t.check_constraints.push(CheckConstraint {
                    name: name.clone(),
                    condition: condition.clone(),
                });
            }
            Op::DropCheckConstraint { table, name } => {
                let t = self.table_mut(table)?;
                remove_named(
                    &mut t.check_constraints,
                    |c| &c.name,
                    name,
                    table,
                    "check constraint",
                )?;
            }
            Op::SetPrimaryKey { table, columns } => {
                let t = self.table_mut(table)?;
                for name in columns {
                    let column = t.find_column(name).ok_or_else(|| OpError::NoColumn {
                        table: table.clone(),
                        column: name.clone(),
                    })?;
                    if column.nullable {
                        return Err(OpError::NullableKeyColumn {
                            table: table.clone(),
                            column: name.clone(),
                        });
                    }
                }
                t.primary_key = columns.clone();
            }
            Op::Sql { .. } => {}
        }
        Ok(())
    }

    /// The operations that create this schema from nothing: tables in dependency order,
    /// each followed by its indexes.
    pub fn creation_ops(&self) -> Vec<Op> {
        self.dependency_order()
            .into_iter()
            .filter_map(|name| self.table(name))
            .flat_map(Table::creation_ops)
            .collect()
    }
}

impl Table {
    /// CREATE TABLE, then its indexes.
    pub fn creation_ops(&self) -> Vec<Op> {
        let mut ops = vec![Op::CreateTable {
            table: self.name.clone(),
            columns: self.columns.clone(),
            primary_key: self.primary_key.clone(),
            unique_constraints: self.unique_constraints.clone(),
            foreign_keys: self.foreign_keys.clone(),
            check_constraints: self.check_constraints.clone(),
        }];
        ops.extend(self.indexes.iter().map(|i| Op::CreateIndex {
            table: self.name.clone(),
            name: i.name.clone(),
            columns: i.columns.clone(),
            unique: i.unique,
            predicate: i.predicate.clone(),
            concurrently: false,
        }));
        ops
    }
}

fn column_index(table: &Table, column: &str) -> Result<usize, OpError> {
    table
        .columns
        .iter()
        .position(|c| c.name == column)
        .ok_or_else(|| OpError::NoColumn {
            table: table.name.clone(),
            column: column.to_string(),
        })
}

fn check_columns(table: &Table, columns: &[String]) -> Result<(), OpError> {
    columns
        .iter()
        .try_for_each(|c| column_index(table, c).map(drop))
}

fn check_name_free(table: &Table, name: &str) -> Result<(), OpError> {
    let taken = table.indexes.iter().any(|i| i.name == name)
        || table.unique_constraints.iter().any(|u| u.name == name)
        || table.foreign_keys.iter().any(|f| f.name == name)
        || table.check_constraints.iter().any(|c| c.name == name);
    if taken {
        Err(OpError::NameTaken {
            table: table.name.clone(),
            name: name.to_string(),
        })
    } else {
        Ok(())
    }
}

fn remove_named<T>(
    items: &mut Vec<T>,
    name_of: impl Fn(&T) -> &String,
    name: &str,
    table: &str,
    kind: &'static str,
) -> Result<(), OpError> {
    let before = items.len();
    items.retain(|item| name_of(item) != name);
    if items.len() == before {
        return Err(OpError::NoConstraint {
            table: table.to_string(),
            kind,
            name: name.to_string(),
        });
    }
    Ok(())
}

fn rename_in(names: &mut [String], from: &str, to: &str) {
    for name in names.iter_mut().filter(|n| *n == from) {
        *name = to.to_string();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Column;

    fn users() -> Schema {
        Schema::new(vec![
            Table::new("user")
                .id_column("id")
                .column(Column::new("username", ColumnType::String(Some(64))))
                .index("username", true),
        ])
    }

    #[test]
    fn creation_ops_rebuild_the_same_schema() {
        let schema = users();
        let mut rebuilt = Schema::default();
        for op in schema.creation_ops() {
            rebuilt.apply(&op).unwrap();
        }
        assert_eq!(rebuilt, schema);
    }

    #[test]
    fn renaming_a_column_follows_it_into_indexes() {
        let mut schema = users();
        schema
            .apply(&Op::AlterColumn {
                table: "user".into(),
                column: "username".into(),
                ty: None,
                nullable: None,
                set_default: None,
                drop_default: false,
                new_name: Some("login".into()),
            })
            .unwrap();
        assert_eq!(schema.tables[0].indexes[0].columns, ["login"]);
    }

    #[test]
    fn operations_that_do_not_fit_are_refused() {
        let mut schema = users();
        assert_eq!(
            schema.apply(&Op::DropColumn {
                table: "user".into(),
                column: "nope".into()
            }),
            Err(OpError::NoColumn {
                table: "user".into(),
                column: "nope".into()
            })
        );
        assert_eq!(
            schema.apply(&Op::DropTable {
                table: "post".into()
            }),
            Err(OpError::NoTable("post".into()))
        );
        assert!(matches!(
            schema.apply(&Op::CreateIndex {
                table: "user".into(),
                name: "ix_user_username".into(),
                columns: vec!["id".into()],
                unique: false,
                predicate: None,
                concurrently: false,
            }),
            Err(OpError::NameTaken { .. })
        ));
    }

    #[test]
    fn operations_read_from_toml() {
        #[derive(Deserialize)]
        struct File {
            upgrade: Vec<Op>,
        }
        let file: File = toml::from_str(
            r#"
            [[upgrade]]
            op = "add_column"
            table = "user"
            column = { name = "about_me", type = "string(140)" }

            [[upgrade]]
            op = "alter_column"
            table = "user"
            column = "username"
            nullable = false
            "#,
        )
        .unwrap();
        assert_eq!(
            file.upgrade[0],
            Op::AddColumn {
                table: "user".into(),
                column: Column::new("about_me", ColumnType::String(Some(140)))
            }
        );
        let typo: Result<File, _> =
            toml::from_str("[[upgrade]]\nop = \"drop_table\"\ntabel = \"user\"\n");
        assert!(typo.is_err());
    }
}
