//! Comparing two schemas — what a database holds and what the models want — into the
//! changes that take one to the other, each with the line that reports it and its
//! operations both ways. Pure: no database, so any pair of schemas can be compared.
//!
//! Indexes and unique constraints are matched by name, and a unique index counts as the
//! unique constraint of the same name and columns (MySQL keeps the one as the other).
//! Types, defaults and nullability are compared in the engine's normalised form, so that a
//! database freshly upgraded from the models compares equal on all three databases.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::ops::Op;

mod columns;
mod keys;
mod renames;
use crate::schema::{CheckConstraint, Column, ColumnType, ForeignKey, Schema, Table};
use columns::compare_column;
use keys::{Keyed, foreign_key_change, key_change, keyed, predicate_text, same_key};
use renames::{foreign_key_hints, table_renames};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    AddedTable,
    RemovedTable,
    RenamedTable,
    AddedColumn,
    RemovedColumn,
    RenamedColumn,
    TypeChanged,
    NullabilityChanged,
    DefaultChanged,
    AddedIndex,
    RemovedIndex,
    AddedUniqueConstraint,
    RemovedUniqueConstraint,
    AddedForeignKey,
    RemovedForeignKey,
    PrimaryKeyChanged,
    AddedCheckConstraint,
    RemovedCheckConstraint,
}

