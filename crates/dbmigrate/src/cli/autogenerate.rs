//! `db migrate` and `db check`: the models compared with the live database.

use std::process::ExitCode;

use super::{Application, Chosen, Progress};
use crate::autogenerate::{compare_with_database, revision_for, risk_warnings};
use crate::compare::{CompareOptions, Comparison};
use crate::migrate::{self, Status};
use crate::{AnyConnection, DatabaseUrl, Repository, Schema, connect};

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

/// `db migrate -m MESSAGE`: writes a revision that brings the database to the models.
pub fn migrate(
    app: &Application,
    chosen: Chosen,
    url: &DatabaseUrl,
    message: &str,
    id: Option<String>,
    options: CompareOptions,
) -> anyhow::Result<()> {
    let target = (app.schema)();
    let mut repo = chosen.repository;
    let mut conn = connect(url)?;
    let status = checked_status(&mut conn, &repo, target)?;
    let head = repo.head()?.map(|r| r.id.clone());
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
    let comparison = compare_with_database(&mut conn, target, options)?;
    print_hints(&comparison);
    if comparison.is_empty() {
        println!("No changes in schema detected.");
        return Ok(());
    }
    for change in &comparison.changes {
        println!("{}", change.detected);
    }
    let warnings = risk_warnings(&mut conn, &comparison)?;
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    let created = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut revision = revision_for(&comparison, message, head.into_iter().collect(), &created);
    revision.notes = warnings;
    if let Some(id) = id {
        revision.id = id;
    }
    let path = repo.add(revision)?;
    println!("Generating {} ... done", path.display());
    Ok(())
}

fn print_hints(comparison: &Comparison) {
    for hint in &comparison.hints {
        eprintln!("hint: {hint}");
    }
}

/// `db check`: exit 0 when the database is at head and matches the models, 1 otherwise.
pub fn check(
    app: &Application,
    chosen: Chosen,
    url: &DatabaseUrl,
    format: Format,
    options: CompareOptions,
) -> anyhow::Result<ExitCode> {
    let target = (app.schema)();
    let repo = chosen.repository;
    let mut conn = connect(url)?;
    let status = checked_status(&mut conn, &repo, target)?;
    let pending = migrate::upgrade_path(&repo, &status.applied, &migrate::UpgradeTarget::Heads)?;
    let comparison = compare_with_database(&mut conn, target, options)?;
    let agrees = pending.is_empty() && comparison.is_empty();
    match format {
        Format::Json => {
            let report = serde_json::json!({
                "database": url.to_string(),
                "up_to_date": agrees,
                "pending_revisions": pending,
                "edited_revisions": status.edited,
                "changes": comparison.changes,
                "hints": comparison.hints,
            });
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Format::Text => {
            print_hints(&comparison);
            if !pending.is_empty() {
                println!(
                    "Target database is not up to date: {} revision(s) not applied ({}); run {}",
                    pending.len(),
                    pending.join(", "),
                    app.command("db upgrade")
                );
            }
            if pending.is_empty() {
                for change in &comparison.changes {
                    println!("{}", change.detected);
                }
            }
            if agrees {
                println!("No new upgrade operations detected.");
            } else if !comparison.is_empty() && pending.is_empty() {
                println!(
                    "New upgrade operations detected: run {}",
                    app.command("db migrate -m MESSAGE")
                );
            }
        }
    }
    Ok(if agrees {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
