//! Revisions judged before they run. Revision files are operations, not SQL, so each can be
//! judged exactly: what it destroys, what can fail on the data there is, what locks a
//! large PostgreSQL table, what cannot be undone, what splits the history. With a database
//! at the revision's parent, the rows at stake are counted (`counts.rs`).
//!
//! A finding can be accepted in the revision file, with the reason:
//! `accept = [{ rule = "drop-column", reason = "moved to profile in the revision before" }]`.

pub(crate) mod counts;
mod rules;

pub use rules::{RULES, Rule};

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use crate::connection::AnyConnection;
use crate::migrate::{MigrateError, replay};
use crate::ops::Op;
use crate::repository::Repository;
use crate::revision::Revision;
use crate::schema::{ColumnType, Schema};
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
        for (rule, found) in judge(op, &schema, &created, context)? {
            let severity = match found.at_stake {
                Some(n) if n > 0 => Severity::Error,
                _ => rule.severity,
            };
            let counted = match (found.at_stake, found.rows) {
                (Some(n), _) => format!(" ({n} here)"),
                (None, Some(n)) => format!(" ({n} rows)"),
                (None, None) => String::new(),
            };
            findings.push(Finding {
                revision: revision.id.clone(),
                rule: rule.id,
                severity,
                message: format!("{}{counted}", found.message),
                fix: found.fix,
                accepted: None,
            });
        }
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
    // Heads of lines told apart by branch labels are meant to be several.
    let heads = repo.graph().unmerged_heads();
    if heads.contains(&revision.id) {
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

/// One operation being judged, with what the rules need to know of it.
pub(crate) struct Judging<'a, 'c> {
    op: &'a Op,
    /// The schema before it.
    schema: &'a Schema,
    /// Tables made earlier in the revision: they hold no rows, and no release reads them.
    created: &'a BTreeSet<String>,
    dialect: Dialect,
    postgres: bool,
    database: Option<&'c mut AnyConnection>,
}

impl Judging<'_, '_> {
    /// Whether `table` was there before the revision.
    fn existing(&self, table: &str) -> bool {
        !self.created.contains(table) && self.schema.table(table).is_some()
    }

    fn column(&self, table: &str, column: &str) -> Option<&crate::schema::Column> {
        self.schema.table(table).and_then(|t| t.find_column(column))
    }

    /// The rows `query` counts, in a database at the revision's parent, if there is one.
    fn count(&mut self, query: counts::Query) -> Result<Option<i64>, MigrateError> {
        match self.database.as_deref_mut() {
            Some(conn) => Ok(Some(counts::count(conn, &query)?)),
            None => Ok(None),
        }
    }

    /// Table, column, old and new type of a type change of an existing column.
    fn type_change(&self) -> Option<(String, String, ColumnType, ColumnType)> {
        let Op::AlterColumn {
            table,
            column,
            ty: Some(to),
            ..
        } = self.op
        else {
            return None;
        };
        let from = self.column(table, column)?.ty.clone();
        (self.existing(table) && &from != to)
            .then(|| (table.clone(), column.clone(), from, to.clone()))
    }
}

/// Every rule's finding in one operation.
fn judge(
    op: &Op,
    schema: &Schema,
    created: &BTreeSet<String>,
    context: &mut Context,
) -> Result<Vec<(&'static Rule, rules::Found)>, MigrateError> {
    let mut judging = Judging {
        op,
        schema,
        created,
        dialect: context.dialect,
        postgres: context.dialect == Dialect::Postgres,
        database: context.database.as_deref_mut(),
    };
    let mut out = Vec::new();
    for rule in RULES {
        if let Some(check) = rule.check
            && let Some(found) = check(&mut judging)?
        {
            out.push((rule, found));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