/// What a change may cost the data already in the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "risk", rename_all = "snake_case")]
pub enum Risk {
    DropsTable {
        table: String,
    },
    DropsColumn {
        table: String,
        column: String,
    },
    NarrowsType {
        table: String,
        column: String,
        from: String,
        to: String,
        /// The string type narrowed to, from a string, for counting what does not fit;
        /// `None` for other conversions, which cannot be judged value by value.
        #[serde(skip)]
        target: Option<ColumnType>,
    },
    ForbidsNull {
        table: String,
        column: String,
    },
    /// A drop and an add that were taken for a rename: right only if they are the same thing.
    GuessedRename {
        old: String,
        new: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub kind: ChangeKind,
    /// Alembic's line: `Detected added table 'user'`.
    pub detected: String,
    pub upgrade: Vec<Op>,
    /// In the order they run, undoing `upgrade`.
    pub downgrade: Vec<Op>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<Risk>,
}

impl Change {
    /// A change of one operation each way, with no rows counted at risk (autogenerate
    /// counts them later, against the live database).
    fn one_op(kind: ChangeKind, detected: String, upgrade: Op, downgrade: Op) -> Change {
        Change {
            kind,
            detected,
            upgrade: vec![upgrade],
            downgrade: vec![downgrade],
            risk: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Comparison {
    pub changes: Vec<Change>,
    /// Advice about the target schema itself (a foreign key without an index).
    pub hints: Vec<String>,
}

impl Comparison {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn upgrade_ops(&self) -> Vec<Op> {
        self.changes
            .iter()
            .flat_map(|c| c.upgrade.iter().cloned())
            .collect()
    }

    pub fn downgrade_ops(&self) -> Vec<Op> {
        self.changes
            .iter()
            .rev()
            .flat_map(|c| c.downgrade.iter().cloned())
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompareOptions {
    /// Take a removed and an added table (or column) that look alike for a rename.
    pub detect_renames: bool,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            detect_renames: true,
        }
    }
}

/// The changes that take `live` to `target`.
pub fn compare(live: &Schema, target: &Schema, options: CompareOptions) -> Comparison {
    let mut out = Comparison {
        changes: Vec::new(),
        hints: foreign_key_hints(target),
    };
    // Tables present on both sides are paired: a copy of the live one (renames and
    // references are adjusted on it below) with the target one.
    let Matched {
        mut removed,
        mut added,
        mut pairs,
    } = matched(&live.tables, &target.tables, |t| &t.name);
    if options.detect_renames {
        for (old, new) in table_renames(&removed, &added) {
            out.changes.push(Change {
                kind: ChangeKind::RenamedTable,
                detected: format!("Detected renamed table '{}' -> '{}'", old.name, new.name),
                upgrade: vec![Op::RenameTable {
                    table: old.name.clone(),
                    new_name: new.name.clone(),
                }],
                downgrade: vec![Op::RenameTable {
                    table: new.name.clone(),
                    new_name: old.name.clone(),
                }],
                risk: Some(Risk::GuessedRename {
                    old: old.name.clone(),
                    new: new.name.clone(),
                }),
            });
            let mut renamed = old.clone();
            renamed.name = new.name.clone();
            pairs.push((renamed, new));
            removed.retain(|t| t.name != old.name);
            added.retain(|t| t.name != new.name);
        }
    }

    // The databases carry references along when a table is renamed.
    let renamed: BTreeMap<String, String> = out
        .changes
        .iter()
        .flat_map(|c| &c.upgrade)
        .filter_map(|op| match op {
            Op::RenameTable { table, new_name } => Some((table.clone(), new_name.clone())),
            _ => None,
        })
        .collect();
    for (live_table, _) in &mut pairs {
        for fk in &mut live_table.foreign_keys {
            if let Some(new_name) = renamed.get(&fk.ref_table) {
                fk.ref_table = new_name.clone();
            }
        }
    }

    let target_order = target.dependency_order();
    added.sort_by_key(|t| target_order.iter().position(|n| *n == t.name));
    for table in added {
        added_table(&mut out, table);
    }
    pairs.sort_by_key(|(_, t)| target_order.iter().position(|n| *n == t.name));
    for (live_table, target_table) in &pairs {
        compare_table(&mut out, live_table, target_table, options);
    }
    let live_order = live.dependency_order();
    removed.sort_by_key(|t| std::cmp::Reverse(live_order.iter().position(|n| *n == t.name)));
    for table in removed {
        removed_table(&mut out, table);
    }
    out
}

/// Two lists of named things, matched by name.
struct Matched<'a, T> {
    /// Only in the live list.
    removed: Vec<&'a T>,
    /// Only in the target list.
    added: Vec<&'a T>,
    /// In both: a copy of the live one, and the target one, in target order.
    pairs: Vec<(T, &'a T)>,
}

fn matched<'a, T: Clone>(
    live: &'a [T],
    target: &'a [T],
    name: impl Fn(&T) -> &String,
) -> Matched<'a, T> {
    let live_by_name: BTreeMap<&String, &T> = live.iter().map(|t| (name(t), t)).collect();
    let target_names: BTreeSet<&String> = target.iter().map(&name).collect();
    Matched {
        removed: live
            .iter()
            .filter(|t| !target_names.contains(name(t)))
            .collect(),
        added: target
            .iter()
            .filter(|t| !live_by_name.contains_key(name(t)))
            .collect(),
        pairs: target
            .iter()
            .filter_map(|t| live_by_name.get(name(t)).map(|l| ((*l).clone(), t)))
            .collect(),
    }
}

fn added_table(out: &mut Comparison, table: &Table) {
    let mut bare = table.clone();
    bare.indexes.clear();
    out.changes.push(Change {
        kind: ChangeKind::AddedTable,
        detected: format!("Detected added table '{}'", table.name),
        upgrade: bare.creation_ops(),
        downgrade: vec![Op::DropTable {
            table: table.name.clone(),
        }],
        risk: None,
    });
    let mut indexes: Vec<_> = table.indexes.iter().collect();
    indexes.sort_by(|a, b| a.name.cmp(&b.name));
    for index in indexes {
        let key = Keyed::index(index);
        out.changes
            .push(key_change(&table.name, &index.name, &key, true));
    }
}

fn removed_table(out: &mut Comparison, table: &Table) {
    out.changes.push(Change {
        kind: ChangeKind::RemovedTable,
        detected: format!("Detected removed table '{}'", table.name),
        upgrade: vec![Op::DropTable {
            table: table.name.clone(),
        }],
        downgrade: table.creation_ops(),
        risk: Some(Risk::DropsTable {
            table: table.name.clone(),
        }),
    });
}

fn compare_table(out: &mut Comparison, live: &Table, target: &Table, options: CompareOptions) {
    let name = target.name.as_str();
    let live_keys = keyed(live);
    let target_keys = keyed(target);
    for fk in &live.foreign_keys {
        if !target.foreign_keys.iter().any(|t| same_reference(t, fk)) {
            out.changes.push(foreign_key_change(name, fk, false));
        }
    }
    for (key_name, key) in &live_keys {
        if !target_keys.get(key_name).is_some_and(|t| same_key(t, key)) {
            out.changes.push(key_change(name, key_name, key, false));
        }
    }
    for check in checks_missing_from(&live.check_constraints, &target.check_constraints) {
        out.changes.push(check_change(name, check, false));
    }

    let Matched {
        mut removed,
        mut added,
        pairs: mut column_pairs,
    } = matched(&live.columns, &target.columns, |c| &c.name);
    if options.detect_renames {
        let mut renames = Vec::new();
        for old in &removed {
            if let Some(new) = added.iter().find(|a| {
                a.ty == old.ty
                    && !renames
                        .iter()
                        .any(|(_, n): &(&Column, &Column)| n.name == a.name)
            }) {
                renames.push((*old, *new));
            }
        }
        for (old, new) in renames {
            out.changes.push(Change {
                kind: ChangeKind::RenamedColumn,
                detected: format!(
                    "Detected renamed column '{name}.{}' -> '{name}.{}'",
                    old.name, new.name
                ),
                upgrade: vec![Op::rename_column(name, &old.name, &new.name)],
                downgrade: vec![Op::rename_column(name, &new.name, &old.name)],
                risk: Some(Risk::GuessedRename {
                    old: format!("{name}.{}", old.name),
                    new: format!("{name}.{}", new.name),
                }),
            });
            let mut renamed = old.clone();
            renamed.name = new.name.clone();
            column_pairs.push((renamed, new));
            removed.retain(|c| c.name != old.name);
            added.retain(|c| c.name != new.name);
        }
    }
    for column in added {
        out.changes.push(Change::one_op(
            ChangeKind::AddedColumn,
            format!("Detected added column '{name}.{}'", column.name),
            Op::AddColumn {
                table: name.into(),
                column: column.clone(),
                online: None,
            },
            Op::DropColumn {
                table: name.into(),
                column: column.name.clone(),
            },
        ));
    }
    column_pairs.sort_by_key(|(_, t)| target.columns.iter().position(|c| c.name == t.name));
    for (live_column, target_column) in &column_pairs {
        compare_column(out, name, live_column, target_column);
    }
    if live.primary_key != target.primary_key {
        // After the columns it may need are added or made NOT NULL, before any it leaves
        // are dropped.
        let key = |columns: &[String]| Op::SetPrimaryKey {
            table: name.into(),
            columns: columns.to_vec(),
        };
        out.changes.push(Change::one_op(
            ChangeKind::PrimaryKeyChanged,
            format!(
                "Detected changed primary key on '{name}' from ({}) to ({})",
                live.primary_key.join(", "),
                target.primary_key.join(", ")
            ),
            key(&target.primary_key),
            key(&live.primary_key),
        ));
    }
    for column in removed {
        out.changes.push(Change {
            kind: ChangeKind::RemovedColumn,
            detected: format!("Detected removed column '{name}.{}'", column.name),
            upgrade: vec![Op::DropColumn {
                table: name.into(),
                column: column.name.clone(),
            }],
            downgrade: vec![Op::AddColumn {
                table: name.into(),
                column: column.clone(),
                online: None,
            }],
            risk: Some(Risk::DropsColumn {
                table: name.into(),
                column: column.name.clone(),
            }),
        });
    }

    for (key_name, key) in &target_keys {
        if !live_keys.get(key_name).is_some_and(|l| same_key(l, key)) {
            out.changes.push(key_change(name, key_name, key, true));
        }
    }
    for fk in &target.foreign_keys {
        if !live.foreign_keys.iter().any(|l| same_reference(l, fk)) {
            out.changes.push(foreign_key_change(name, fk, true));
        }
    }
    for check in checks_missing_from(&target.check_constraints, &live.check_constraints) {
        out.changes.push(check_change(name, check, true));
    }
}

/// The checks of `these` that `those` lacks, by name and condition (as the databases
/// rewrite conditions, compared as `predicate_text` tells them).
fn checks_missing_from<'a>(
    these: &'a [CheckConstraint],
    those: &[CheckConstraint],
) -> Vec<&'a CheckConstraint> {
    these
        .iter()
        .filter(|c| {
            !those.iter().any(|o| {
                o.name == c.name && predicate_text(&o.condition) == predicate_text(&c.condition)
            })
        })
        .collect()
}

