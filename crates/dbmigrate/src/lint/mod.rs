//! Revisions judged before they run. Revision files are operations, not SQL, so each can be
//! judged exactly: what it destroys, what can fail on the data there is, what locks a
//! large PostgreSQL table, what cannot be undone, what splits the history. With a database
//! at the revision's parent, the rows at stake are counted (`counts.rs`).
//!
//! A finding can be accepted in the revision file, with the reason:
//! `accept = [{ rule = "drop-column", reason = "moved to profile in the revision before" }]`.

pub(crate) mod counts;

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use crate::connection::AnyConnection;
use crate::migrate::{MigrateError, replay};
use crate::ops::Op;
use crate::repository::Repository;
use crate::revision::Revision;
use crate::schema::Schema;
use crate::url::Dialect;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Notice,
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Notice => "notice",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// A rule: its id (what `accept` names), how serious, what it looks for.
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
}

/// Every rule, for `--help`-like listings and the README.
pub const RULES: &[Rule] = &[
    Rule {
        id: "drop-table",
        severity: Severity::Error,
        summary: "a table is dropped with its rows",
    },
    Rule {
        id: "drop-column",
        severity: Severity::Error,
        summary: "a column is dropped with its values",
    },
    Rule {
        id: "narrowing-type",
        severity: Severity::Warning,
        summary: "a column's type is narrowed below values that may be there (an error when some are)",
    },
    Rule {
        id: "not-null-on-nulls",
        severity: Severity::Warning,
        summary: "a column is made NOT NULL, which fails on NULLs (an error when some are)",
    },
    Rule {
        id: "not-null-without-default",
        severity: Severity::Warning,
        summary: "a NOT NULL column without a default is added to a table that may have rows (an error when it has)",
    },
    Rule {
        id: "unique-over-duplicates",
        severity: Severity::Warning,
        summary: "a unique index or constraint is added over values that may repeat (an error when they do)",
    },
    Rule {
        id: "pg-index-blocks-writes",
        severity: Severity::Warning,
        summary: "PostgreSQL: an index built without CONCURRENTLY locks its table against writes",
    },
    Rule {
        id: "pg-type-change-rewrites",
        severity: Severity::Warning,
        summary: "PostgreSQL: a type change rewrites the table under an exclusive lock",
    },
    Rule {
        id: "pg-foreign-key-scans",
        severity: Severity::Warning,
        summary: "PostgreSQL: a foreign key added to a table checks every row under a lock",
    },
    Rule {
        id: "no-downgrade",
        severity: Severity::Warning,
        summary: "the revision changes the schema and cannot be undone",
    },
    Rule {
        id: "second-head",
        severity: Severity::Error,
        summary: "the revision makes a second head",
    },
    Rule {
        id: "raw-sql",
        severity: Severity::Notice,
        summary: "SQL runs as written: it cannot be judged",
    },
];

fn rule(id: &str) -> &'static Rule {
    RULES.iter().find(|r| r.id == id).expect("a rule of RULES")
}

/// One thing a revision does that deserves a look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub revision: String,
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    pub fix: String,
    /// The reason given in the revision file, when it accepts the finding.
    pub accepted: Option<String>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} {}: {}",
            self.revision, self.severity, self.rule, self.message
        )?;
        match &self.accepted {
            Some(reason) => write!(f, " (accepted: {reason})"),
            None => write!(f, "; {}", self.fix),
        }
    }
}

/// The exit status findings call for: 2 with an error, 1 with a warning, 0 otherwise;
/// accepted findings do not count.
pub fn exit_status(findings: &[Finding]) -> u8 {
    match findings
        .iter()
        .filter(|f| f.accepted.is_none())
        .map(|f| f.severity)
        .max()
    {
        Some(Severity::Error) => 2,
        Some(Severity::Warning) => 1,
        _ => 0,
    }
}

/// What a revision's findings are judged against.
pub struct Context<'a> {
    pub repo: &'a Repository,
    pub dialect: Dialect,
    /// A database at the revision's parent, to count the rows at stake.
    pub database: Option<&'a mut AnyConnection>,
}

