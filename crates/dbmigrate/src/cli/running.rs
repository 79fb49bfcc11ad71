//! One function per command that runs revisions on the database (`upgrade`, `downgrade`,
//! `contract`, `stamp`, and their `--sql` scripts) or reads the repository (`history`,
//! `heads`, `show`, `revision`); `run_with` only chooses among them.

use std::collections::BTreeSet;

use super::{Context, HistoryFormat, Progress, commands, drawing, listing, split_range};
use crate::connect;
use crate::migrate::{self, DowngradeTarget, MigrateError, UpgradeTarget};
use crate::repository::Repository;

/// Runs `work` with its events shown as they come, the last line ended after.
fn with_progress<T>(work: impl FnOnce(&mut Progress) -> T) -> T {
    let mut progress = Progress::default();
    let result = work(&mut progress);
    progress.finish_line();
    result
}

/// How a revision waits for its locks, and whether it may run side by side.
fn options(context: &Context, side_by_side: bool) -> migrate::Options {
    migrate::Options {
        policy: context.lock_policy,
        side_by_side,
    }
}

pub(super) fn upgrade(
    context: &Context,
    repo: &Repository,
    target: &str,
    site_stopped: bool,
) -> anyhow::Result<()> {
    let target: UpgradeTarget = target.parse()?;
    let url = &context.url;
    let mut conn = connect(url)?;
    let options = options(context, !site_stopped);
    let done = with_progress(|progress| {
        migrate::upgrade_with(&mut conn, url, repo, &target, &options, |e| {
            progress.show(e)
        })
    })?;
    if done.is_empty() {
        let status = migrate::status(&mut conn, repo)?;
        println!(
            "Nothing to upgrade: the database is at {}.",
            commands::position(repo, &status)
        );
    }
    Ok(())
}

pub(super) fn downgrade(context: &Context, repo: &Repository, target: &str) -> anyhow::Result<()> {
    let target: DowngradeTarget = target.parse()?;
    let url = &context.url;
    let mut conn = connect(url)?;
    let options = options(context, false);
    let done = with_progress(|progress| {
        migrate::downgrade_with(&mut conn, url, repo, &target, &options, |e| {
            progress.show(e)
        })
    })?;
    if done.is_empty() {
        println!("Nothing to downgrade.");
    }
    Ok(())
}

pub(super) fn contract(context: &Context, repo: &Repository) -> anyhow::Result<()> {
    let url = &context.url;
    let mut conn = connect(url)?;
    let options = options(context, false);
    let done = with_progress(|progress| {
        migrate::contract(&mut conn, url, repo, &options, |e| progress.show(e))
    })?;
    if done.is_empty() {
        println!("Nothing to contract: no revision runs side by side.");
    }
    Ok(())
}

pub(super) fn stamp(
    context: &Context,
    repo: &Repository,
    revisions: &[String],
    purge: bool,
) -> anyhow::Result<()> {
    let url = &context.url;
    let mut conn = connect(url)?;
    let (before, after) = with_progress(|progress| {
        migrate::stamp(&mut conn, url, repo, revisions, purge, |e| progress.show(e))
    })?;
    println!("Stamped the database: {before} -> {after}");
    Ok(())
}

/// `db upgrade --sql [FROM:]TO`.
pub(super) fn upgrade_sql(context: &Context, repo: &Repository, range: &str) -> anyhow::Result<()> {
    let (from, to) = split_range(range);
    let target: UpgradeTarget = to.parse()?;
    let dialect = context.url.dialect();
    let script = migrate::upgrade_sql(repo, dialect, from, &target, &context.lock_policy)?;
    print!("{script}");
    Ok(())
}

/// `db downgrade --sql FROM:TO`: offline, the script needs to know where it starts.
pub(super) fn downgrade_sql(
    context: &Context,
    repo: &Repository,
    range: &str,
) -> anyhow::Result<()> {
    let (Some(from), to) = split_range(range) else {
        return Err(MigrateError::OfflineDowngradeNeedsStart.into());
    };
    let target: DowngradeTarget = to.parse()?;
    let dialect = context.url.dialect();
    let script = migrate::downgrade_sql(repo, dialect, from, &target, &context.lock_policy)?;
    print!("{script}");
    Ok(())
}

/// What `db history` is asked for.
pub(super) struct HistoryRequest {
    pub rev_range: Option<String>,
    pub verbose: bool,
    pub indicate_current: bool,
    pub graph: bool,
    pub format: HistoryFormat,
}

pub(super) fn history(
    context: &Context,
    repo: &Repository,
    asked: HistoryRequest,
) -> anyhow::Result<()> {
    let wants_database = asked.indicate_current
        || asked
            .rev_range
            .as_deref()
            .is_some_and(|r| r.contains("current"));
    let status = if wants_database {
        Some(migrate::status(&mut connect(&context.url)?, repo)?)
    } else {
        None
    };
    let current: Option<BTreeSet<String>> =
        status.as_ref().map(|s| s.current.iter().cloned().collect());
    let current = current.as_ref();
    print!(
        "{}",
        match asked.format {
            HistoryFormat::Dot => drawing::dot(repo, current),
            HistoryFormat::Text if asked.graph => drawing::graph(repo, current),
            HistoryFormat::Text => {
                listing::history(repo, asked.rev_range.as_deref(), asked.verbose, current)?
            }
        }
    );
    for expanded in status.iter().flat_map(|s| &s.expanded) {
        println!(
            "{} is expanded side by side: `db contract` once the release before it is gone",
            expanded.revision
        );
    }
    Ok(())
}

pub(super) fn heads(repo: &Repository, verbose: bool) {
    for id in repo.graph().heads() {
        let revision = repo.revision(&id).expect("a head is a revision");
        if verbose {
            println!("{}", listing::verbose(repo, revision, None));
        } else {
            println!("{}", listing::short(repo, revision, None));
        }
    }
}

pub(super) fn show(repo: &Repository, revision: &str, file: bool) -> anyhow::Result<()> {
    let revision = match revision {
        "head" => repo
            .head()?
            .ok_or_else(|| anyhow::anyhow!("the repository has no revisions yet"))?,
        text => repo.resolve(text)?,
    };
    if file {
        println!("# {}", revision.source);
        print!("{}", revision.text);
    } else {
        print!("{}", listing::show(repo, revision, None));
    }
    Ok(())
}

/// `db revision -m MSG [--head REV] [--rev-id ID]`: an empty revision after the head, or
/// after the revision named.
pub(super) fn revision(
    repo: &mut Repository,
    message: &str,
    head: Option<&str>,
    rev_id: Option<String>,
) -> anyhow::Result<()> {
    let down = match head {
        Some(text) => vec![repo.resolve(text)?.id.clone()],
        None => repo.head()?.map(|r| r.id.clone()).into_iter().collect(),
    };
    commands::write_revision(repo, message, down, rev_id)?;
    Ok(())
}