fn check_change(table: &str, check: &CheckConstraint, added: bool) -> Change {
    let create = Op::CreateCheckConstraint {
        table: table.into(),
        name: check.name.clone(),
        condition: check.condition.clone(),
        online: None,
    };
    let drop = Op::DropCheckConstraint {
        table: table.into(),
        name: check.name.clone(),
    };
    let (kind, detected, upgrade, downgrade) = if added {
        let line = format!(
            "Detected added check constraint '{}' on '{table}'",
            check.name
        );
        (ChangeKind::AddedCheckConstraint, line, create, drop)
    } else {
        let line = format!(
            "Detected removed check constraint '{}' on '{table}'",
            check.name
        );
        (ChangeKind::RemovedCheckConstraint, line, drop, create)
    };
    Change::one_op(kind, detected, upgrade, downgrade)
}

/// Two foreign keys that reference the same way are the same key, whatever their names:
/// a database made by another tool names its keys its own way (PostgreSQL's
/// `post_user_id_fkey`, MySQL's `post_ibfk_1`), as Alembic also allows.
pub fn same_reference(a: &ForeignKey, b: &ForeignKey) -> bool {
    a.columns == b.columns
        && a.ref_table == b.ref_table
        && a.ref_columns == b.ref_columns
        && a.on_delete == b.on_delete
}