/// The findings of one revision.
pub fn lint(revision: &Revision, context: &mut Context) -> Result<Vec<Finding>, MigrateError> {
    let repo = context.repo;
    let mut before_ids = repo.graph().ancestors_and_self(&revision.id);
    before_ids.remove(&revision.id);
    let mut schema = replay(repo, &before_ids)?;
    let mut findings = Vec::new();
    let mut created: BTreeSet<String> = BTreeSet::new();
    for op in &revision.upgrade {
        let found = judge(op, &schema, &created, context)?;
        findings.extend(
            found
                .into_iter()
                .map(|(id, severity, message, fix)| Finding {
                    revision: revision.id.clone(),
                    rule: id,
                    severity,
                    message,
                    fix,
                    accepted: None,
                }),
        );
        if let Op::CreateTable { table, .. } = op {
            created.insert(table.clone());
        }
        // A revision that does not fit is reported when it runs; here it ends the walk.
        if schema.apply(op).is_err() {
            break;
        }
    }
    if !revision.upgrade.is_empty() && revision.downgrade.is_empty() {
        findings.push(finding(
            revision,
            "no-downgrade",
            "it has upgrade operations and no downgrade ones".into(),
            "write the [[downgrade]] operations that undo it".into(),
        ));
    }
    let heads = repo.graph().heads();
    if heads.len() > 1 && heads.contains(&revision.id) {
        findings.push(finding(
            revision,
            "second-head",
            format!("the repository has several heads ({})", heads.join(", ")),
            "join them with `db merge -m MESSAGE heads`, or give the revision the head as its down_revision".into(),
        ));
    }
    for finding in &mut findings {
        finding.accepted = revision
            .accept
            .iter()
            .find(|a| a.rule == finding.rule)
            .map(|a| a.reason.clone());
    }
    Ok(findings)
}

fn finding(revision: &Revision, id: &'static str, message: String, fix: String) -> Finding {
    Finding {
        revision: revision.id.clone(),
        rule: id,
        severity: rule(id).severity,
        message,
        fix,
        accepted: None,
    }
}

