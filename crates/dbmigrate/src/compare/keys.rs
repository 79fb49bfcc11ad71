//! The changes of indexes, unique constraints and foreign keys: how the two sides are
//! matched, and the change each difference makes.

use std::collections::BTreeMap;

use super::{Change, ChangeKind};
use crate::ops::Op;
use crate::schema::{ForeignKey, Table};

fn columns_text(columns: &[String]) -> String {
    let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// An index or a unique constraint: what the two sides are matched on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Keyed {
    pub columns: Vec<String>,
    pub unique: bool,
    pub constraint: bool,
}

pub(super) fn keyed(table: &Table) -> BTreeMap<&str, Keyed> {
    let indexes = table.indexes.iter().map(|i| {
        (
            i.name.as_str(),
            Keyed {
                columns: i.columns.clone(),
                unique: i.unique,
                constraint: false,
            },
        )
    });
    let constraints = table.unique_constraints.iter().map(|u| {
        (
            u.name.as_str(),
            Keyed {
                columns: u.columns.clone(),
                unique: true,
                constraint: true,
            },
        )
    });
    indexes.chain(constraints).collect()
}

impl Keyed {
    /// An index on `columns`, as a model's table declares one.
    pub(super) fn index(columns: &[String], unique: bool) -> Keyed {
        Keyed {
            columns: columns.to_vec(),
            unique,
            constraint: false,
        }
    }

    fn what(&self) -> &'static str {
        if self.constraint {
            "unique constraint"
        } else {
            "index"
        }
    }
}

pub(super) fn same_key(a: &Keyed, b: &Keyed) -> bool {
    a.columns == b.columns && a.unique == b.unique
}

pub(super) fn key_change(table: &str, name: &str, key: &Keyed, added: bool) -> Change {
    let create = if key.constraint {
        Op::CreateUniqueConstraint {
            table: table.into(),
            name: name.into(),
            columns: key.columns.clone(),
        }
    } else {
        Op::CreateIndex {
            table: table.into(),
            name: name.into(),
            columns: key.columns.clone(),
            unique: key.unique,
            concurrently: false,
        }
    };
    let drop = if key.constraint {
        Op::DropUniqueConstraint {
            table: table.into(),
            name: name.into(),
        }
    } else {
        Op::DropIndex {
            table: table.into(),
            name: name.into(),
            concurrently: false,
        }
    };
    let (kind, detected) = match (added, key.constraint) {
        (true, constraint) => (
            if constraint {
                ChangeKind::AddedUniqueConstraint
            } else {
                ChangeKind::AddedIndex
            },
            format!(
                "Detected added {} '{name}' on '{}'",
                key.what(),
                columns_text(&key.columns)
            ),
        ),
        (false, constraint) => (
            if constraint {
                ChangeKind::RemovedUniqueConstraint
            } else {
                ChangeKind::RemovedIndex
            },
            format!("Detected removed {} '{name}' on '{table}'", key.what()),
        ),
    };
    let (upgrade, downgrade) = if added {
        (create, drop)
    } else {
        (drop, create)
    };
    Change {
        kind,
        detected,
        upgrade: vec![upgrade],
        downgrade: vec![downgrade],
        risk: None,
    }
}

pub(super) fn foreign_key_change(table: &str, fk: &ForeignKey, added: bool) -> Change {
    let create = Op::CreateForeignKey {
        table: table.into(),
        name: fk.name.clone(),
        columns: fk.columns.clone(),
        ref_table: fk.ref_table.clone(),
        ref_columns: fk.ref_columns.clone(),
        on_delete: fk.on_delete,
    };
    let drop = Op::DropForeignKey {
        table: table.into(),
        name: fk.name.clone(),
    };
    let what = format!(
        "foreign key ({})({}) on table {table}",
        fk.columns.join(", "),
        fk.ref_columns.join(", ")
    );
    let (kind, detected, upgrade, downgrade) = if added {
        (
            ChangeKind::AddedForeignKey,
            format!("Detected added {what}"),
            create,
            drop,
        )
    } else {
        (
            ChangeKind::RemovedForeignKey,
            format!("Detected removed {what}"),
            drop,
            create,
        )
    };
    Change {
        kind,
        detected,
        upgrade: vec![upgrade],
        downgrade: vec![downgrade],
        risk: None,
    }
}
