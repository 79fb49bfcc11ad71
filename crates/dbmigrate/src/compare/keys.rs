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

pub(super) fn added_index(table: &str, name: &str, columns: &[String], unique: bool) -> Change {
    Change {
        kind: ChangeKind::AddedIndex,
        detected: format!(
            "Detected added index '{name}' on '{}'",
            columns_text(columns)
        ),
        upgrade: vec![Op::CreateIndex {
            table: table.into(),
            name: name.into(),
            columns: columns.to_vec(),
            unique,
        }],
        downgrade: vec![Op::DropIndex {
            table: table.into(),
            name: name.into(),
        }],
        risk: None,
    }
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
        }
    };
    let what = if key.constraint {
        "unique constraint"
    } else {
        "index"
    };
    let (kind, detected, upgrade, downgrade) = match (added, key.constraint) {
        (true, true) => (
            ChangeKind::AddedUniqueConstraint,
            format!(
                "Detected added {what} '{name}' on '{}'",
                columns_text(&key.columns)
            ),
            create,
            drop,
        ),
        (true, false) => (
            ChangeKind::AddedIndex,
            format!(
                "Detected added {what} '{name}' on '{}'",
                columns_text(&key.columns)
            ),
            create,
            drop,
        ),
        (false, true) => (
            ChangeKind::RemovedUniqueConstraint,
            format!("Detected removed {what} '{name}' on '{table}'"),
            drop,
            create,
        ),
        (false, false) => (
            ChangeKind::RemovedIndex,
            format!("Detected removed {what} '{name}' on '{table}'"),
            drop,
            create,
        ),
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
