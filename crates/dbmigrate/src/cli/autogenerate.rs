//! `db migrate` and `db check`: the models compared with the live database.

use std::process::ExitCode;

use super::{Application, Chosen, Context, NewRevision, Progress};
use crate::autogenerate::{
    compare_with_database, compare_with_revisions, revision_for, risk_warnings,
};
use crate::compare::{CompareOptions, Comparison};
use crate::migrate::{self, Status};
use crate::{AnyConnection, Repository, Schema, connect};

#[derive(Debug, thiserror::Error)]
pub enum AutogenerateError {
    #[error(
        "Target database is not up to date: it is at {at}, the repository's head is {head}; run {upgrade} first, then {migrate}"
    )]
    NotUpToDate {
        at: String,
        head: String,
        upgrade: String,
        migrate: String,
    },
    #[error(
        "the models define no tables, so there is nothing to compare the database with; a revision from them would drop every table"
    )]
    NoModels,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Where the database stands, after the problems that stop both commands.
fn checked_status(
    conn: &mut AnyConnection,
    repo: &Repository,
    target: &Schema,
) -> anyhow::Result<Status> {
    if target.tables.is_empty() {
        return Err(AutogenerateError::NoModels.into());
    }
    let mut progress = Progress::default();
    Ok(migrate::checked_status(conn, repo, &mut |e| {
        progress.show(e)
    })?)
}

fn heads_text(repo: &Repository) -> String {
    let heads = repo.graph().heads();
    if heads.is_empty() {
        "<base>".into()
    } else {
        heads.join(", ")
    }
}

/// `db migrate -m MESSAGE`: writes a revision that brings the database to the models; with
/// `offline`, that brings the schema the revisions build to them, with no database (for a
/// first revision of tables a database already has, or CI).
pub fn migrate(
    app: &Application,
    chosen: Chosen,
    context: &Context,
    new: &NewRevision,
    options: CompareOptions,
    offline: bool,
) -> anyhow::Result<()> {
    let (target, url) = ((app.schema)(), &context.url);
    let mut repo = chosen.repository;
    let mut conn = if offline {
        if target.tables.is_empty() {
            return Err(AutogenerateError::NoModels.into());
        }
        None
    } else {
        Some(connect(url)?)
    };
    let follows = new.follows(&repo, app)?;
    let comparison = match conn.as_mut() {
        None => {
            eprintln!("Comparing the models with the schema the revisions build");
            compare_with_revisions(&repo, target, options)?
        }
        Some(conn) => {
            let status = checked_status(conn, &repo, target)?;
            if let Some(expanded) = status.expanded.first() {
                // The tables still have the old shape beside the new: comparing them with
                // the models would write a revision of that mixture.
                return Err(
                    migrate::MigrateError::ContractPending(expanded.revision.clone()).into(),
                );
            }
            if !status.is_at_head(&repo) {
                return Err(AutogenerateError::NotUpToDate {
                    at: status.position(),
                    head: heads_text(&repo),
                    upgrade: app.command("db upgrade"),
                    migrate: app.command("db migrate"),
                }
                .into());
            }
            eprintln!("Comparing the models with {url}");
            compare_with_database(conn, target, options, &context.ignored_tables)?
        }
    };
    print_hints(&comparison);
    if comparison.is_empty() {
        println!("No changes in schema detected.");
        return Ok(());
    }
    for change in &comparison.changes {
        println!("{}", change.detected);
    }
    let warnings = match conn.as_mut() {
        Some(conn) => risk_warnings(conn, &comparison)?,
        None => Vec::new(),
    };
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    let created = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let revision = revision_for(&comparison, new.message(), follows, &created);
    let mut revision = new.shape(&repo, revision)?;
    revision
        .notes
        .splice(0..0, warnings.iter().map(|w| format!("CHECK: {w}")));
    let new_id = revision.id.clone();
    let path = repo.add(revision)?;
    println!("Generating {} ... done", path.display());
    let mut context = crate::lint::Context {
        repo: &repo,
        dialect: url.dialect(),
        database: conn.as_mut(),
    };
    let written = repo.revision(&new_id).expect("just added");
    for finding in crate::lint::lint(written, &mut context)? {
        eprintln!("lint: {finding}");
    }
    Ok(())
}

fn print_hints(comparison: &Comparison) {
    for hint in &comparison.hints {
        eprintln!("hint: {hint}");
    }
}

