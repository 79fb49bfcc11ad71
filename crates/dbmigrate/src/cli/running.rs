//! One function per command that runs revisions on the database (`upgrade`, `downgrade`,
//! `contract`, `stamp`, and their `--sql` scripts) or reads the repository (`history`,
//! `heads`, `show`, `revision`); `run_with` only chooses among them.

use std::collections::BTreeSet;

use super::{Context, HistoryFormat, Progress, commands, drawing, listing, split_range};
use crate::connect;
use crate::migrate::{self, DowngradeTarget, MigrateError, UpgradeTarget};
use crate::repository::Repository;
use crate::revision::Revision;

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

/// The revision `text` names: `head`, an id, or a unique prefix of one.
fn named<'r>(repo: &'r Repository, text: &str) -> anyhow::Result<&'r Revision> {
    Ok(match text {
        "head" => repo
            .head()?
            .ok_or_else(|| anyhow::anyhow!("the repository has no revisions yet"))?,
        text => repo.resolve(text)?,
    })
}

pub(super) fn show(repo: &Repository, revision: &str, file: bool) -> anyhow::Result<()> {
    let revision = named(repo, revision)?;
    if file {
        println!("# {}", revision.source);
        print!("{}", revision.text);
    } else {
        print!("{}", listing::show(repo, revision, None));
    }
    Ok(())
}

/// `db edit [REV]`: the revision's file in `$VISUAL` or `$EDITOR`, checked once the editor
/// closes; a revision already applied to the database is pointed out, since the database
/// keeps what the file did before.
pub(super) fn edit(
    context: &Context,
    dir: &std::path::Path,
    revision: &str,
) -> anyhow::Result<std::process::ExitCode> {
    let (id, file) = match Repository::open(dir) {
        Ok(repo) => {
            let found = named(&repo, revision)?;
            (found.id.clone(), found.source.clone())
        }
        // A file the last edit broke is still found by its id, to be fixed.
        Err(broken) => match file_named(dir, revision) {
            Some(file) => (revision.to_string(), file),
            None => return Err(broken.into()),
        },
    };
    let editor = ["VISUAL", "EDITOR"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "neither VISUAL nor EDITOR is set; set EDITOR to the editor to open {file} with"
            )
        })?;
    // Through the shell, as git does: EDITOR may hold arguments (`code --wait`).
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&file)
        .status()
        .map_err(|e| anyhow::anyhow!("cannot start the editor '{editor}': {e}"))?;
    if !status.success() {
        anyhow::bail!("the editor '{editor}' failed ({status}); {file} is as the editor left it");
    }
    let edited = match Repository::open(dir) {
        Ok(edited) => edited,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("{file} is kept as edited; run `db edit {id}` again to fix it");
            return Ok(std::process::ExitCode::FAILURE);
        }
    };
    // Only a database that is there is asked; editing needs none, and makes no SQLite file.
    let absent = matches!(&context.url, crate::DatabaseUrl::Sqlite(crate::url::SqliteLocation::File(path)) if !path.exists());
    if !absent
        && let Ok(mut conn) = connect(&context.url)
        && let Ok(status) = migrate::status(&mut conn, &edited)
        && status.edited.contains(&id)
    {
        eprintln!(
            "warning: {id} was applied to this database before the edit, which keeps what the revision did then; \
             `db downgrade` past it and `db upgrade` run it as it is now"
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// The one file of `dir`'s versions whose name starts with `id`.
fn file_named(dir: &std::path::Path, id: &str) -> Option<String> {
    let versions = dir.join("versions");
    let mut found = std::fs::read_dir(&versions)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with(id))
        });
    let file = found.next()?;
    found.next().is_none().then(|| file.display().to_string())
}
