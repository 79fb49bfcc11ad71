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
    pub predicate: Option<String>,
    pub constraint: bool,
}

pub(super) fn keyed(table: &Table) -> BTreeMap<&str, Keyed> {
    let indexes = table.indexes.iter().map(|i| {
        (
            i.name.as_str(),
            Keyed {
                columns: i.columns.clone(),
                unique: i.unique,
                predicate: i.predicate.clone(),
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
                predicate: None,
                constraint: true,
            },
        )
    });
    indexes.chain(constraints).collect()
}

impl Keyed {
    /// An index as a table declares one.
    pub(super) fn index(index: &crate::schema::Index) -> Keyed {
        Keyed {
            columns: index.columns.clone(),
            unique: index.unique,
            predicate: index.predicate.clone(),
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
    a.columns == b.columns
        && a.unique == b.unique
        && a.predicate.as_deref().map(predicate_text) == b.predicate.as_deref().map(predicate_text)
}

/// A condition (a partial index's, a CHECK constraint's) as compared. PostgreSQL gives
/// back `((status)::text = 'published'::text)` for `status = 'published'`, `= ANY
/// (ARRAY[…])` for `IN (…)`, and `'2026-01-01 00:00:00'::timestamp without time zone` for
/// `'2026-01-01'`: parentheses, casts, spaces and case outside quoted strings do not count,
/// nor do those two rewrites.
pub(super) fn predicate_text(sql: &str) -> String {
    let mut out = String::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                let mut literal = String::from(c);
                for c in chars.by_ref() {
                    literal.push(c);
                    if c == '\'' {
                        break;
                    }
                }
                out.push_str(&literal.replace(" 00:00:00'", "'"));
            }
            ':' if chars.peek() == Some(&':') => {
                chars.next();
                let mut cast = String::new();
                while let Some(c) = chars.next_if(|c| c.is_alphanumeric() || *c == '_' || *c == ' ')
                {
                    cast.push(c);
                }
                // An array type's brackets: `::text[]`.
                while chars.next_if(|c| *c == '[' || *c == ']').is_some() {}
                // The type's words, but not a keyword after it (`::text AND …`).
                let words: Vec<&str> = cast.split_whitespace().collect();
                let kept = words
                    .iter()
                    .skip(type_words(&words))
                    .map(|w| w.to_lowercase());
                out.extend(kept);
            }
            c if c.is_whitespace() || matches!(c, '(' | ')' | '"' | '`') => {}
            c => out.extend(c.to_lowercase()),
        }
    }
    // `x = ANY (ARRAY['a', 'b'])` is how PostgreSQL keeps `x IN ('a', 'b')`.
    match out.find("=anyarray[") {
        Some(at) => {
            let rest = &out[at + "=anyarray[".len()..];
            let end = rest.rfind(']').unwrap_or(rest.len());
            let after = rest.get(end + 1..).unwrap_or("");
            format!("{}in{}{after}", &out[..at], &rest[..end])
        }
        None => out,
    }
}

/// How many of `words` a PostgreSQL type name takes: `text`, `character varying`,
/// `timestamp without time zone`…
fn type_words(words: &[&str]) -> usize {
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    let starts = |phrase: &[&str]| {
        lower.len() >= phrase.len() && lower.iter().zip(phrase).all(|(a, b)| a == b)
    };
    for phrase in [
        &["timestamp", "without", "time", "zone"][..],
        &["timestamp", "with", "time", "zone"],
        &["time", "without", "time", "zone"],
        &["time", "with", "time", "zone"],
        &["character", "varying"],
        &["double", "precision"],
    ] {
        if starts(phrase) {
            return phrase.len();
        }
    }
    1.min(words.len())
}

pub(super) fn key_change(table: &str, name: &str, key: &Keyed, added: bool) -> Change {
    let create = if key.constraint {
        Op::CreateUniqueConstraint {
            table: table.into(),
            name: name.into(),
            columns: key.columns.clone(),
            online: None,
        }
    } else {
        Op::CreateIndex {
            table: table.into(),
            name: name.into(),
            columns: key.columns.clone(),
            unique: key.unique,
            predicate: key.predicate.clone(),
            concurrently: None,
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
            concurrently: None,
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
    Change::one_op(kind, detected, upgrade, downgrade)
}

pub(super) fn foreign_key_change(table: &str, fk: &ForeignKey, added: bool) -> Change {
    let create = Op::CreateForeignKey {
        table: table.into(),
        name: fk.name.clone(),
        columns: fk.columns.clone(),
        ref_table: fk.ref_table.clone(),
        ref_columns: fk.ref_columns.clone(),
        on_delete: fk.on_delete,
        online: None,
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
    Change::one_op(kind, detected, upgrade, downgrade)
}

#[cfg(test)]
mod tests {
    use super::predicate_text;

    #[test]
    fn a_condition_compares_as_written_and_as_postgresql_tells_it() {
        assert_eq!(
            predicate_text("user_id IS NOT NULL AND body <> 'draft'"),
            predicate_text("((user_id IS NOT NULL) AND ((body)::text <> 'draft'::text))")
        );
        assert_eq!(
            predicate_text("status = 'x' and flag"),
            predicate_text("((status)::character varying = 'x'::character varying AND flag)")
        );
        assert_eq!(
            predicate_text("status IN ('a', 'b')"),
            predicate_text(
                "((status)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[]))"
            )
        );
        assert_eq!(
            predicate_text("\"timestamp\" > '2026-01-01'"),
            predicate_text("(\"timestamp\" > '2026-01-01 00:00:00'::timestamp without time zone)")
        );
        assert_ne!(
            predicate_text("body = 'A b'"),
            predicate_text("body = 'ab'")
        );
        assert_ne!(predicate_text("a IS NULL"), predicate_text("a IS NOT NULL"));
    }
}
