//! Two releases side by side, on PostgreSQL. A revision that would break the release built
//! for its parent (a rename, a drop of what it reads, a type it reads as another, a column
//! made NOT NULL under it) runs in two phases, as pgroll does:
//!
//! - **expand** (`db upgrade`): the new shape is built beside the old one. The tables keep
//!   their old names and columns, so the release that is serving goes on reading and
//!   writing them as before; what the revision adds is added; a column whose type changes
//!   gets a shadow column of the new type, kept in step with the old one by a trigger both
//!   ways and backfilled in batches. The release built for the revision sees its shape
//!   through a schema of views, `dbmigrate_<revision>`, which it puts first in its
//!   `search_path` (a table renamed is a view of the new name over the old table, a column
//!   renamed is the old column under the new name, a retyped column is its shadow).
//! - **contract** (`db contract`, once the last instance of the old release is gone): the
//!   old shape goes: renames and drops are made, a shadow takes its column's place, the
//!   triggers and the schema of views go. Each is a short statement: the views follow the
//!   tables and columns they name through the renames, so the new release goes on through
//!   them until they are gone, and then through the tables, which have its shape.
//!
//! `db downgrade` of an expanded revision undoes the expansion: the old shape was kept all
//! along (the triggers wrote the new release's rows into it), so nothing is lost.

mod shadow;

use std::collections::{BTreeMap, BTreeSet};

use crate::ops::{Op, OpError};
use crate::schema::{ColumnDefault, ColumnType, Schema};

/// What in an operation breaks the release built for the schema before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Breaking {
    RenameTable {
        table: String,
        new_name: String,
    },
    RenameColumn {
        table: String,
        column: String,
        new_name: String,
    },
    DropTable {
        table: String,
    },
    DropColumn {
        table: String,
        column: String,
    },
    /// Values it reads as `from` become `to`.
    Retype {
        table: String,
        column: String,
        from: ColumnType,
        to: ColumnType,
    },
    /// A column it may write NULL into becomes NOT NULL.
    NotNull {
        table: String,
        column: String,
    },
}

/// Whether a release built for `from` reads values of `to` as it did: the text types all
/// read as a string; anything else must stay what it was.
pub fn read_alike(from: &ColumnType, to: &ColumnType) -> bool {
    use ColumnType::{Enum, String, Text};
    let text = |t: &ColumnType| matches!(t, String(_) | Text | Enum(_));
    from == to || text(from) && text(to)
}

/// What `op` breaks for a release built for `schema` (the schema before it), if anything.
pub fn breaking(op: &Op, schema: &Schema) -> Vec<Breaking> {
    let column = |table: &str, name: &str| schema.table(table).and_then(|t| t.find_column(name));
    match op {
        Op::RenameTable { table, new_name } if schema.table(table).is_some() => {
            vec![Breaking::RenameTable {
                table: table.clone(),
                new_name: new_name.clone(),
            }]
        }
        Op::DropTable { table } if schema.table(table).is_some() => {
            vec![Breaking::DropTable {
                table: table.clone(),
            }]
        }
        Op::DropColumn {
            table,
            column: name,
        } if column(table, name).is_some() => {
            vec![Breaking::DropColumn {
                table: table.clone(),
                column: name.clone(),
            }]
        }
        Op::AlterColumn {
            table,
            column: name,
            ty,
            nullable,
            new_name,
            ..
        } => {
            let Some(current) = column(table, name) else {
                return Vec::new();
            };
            let mut found = Vec::new();
            if let Some(to) = ty.as_ref().filter(|to| !read_alike(&current.ty, to)) {
                found.push(Breaking::Retype {
                    table: table.clone(),
                    column: name.clone(),
                    from: current.ty.clone(),
                    to: to.clone(),
                });
            }
            if *nullable == Some(false) && current.nullable {
                found.push(Breaking::NotNull {
                    table: table.clone(),
                    column: name.clone(),
                });
            }
            if let Some(new_name) = new_name.as_ref().filter(|n| *n != name) {
                found.push(Breaking::RenameColumn {
                    table: table.clone(),
                    column: name.clone(),
                    new_name: new_name.clone(),
                });
            }
            found
        }
        _ => Vec::new(),
    }
}

/// A revision that cannot run side by side, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    #[error(
        "operation {number} ({op}) changes '{name}', which this revision also renames, drops or retypes; the two releases would not agree on it: make that change in a revision of its own"
    )]
    Entangled {
        number: usize,
        op: String,
        name: String,
    },
    #[error(
        "'{table}.{column}' {why}: changing its type side by side is not done; stop the site for this revision"
    )]
    CannotRetype {
        table: String,
        column: String,
        why: &'static str,
    },
    #[error(
        "operation {number} ({op}) changes '{name}' in more than one way the release still serving would fail on (a rename, a type, NOT NULL); make each a revision of its own"
    )]
    SeveralAtOnce {
        number: usize,
        op: String,
        name: String,
    },
    #[error(transparent)]
    Op(#[from] OpError),
}

