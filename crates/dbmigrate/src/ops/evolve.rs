//! How each operation evolves a [`Schema`]: the schema a revision leaves is known without a
//! database, and an operation that does not fit is refused before anything runs.

use super::{Op, OpError};
use crate::schema::{CheckConstraint, ForeignKey, Index, Schema, Table, UniqueConstraint};

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
            Op::AddColumn { table, column, .. } => {
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
                ..
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
                ..
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
                ..
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
                ..
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
            Op::Backfill { table, set, .. } => {
                let t = self.table_mut(table)?;
                if set.is_empty() {
                    return Err(OpError::NothingToSet(table.clone()));
                }
                batch_key(t)?;
                set.keys().try_for_each(|c| column_index(t, c).map(drop))?;
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
            concurrently: None,
        }));
        ops
    }
}

/// The column a backfill goes through the table by: its primary key, of one integer column.
pub fn batch_key(table: &Table) -> Result<&str, OpError> {
    match table.primary_key.as_slice() {
        [key] if table.find_column(key).is_some_and(|c| c.ty.is_integer()) => Ok(key),
        _ => Err(OpError::NoBatchKey(table.name.clone())),
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
