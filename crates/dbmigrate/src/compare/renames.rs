//! Tables told apart as renamed rather than dropped and added, and the hints about foreign
//! keys of the target schema.

use std::collections::BTreeSet;

use crate::schema::{Schema, Table};

/// Removed and added tables that look alike: at least half of the columns, by name and
/// type, the same on both. Best matches first; each table pairs once.
pub(super) fn table_renames<'a>(
    removed: &[&'a Table],
    added: &[&'a Table],
) -> Vec<(&'a Table, &'a Table)> {
    let signature = |t: &Table| -> BTreeSet<(String, String)> {
        t.columns
            .iter()
            .map(|c| (c.name.clone(), c.ty.to_string()))
            .collect()
    };
    let mut candidates = Vec::new();
    for old in removed {
        for new in added {
            let (a, b) = (signature(old), signature(new));
            let shared = a.intersection(&b).count();
            let larger = a.len().max(b.len());
            if larger > 0 && shared * 2 >= larger {
                candidates.push((shared * 1000 / larger, *old, *new));
            }
        }
    }
    candidates.sort_by_key(|(score, old, new)| {
        (
            std::cmp::Reverse(*score),
            old.name.clone(),
            new.name.clone(),
        )
    });
    let mut taken_old = BTreeSet::new();
    let mut taken_new = BTreeSet::new();
    let mut pairs = Vec::new();
    for (_, old, new) in candidates {
        if taken_old.insert(old.name.clone()) {
            if taken_new.insert(new.name.clone()) {
                pairs.push((old, new));
            } else {
                taken_old.remove(&old.name);
            }
        }
    }
    pairs
}

/// A foreign key whose columns no index, unique constraint or primary key starts with:
/// every lookup through it reads the whole table.
pub(super) fn foreign_key_hints(target: &Schema) -> Vec<String> {
    let mut hints = Vec::new();
    for table in &target.tables {
        for fk in &table.foreign_keys {
            if !table.has_index_for(&fk.columns) {
                hints.push(format!(
                    "Foreign key column '{}.{}' has no index: finding the rows that refer to a '{}' reads the whole table; consider indexing it",
                    table.name,
                    fk.columns.join(", "),
                    fk.ref_table
                ));
            }
        }
    }
    hints
}