/// How a revision runs side by side.
#[derive(Debug, Clone, PartialEq)]
pub struct Expansion {
    /// The schema of views the release built for the revision reads through.
    pub view_schema: String,
    /// What runs now.
    pub expand: Vec<Op>,
    /// The schema once expanded: the parent's, with what the expansion added.
    pub expanded: Schema,
    /// What runs once the release before is gone.
    pub contract: Vec<Op>,
    /// What takes away what the expansion made beyond tables and columns (the schema of
    /// views, triggers and their functions), when it is undone.
    pub teardown: Vec<String>,
}

/// The schema of views of revision `id`.
pub fn view_schema_name(id: &str) -> String {
    format!("dbmigrate_{}", id.to_ascii_lowercase())
}

/// How `upgrade` (the operations of revision `id`) runs side by side from `parent`;
/// `None` when it breaks nothing and runs as it is.
pub fn plan(id: &str, upgrade: &[Op], parent: &Schema) -> Result<Option<Expansion>, ExpandError> {
    let mut logical = parent.clone();
    let mut changes = Vec::new();
    for op in upgrade {
        changes.push(breaking(op, &logical));
        logical.apply(op)?;
    }
    if changes.iter().all(Vec::is_empty) {
        return Ok(None);
    }
    let view_schema = view_schema_name(id);
    let mut physical = parent.clone();
    let mut logical = parent.clone();
    let mut expand = Vec::new();
    let mut contract = Vec::new();
    let mut teardown = Vec::new();
    let mut not_null = Vec::new();
    // Logical (table, column) of the revision's shape → the physical column behind it.
    let mut columns: BTreeMap<(String, String), String> = BTreeMap::new();
    // Logical table → physical table.
    let mut tables: BTreeMap<String, String> = BTreeMap::new();
    let mut touched: BTreeSet<String> = BTreeSet::new();
    for (index, (op, found)) in upgrade.iter().zip(&changes).enumerate() {
        let number = index + 1;
        if found.is_empty() {
            for name in names_used(op) {
                if touched.contains(&name) {
                    return Err(ExpandError::Entangled {
                        number,
                        op: op.describe(),
                        name,
                    });
                }
            }
            physical.apply(op)?;
            expand.push(op.clone());
        }
        if found.len() > 1 {
            let Op::AlterColumn { table, column, .. } = op else {
                unreachable!("only alter_column breaks in several ways at once")
            };
            return Err(ExpandError::SeveralAtOnce {
                number,
                op: op.describe(),
                name: format!("{table}.{column}"),
            });
        }
        for change in found {
            match change {
                Breaking::RenameTable { table, new_name } => {
                    let physical_name = tables.remove(table).unwrap_or_else(|| table.clone());
                    let moved: Vec<_> = columns
                        .iter()
                        .filter(|((t, _), _)| t == table)
                        .map(|((_, c), p)| (c.clone(), p.clone()))
                        .collect();
                    for (c, p) in moved {
                        columns.remove(&(table.clone(), c.clone()));
                        columns.insert((new_name.clone(), c), p);
                    }
                    tables.insert(new_name.clone(), physical_name);
                    touched.extend([table.clone(), new_name.clone()]);
                    contract.push(op.clone());
                }
                Breaking::RenameColumn {
                    table,
                    column,
                    new_name,
                } => {
                    let behind = columns
                        .remove(&(table.clone(), column.clone()))
                        .unwrap_or_else(|| column.clone());
                    columns.insert((table.clone(), new_name.clone()), behind);
                    touched.extend([format!("{table}.{column}"), format!("{table}.{new_name}")]);
                    contract.push(op.clone());
                }
                Breaking::DropTable { table } => {
                    touched.insert(table.clone());
                    contract.push(op.clone());
                }
                Breaking::DropColumn { table, column } => {
                    let dropped = logical.table(table).and_then(|t| t.find_column(column));
                    if let Some(dropped) = dropped.filter(|c| !c.nullable && c.default.is_none()) {
                        // The new release's rows leave it out: they get a value the old
                        // release can read.
                        let keep = Op::AlterColumn {
                            table: table.clone(),
                            column: column.clone(),
                            ty: None,
                            nullable: None,
                            set_default: Some(ColumnDefault::Literal(zero_value(&dropped.ty))),
                            drop_default: false,
                            new_name: None,
                            online: None,
                        };
                        physical.apply(&keep)?;
                        expand.push(keep);
                    }
                    touched.insert(format!("{table}.{column}"));
                    contract.push(op.clone());
                }
                Breaking::Retype {
                    table,
                    column,
                    from,
                    to,
                } => {
                    let twin = shadow::retype(&mut physical, table, column, from, to)?;
                    columns.insert((table.clone(), column.clone()), twin.shadow.clone());
                    touched.insert(format!("{table}.{column}"));
                    expand.extend(twin.expand);
                    contract.extend(twin.contract);
                    teardown.extend(twin.teardown);
                }
                Breaking::NotNull { table, column } => {
                    // NOT NULL waits for the contract, when no release writes NULL there any
                    // more; with a default, the NULLs the old release writes meanwhile get it.
                    let Op::AlterColumn { set_default, .. } = op else {
                        unreachable!("NOT NULL comes from alter_column")
                    };
                    if let Some(default) = set_default {
                        let held = shadow::filled(&mut physical, table, column, default)?;
                        expand.extend(held.expand);
                        contract.extend(held.contract);
                        teardown.extend(held.teardown);
                    }
                    not_null.push(op.clone());
                    touched.insert(format!("{table}.{column}"));
                }
            }
        }
        logical.apply(op)?;
    }
    let (views, names) = views_sql(&view_schema, &logical, &physical, &tables, &columns);
    expand.push(sql(views));
    // The views first, then the tables: the new release's queries lock a view and then its
    // table, and the contract taking them the other way round would deadlock with them.
    let mut ordered = Vec::new();
    if !names.is_empty() {
        ordered.push(sql(format!(
            "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
            names.join(", ")
        )));
    }
    ordered.append(&mut contract);
    ordered.push(sql(format!(
        "DROP SCHEMA IF EXISTS \"{view_schema}\" CASCADE"
    )));
    ordered.append(&mut not_null);
    let contract = ordered;
    teardown.insert(
        0,
        format!("DROP SCHEMA IF EXISTS \"{view_schema}\" CASCADE"),
    );
    Ok(Some(Expansion {
        view_schema,
        expand,
        expanded: physical,
        contract,
        teardown,
    }))
}