type Found = (&'static str, Severity, String, String);

/// A rule's finding, an error when the database shows the danger is real.
fn found(id: &'static str, message: String, fix: &str, rows_at_stake: Option<i64>) -> Found {
    let severity = match rows_at_stake {
        Some(n) if n > 0 => Severity::Error,
        _ => rule(id).severity,
    };
    let message = match rows_at_stake {
        Some(n) => format!("{message} ({n} here)"),
        None => message,
    };
    (id, severity, message, fix.to_string())
}

fn judge(
    op: &Op,
    schema: &Schema,
    created: &BTreeSet<String>,
    context: &mut Context,
) -> Result<Vec<Found>, MigrateError> {
    let postgres = context.dialect == Dialect::Postgres;
    let existing = |table: &str| !created.contains(table) && schema.table(table).is_some();
    let mut out = Vec::new();
    let mut count = |query: counts::Query| -> Result<Option<i64>, MigrateError> {
        match context.database.as_deref_mut() {
            Some(conn) => Ok(Some(counts::count(conn, &query)?)),
            None => Ok(None),
        }
    };
    match op {
        Op::DropTable { table } if existing(table) => {
            let rows = count(counts::Query::Rows { table })?;
            out.push(found(
                "drop-table",
                format!("dropping '{table}' deletes its rows"),
                "keep the rows elsewhere first (an `sql` operation), or accept it with the reason",
                rows,
            ));
        }
        Op::DropColumn { table, column } if existing(table) => {
            let values = count(counts::Query::NotNull { table, column })?;
            out.push(found(
                "drop-column",
                format!("dropping '{table}.{column}' discards its values"),
                "copy them elsewhere first (an `sql` operation), or accept it with the reason",
                values,
            ));
        }
        Op::AddColumn { table, column, .. }
            if existing(table)
                && !column.nullable
                && column.default.is_none()
                && !column.autoincrement =>
        {
            let rows = count(counts::Query::Rows { table })?;
            out.push(found(
                "not-null-without-default",
                format!(
                    "adding '{table}.{}' NOT NULL without a default fails on a table with rows",
                    column.name
                ),
                "give it a default (`default`), or add it nullable, fill it, then make it NOT NULL",
                rows,
            ));
        }
        Op::AlterColumn {
            table,
            column,
            ty,
            nullable,
            ..
        } if existing(table) => {
            let current = schema.table(table).and_then(|t| t.find_column(column));
            if let (Some(current), Some(ty)) = (current, ty)
                && !current.ty.fits_in(ty)
            {
                let query = counts::Query::NotFitting { table, column, ty };
                let rows = count(query)?;
                out.push(found(
                    "narrowing-type",
                    format!(
                        "'{table}.{column}' goes from {} to {ty}, which holds less",
                        current.ty
                    ),
                    "check the values there fit, or widen instead",
                    rows,
                ));
            }
            if postgres
                && let (Some(current), Some(ty)) = (current, ty)
                && !rewrite_free(&current.ty, ty)
            {
                out.push(found("pg-type-change-rewrites", format!("changing '{table}.{column}' from {} to {ty} rewrites '{table}' under an exclusive lock", current.ty), "on a large table, add a new column, copy in batches and swap", None));
            }
            if *nullable == Some(false) && current.is_some_and(|c| c.nullable) {
                let nulls = count(counts::Query::Null { table, column })?;
                out.push(found(
                    "not-null-on-nulls",
                    format!("making '{table}.{column}' NOT NULL fails while rows hold NULL there"),
                    "fill the NULLs first (an `sql` operation in the same revision)",
                    nulls,
                ));
            }
        }
        Op::CreateIndex {
            table,
            name,
            columns,
            unique,
            concurrently,
            ..
        } if existing(table) => {
            if *unique {
                let repeats = count(counts::Query::Duplicates { table, columns })?;
                out.push(found(
                    "unique-over-duplicates",
                    format!(
                        "the unique index '{name}' fails where values of ({}) repeat",
                        columns.join(", ")
                    ),
                    "remove the duplicates first",
                    repeats,
                ));
            }
            if postgres && *concurrently != Some(true) {
                let rows = count(counts::Query::Rows { table })?;
                out.push(
                    found(
                        "pg-index-blocks-writes",
                        format!(
                            "building '{name}' locks '{table}' against writes until it is done"
                        ),
                        "set `concurrently = true`, in a revision with `transaction = false`",
                        None,
                    )
                    .with_rows(rows),
                );
            }
        }
        Op::CreateUniqueConstraint {
            table,
            name,
            columns,
            ..
        } if existing(table) => {
            let repeats = count(counts::Query::Duplicates { table, columns })?;
            out.push(found(
                "unique-over-duplicates",
                format!(
                    "the unique constraint '{name}' fails where values of ({}) repeat",
                    columns.join(", ")
                ),
                "remove the duplicates first",
                repeats,
            ));
        }
        Op::SetPrimaryKey { table, columns } if existing(table) && !columns.is_empty() => {
            let repeats = count(counts::Query::Duplicates { table, columns })?;
            out.push(found(
                "unique-over-duplicates",
                format!(
                    "the primary key of '{table}' fails where values of ({}) repeat",
                    columns.join(", ")
                ),
                "remove the duplicates first",
                repeats,
            ));
        }
        Op::CreateForeignKey { table, name, .. } if postgres && existing(table) => {
            let rows = count(counts::Query::Rows { table })?;
            out.push(found("pg-foreign-key-scans", format!("adding '{name}' checks every row of '{table}' while holding a lock"), "on a large table, add it NOT VALID and VALIDATE CONSTRAINT after (`sql` operations)", None).with_rows(rows));
        }
        Op::Sql { .. } => {
            out.push(found(
                "raw-sql",
                "an `sql` operation runs as written".into(),
                "review it by hand",
                None,
            ));
        }
        _ => {}
    }
    Ok(out)
}

trait WithRows {
    /// The table's size added to a finding whose severity it does not change.
    fn with_rows(self, rows: Option<i64>) -> Self;
}

impl WithRows for Found {
    fn with_rows(self, rows: Option<i64>) -> Self {
        match rows {
            Some(n) => (self.0, self.1, format!("{} ({n} rows)", self.2), self.3),
            None => self,
        }
    }
}

/// Type changes PostgreSQL makes without rewriting the table: a longer VARCHAR, or
/// VARCHAR to TEXT.
fn rewrite_free(from: &crate::schema::ColumnType, to: &crate::schema::ColumnType) -> bool {
    use crate::schema::ColumnType::{Enum, String, Text};
    use crate::schema::enum_length;
    // An enumeration is a VARCHAR as long as its longest value there.
    match (from, to) {
        (String(Some(a)), String(Some(b))) => a <= b,
        (String(_) | Enum(_), String(None) | Text) => true,
        (Enum(a), Enum(b)) => enum_length(a) <= enum_length(b),
        (Enum(a), String(Some(b))) => enum_length(a) <= *b as usize,
        (String(Some(a)), Enum(b)) => *a as usize <= enum_length(b),
        (a, b) => a == b,
    }
}

#[cfg(test)]
mod tests;