/// What `db check` found.
struct Report {
    /// The database compared, or `None` offline.
    database: Option<String>,
    heads: Vec<String>,
    /// Heads that share a line, to merge.
    unmerged: Vec<String>,
    pending: Vec<String>,
    /// Revisions run side by side whose contract is pending.
    expanded: Vec<String>,
    edited: Vec<String>,
    comparison: Comparison,
    /// What the lint finds in the pending revisions.
    findings: Vec<crate::lint::Finding>,
}

impl Report {
    fn agrees(&self) -> bool {
        self.unmerged.is_empty()
            && self.pending.is_empty()
            && self.expanded.is_empty()
            && self.comparison.is_empty()
            && crate::lint::exit_status(&self.findings) < 2
    }
}

/// `db check`: exit 0 when the repository has one head, the database is at it, and the
/// models match; 1 otherwise. Offline, the models are compared with the schema the
/// repository's revisions build, and no database is needed.
pub fn check(
    app: &Application,
    chosen: Chosen,
    context: &Context,
    offline: bool,
    format: Format,
    options: CompareOptions,
) -> anyhow::Result<ExitCode> {
    let (target, url) = ((app.schema)(), &context.url);
    if target.tables.is_empty() {
        return Err(AutogenerateError::NoModels.into());
    }
    let repo = chosen.repository;
    let heads = repo.graph().heads();
    let unmerged = repo.graph().unmerged_heads();
    let report = if offline {
        // Unmerged heads are said first: their revisions may not even replay together.
        let comparison = if !unmerged.is_empty() {
            Comparison::default()
        } else {
            compare_with_revisions(&repo, target, options)?
        };
        Report {
            database: None,
            heads,
            unmerged,
            pending: Vec::new(),
            expanded: Vec::new(),
            edited: Vec::new(),
            comparison,
            findings: Vec::new(),
        }
    } else {
        let mut conn = connect(url)?;
        let status = checked_status(&mut conn, &repo, target)?;
        let pending =
            migrate::upgrade_path(&repo, &status.applied, &migrate::UpgradeTarget::Heads)?;
        let expanded: Vec<String> = status.expanded.iter().map(|e| e.revision.clone()).collect();
        // While a revision runs side by side the tables hold both shapes: nothing to compare.
        let comparison = if expanded.is_empty() {
            compare_with_database(&mut conn, target, options, &context.ignored_tables)?
        } else {
            Comparison::default()
        };
        drop(conn);
        Report {
            database: Some(url.to_string()),
            heads,
            unmerged,
            findings: super::lint::findings(&repo, url, &[], false)?,
            pending,
            expanded,
            edited: status.edited,
            comparison,
        }
    };
    match format {
        Format::Json => {
            let json = serde_json::json!({
                "database": report.database,
                "up_to_date": report.agrees(),
                "heads": report.heads,
                "unmerged_heads": report.unmerged,
                "pending_revisions": report.pending,
                "expanded_revisions": report.expanded,
                "edited_revisions": report.edited,
                "changes": report.comparison.changes,
                "hints": report.comparison.hints,
                "lint": report.findings,
            });
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        Format::Text => print_report(app, &report),
    }
    Ok(if report.agrees() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_report(app: &Application, report: &Report) {
    print_hints(&report.comparison);
    if !report.unmerged.is_empty() {
        println!(
            "The repository has several heads ({}); merge them with {}",
            report.unmerged.join(", "),
            app.command("db merge -m MESSAGE heads")
        );
    }
    for finding in &report.findings {
        println!("lint: {finding}");
    }
    for id in &report.expanded {
        println!(
            "Revision {id} runs side by side, its contract pending: run {} once the last instance of the release before it is gone",
            app.command("db contract")
        );
    }
    if !report.pending.is_empty() {
        println!(
            "Target database is not up to date: {} revision(s) not applied ({}); run {}",
            report.pending.len(),
            report.pending.join(", "),
            app.command("db upgrade")
        );
        return;
    }
    for change in &report.comparison.changes {
        println!("{}", change.detected);
    }
    if report.agrees() {
        println!("No new upgrade operations detected.");
    } else if !report.comparison.is_empty() {
        println!(
            "New upgrade operations detected: run {}",
            app.command("db migrate -m MESSAGE")
        );
    }
}