/// An `sql` operation, on PostgreSQL only (the engine expands only there).
pub(crate) fn sql(text: String) -> Op {
    Op::Sql {
        sql: text,
        sqlite: None,
        postgresql: None,
        mysql: None,
    }
}

/// The schema of views: one view per table whose name or columns differ from the table
/// behind it, each column under the name the new release asks for. Tables that differ in
/// nothing are read where they are (`public` is next in the search path). With the views'
/// names, schema-qualified.
fn views_sql(
    schema: &str,
    logical: &Schema,
    physical: &Schema,
    tables: &BTreeMap<String, String>,
    columns: &BTreeMap<(String, String), String>,
) -> (String, Vec<String>) {
    let q = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    let mut out = format!("CREATE SCHEMA \"{schema}\";");
    let mut names = Vec::new();
    for table in &logical.tables {
        let behind = tables.get(&table.name).unwrap_or(&table.name);
        let Some(physical_table) = physical.table(behind) else {
            continue;
        };
        let list: Vec<(String, String)> = table
            .columns
            .iter()
            .map(|c| {
                let from = columns
                    .get(&(table.name.clone(), c.name.clone()))
                    .cloned()
                    .unwrap_or_else(|| c.name.clone());
                (from, c.name.clone())
            })
            .collect();
        let same = behind == &table.name
            && list.iter().all(|(from, to)| from == to)
            && physical_table.columns.len() == list.len();
        if same {
            continue;
        }
        let select: Vec<String> = list
            .iter()
            .map(|(from, to)| {
                if from == to {
                    q(to)
                } else {
                    format!("{} AS {}", q(from), q(to))
                }
            })
            .collect();
        let view = format!("\"{schema}\".{}", q(&table.name));
        out.push_str(&format!(
            "\nCREATE VIEW {view} AS SELECT {} FROM {};",
            select.join(", "),
            q(behind)
        ));
        names.push(view);
    }
    (out, names)
}

/// The tables and columns an operation names, as `table` and `table.column`.
fn names_used(op: &Op) -> Vec<String> {
    let Some(table) = op.table() else {
        return Vec::new();
    };
    let columns: Vec<&String> = match op {
        Op::AlterColumn { column, .. } | Op::DropColumn { column, .. } => vec![column],
        Op::CreateIndex { columns, .. }
        | Op::CreateUniqueConstraint { columns, .. }
        | Op::CreateForeignKey { columns, .. }
        | Op::SetPrimaryKey { columns, .. } => columns.iter().collect(),
        Op::Backfill { set, .. } => set.keys().collect(),
        _ => Vec::new(),
    };
    let mut names = vec![table.to_string()];
    names.extend(columns.into_iter().map(|c| format!("{table}.{c}")));
    if let Op::CreateForeignKey { ref_table, .. } = op {
        names.push(ref_table.clone());
    }
    names
}

/// A value of `ty` for rows the new release writes without it.
fn zero_value(ty: &ColumnType) -> String {
    use ColumnType::*;
    match ty {
        SmallInteger | Integer | BigInteger | Float | Double | Numeric { .. } => "0".into(),
        Boolean => "FALSE".into(),
        Date => "'1970-01-01'".into(),
        Time => "'00:00:00'".into(),
        DateTime => "'1970-01-01 00:00:00'".into(),
        Binary => "''".into(),
        Enum(values) => format!(
            "'{}'",
            values
                .first()
                .cloned()
                .unwrap_or_default()
                .replace('\'', "''")
        ),
        String(_) | Text | Native(_) => "''".into(),
    }
}

#[cfg(test)]
mod tests;
