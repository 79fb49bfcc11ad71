//! `microblog db …`: Flask-Migrate's commands, on the migration engine.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::{autogenerate, listing};
use crate::config::Settings;
use crate::{migrations, models};
use dbmigrate::compare::CompareOptions;
use dbmigrate::migrate::{self, DowngradeTarget, Event, MigrateError, UpgradeTarget};
use dbmigrate::{AnyConnection, DatabaseUrl, Dialect, Repository, Revision, admin, connect};

const DEFAULT_DIRECTORY: &str = "migrations";

#[derive(Args, Debug)]
pub struct DbArgs {
    /// The migration repository [default: migrations/ when it exists, else the migrations
    /// built into this binary]
    #[arg(short, long, global = true, value_name = "DIR")]
    directory: Option<PathBuf>,
    #[command(subcommand)]
    command: DbCommand,
}

#[derive(Subcommand, Debug)]
enum DbCommand {
    /// Create a new migration repository (migrations/ unless -d says otherwise).
    Init,
    /// Write a revision that brings the database to the models, by comparing the two.
    Migrate {
        #[arg(short, long)]
        message: Option<String>,
        /// Write a removed and an added look-alike as a drop and an add, not a rename.
        #[arg(long)]
        no_rename: bool,
    },
    /// Exit 0 if the database is at head and matches the models, 1 with the differences if not.
    Check {
        #[arg(long, value_enum, default_value = "text")]
        format: autogenerate::Format,
        #[arg(long)]
        no_rename: bool,
    },
    /// Write a new revision with no operations, to fill in by hand.
    Revision {
        #[arg(short, long)]
        message: Option<String>,
        /// The revision the new one follows [default: the head]
        #[arg(long, value_name = "REVISION")]
        head: Option<String>,
    },
    /// Apply revisions up to TARGET: head, heads, +N, or a revision (a unique prefix will do).
    Upgrade {
        #[arg(default_value = "head", allow_hyphen_values = true)]
        target: String,
        /// Print the SQL instead of running it (no connection); TARGET may be FROM:TO.
        #[arg(long)]
        sql: bool,
    },
    /// Undo revisions down to TARGET: -N (default -1), a revision, or base.
    Downgrade {
        #[arg(default_value = "-1", allow_hyphen_values = true)]
        target: String,
        /// Print the SQL instead of running it (no connection); TARGET must be FROM:TO.
        #[arg(long)]
        sql: bool,
    },
    /// Show the revision(s) the database is at.
    Current {
        #[arg(short, long)]
        verbose: bool,
    },
    /// List the revisions, newest first.
    History {
        /// Only FROM:TO (revisions, base, head or current; either end may be left out).
        #[arg(short, long, value_name = "RANGE")]
        rev_range: Option<String>,
        #[arg(short, long)]
        verbose: bool,
        /// Mark the revisions the database is at.
        #[arg(short, long)]
        indicate_current: bool,
    },
    /// Show the heads: revisions no other revision follows.
    Heads {
        #[arg(short, long)]
        verbose: bool,
    },
    /// Show where history branches.
    Branches {
        #[arg(short, long)]
        verbose: bool,
    },
    /// Show one revision: where it sits and what it does.
    Show {
        #[arg(default_value = "head")]
        revision: String,
    },
    /// Record the database as being at REVISION(s) without running anything.
    Stamp {
        #[arg(required = true, value_name = "REVISION")]
        revisions: Vec<String>,
        /// Replace whatever the history holds, even revisions this repository lacks.
        #[arg(long)]
        purge: bool,
    },
    /// Write a revision that joins several heads into one.
    Merge {
        #[arg(short, long)]
        message: Option<String>,
        /// The revisions to join, or `heads` for all of them.
        #[arg(required = true, value_name = "REVISION")]
        revisions: Vec<String>,
    },
    /// Create the database DATABASE_URL names on its PostgreSQL or MySQL server, if it is missing.
    Create,
}

pub fn run(args: DbArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let url = &settings.database_url;
    let dir = args.directory.as_deref();
    match args.command {
        DbCommand::Init => init(dir.unwrap_or(Path::new(DEFAULT_DIRECTORY)))?,
        DbCommand::Create => create_database(url)?,
        DbCommand::Migrate { message, no_rename } => autogenerate::migrate(
            dir,
            url,
            models::schema(),
            &message.unwrap_or_default(),
            compare_options(no_rename),
        )?,
        DbCommand::Check { format, no_rename } => {
            return autogenerate::check(
                dir,
                url,
                models::schema(),
                format,
                compare_options(no_rename),
            );
        }
        DbCommand::Revision { message, head } => {
            let mut repo = on_disk(dir)?;
            let down = match head {
                Some(text) => vec![repo.resolve(&text)?.id.clone()],
                None => repo.head()?.map(|r| r.id.clone()).into_iter().collect(),
            };
            write_revision(&mut repo, &message.unwrap_or_default(), down)?;
        }
        DbCommand::Merge { message, revisions } => {
            let mut repo = on_disk(dir)?;
            let down = merge_parents(&repo, &revisions)?;
            write_revision(&mut repo, &message.unwrap_or_default(), down)?;
        }
        DbCommand::Upgrade { target, sql: true } => {
            let repo = chosen(dir)?;
            let (from, to) = split_range(&target);
            let target: UpgradeTarget = to.parse().map_err(anyhow::Error::msg)?;
            print!(
                "{}",
                migrate::upgrade_sql(&repo, url.dialect(), from, &target)?
            );
        }
        DbCommand::Downgrade { target, sql: true } => {
            let repo = chosen(dir)?;
            let (Some(from), to) = split_range(&target) else {
                return Err(MigrateError::OfflineDowngradeNeedsStart.into());
            };
            let target: DowngradeTarget = to.parse().map_err(anyhow::Error::msg)?;
            print!(
                "{}",
                migrate::downgrade_sql(&repo, url.dialect(), from, &target)?
            );
        }
        DbCommand::Upgrade { target, sql: false } => {
            let target: UpgradeTarget = target.parse().map_err(anyhow::Error::msg)?;
            let repo = chosen(dir)?;
            let mut conn = connect(url)?;
            let mut progress = Progress::default();
            let done = migrate::upgrade(&mut conn, url, &repo, &target, |e| progress.show(e));
            progress.finish_line();
            if done?.is_empty() {
                let status = migrate::status(&mut conn, &repo)?;
                println!(
                    "Nothing to upgrade: the database is at {}.",
                    position(&repo, &status)
                );
            }
        }
        DbCommand::Downgrade { target, sql: false } => {
            let target: DowngradeTarget = target.parse().map_err(anyhow::Error::msg)?;
            let repo = chosen(dir)?;
            let mut conn = connect(url)?;
            let mut progress = Progress::default();
            let done = migrate::downgrade(&mut conn, url, &repo, &target, |e| progress.show(e));
            progress.finish_line();
            if done?.is_empty() {
                println!("Nothing to downgrade.");
            }
        }
        DbCommand::Current { verbose } => {
            let repo = chosen(dir)?;
            let mut conn = connect(url)?;
            current(&repo, &mut conn, url, verbose)?;
        }
        DbCommand::History {
            rev_range,
            verbose,
            indicate_current,
        } => {
            let repo = chosen(dir)?;
            let wants_database =
                indicate_current || rev_range.as_deref().is_some_and(|r| r.contains("current"));
            let current = if wants_database {
                let mut conn = connect(url)?;
                Some(
                    migrate::status(&mut conn, &repo)?
                        .current
                        .into_iter()
                        .collect(),
                )
            } else {
                None
            };
            print!(
                "{}",
                listing::history(&repo, rev_range.as_deref(), verbose, current.as_ref())?
            );
        }
        DbCommand::Heads { verbose } => {
            let repo = chosen(dir)?;
            for id in repo.graph().heads() {
                let revision = repo.revision(&id).expect("a head is a revision");
                if verbose {
                    println!("{}", listing::verbose(&repo, revision, None));
                } else {
                    println!("{}", listing::short(&repo, revision, None));
                }
            }
        }
        DbCommand::Branches { verbose } => {
            let repo = chosen(dir)?;
            print!("{}", listing::branches(&repo, verbose));
        }
        DbCommand::Show { revision } => {
            let repo = chosen(dir)?;
            let revision = match revision.as_str() {
                "head" => repo
                    .head()?
                    .ok_or_else(|| anyhow::anyhow!("the repository has no revisions yet"))?,
                text => repo.resolve(text)?,
            };
            print!("{}", listing::show(&repo, revision, None));
        }
        DbCommand::Stamp { revisions, purge } => {
            let repo = chosen(dir)?;
            let mut conn = connect(url)?;
            let mut progress = Progress::default();
            let (before, after) = migrate::stamp(&mut conn, url, &repo, &revisions, purge, |e| {
                progress.show(e)
            })?;
            println!("Stamped the database: {before} -> {after}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The repository `-d` names, else `migrations/` here, else the built-in one; says which.
pub(super) fn chosen(dir: Option<&Path>) -> anyhow::Result<Repository> {
    if let Some(dir) = dir {
        let repo = Repository::open(dir)?;
        eprintln!("Using the migration repository {}", dir.display());
        return Ok(repo);
    }
    let default = Path::new(DEFAULT_DIRECTORY);
    if default.is_dir() {
        let repo = Repository::open(default)?;
        eprintln!("Using the migration repository {DEFAULT_DIRECTORY}/ in the working directory");
        return Ok(repo);
    }
    let repo = migrations::built_in()?;
    eprintln!(
        "Using {} (there is no {DEFAULT_DIRECTORY}/ here)",
        migrations::BUILT_IN_NAME
    );
    Ok(repo)
}

/// A repository that new revisions can be written to.
pub(super) fn on_disk(dir: Option<&Path>) -> anyhow::Result<Repository> {
    Ok(Repository::open(
        dir.unwrap_or(Path::new(DEFAULT_DIRECTORY)),
    )?)
}

fn init(dir: &Path) -> anyhow::Result<()> {
    for path in Repository::init(dir)? {
        let verb = if path.is_dir() {
            "Creating directory"
        } else {
            "Generating"
        };
        println!("  {verb} {} ...  done", path.display());
    }
    println!(
        "Next: `microblog db migrate -m MESSAGE` writes a revision from the models, \
         `microblog db revision -m MESSAGE` an empty one to fill in."
    );
    Ok(())
}

fn write_revision(repo: &mut Repository, message: &str, down: Vec<String>) -> anyhow::Result<()> {
    let created = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let path = repo.add(Revision::new(message, down, &created))?;
    println!("  Generating {} ...  done", path.display());
    Ok(())
}

fn merge_parents(repo: &Repository, texts: &[String]) -> anyhow::Result<Vec<String>> {
    let mut parents = BTreeSet::new();
    for text in texts {
        if text == "heads" {
            parents.extend(repo.graph().heads());
        } else {
            parents.insert(repo.resolve(text)?.id.clone());
        }
    }
    if parents.len() < 2 {
        anyhow::bail!(
            "a merge joins two or more revisions; {} given (see `db heads`)",
            parents.len()
        );
    }
    Ok(repo
        .graph()
        .order()
        .iter()
        .filter(|id| parents.contains(*id))
        .cloned()
        .collect())
}

fn compare_options(no_rename: bool) -> CompareOptions {
    CompareOptions {
        detect_renames: !no_rename,
    }
}

/// `FROM:TO` or just `TO`.
fn split_range(text: &str) -> (Option<&str>, &str) {
    match text.split_once(':') {
        Some((from, to)) => (Some(from).filter(|f| !f.is_empty()), to),
        None => (None, text),
    }
}

fn position(repo: &Repository, status: &migrate::Status) -> String {
    if status.current.is_empty() {
        return "<base>".to_string();
    }
    status
        .current
        .iter()
        .map(|id| listing::short(repo, repo.revision(id).expect("applied"), None))
        .collect::<Vec<_>>()
        .join(", ")
}

fn current(
    repo: &Repository,
    conn: &mut AnyConnection,
    url: &DatabaseUrl,
    verbose: bool,
) -> anyhow::Result<()> {
    let status = migrate::status(conn, repo)?;
    if verbose {
        println!("Current revision(s) for {url}:");
    }
    for id in &status.current {
        let revision = repo.revision(id).expect("applied");
        let edited = if status.edited.contains(id) {
            " (edited since it was applied)"
        } else {
            ""
        };
        if verbose {
            println!("{}", listing::verbose(repo, revision, None));
        } else {
            println!("{}{edited}", listing::short(repo, revision, None));
        }
    }
    for id in &status.unknown {
        println!("{id} (not in {})", repo.location());
    }
    if status.current.is_empty() && status.unknown.is_empty() {
        eprintln!("The database has no revision applied (it is at <base>).");
    }
    Ok(())
}

fn create_database(url: &DatabaseUrl) -> anyhow::Result<()> {
    if url.dialect() == Dialect::Sqlite {
        println!("{url} is a SQLite file; it is created when first used, nothing to do.");
        return Ok(());
    }
    let name = url.database_name().unwrap_or_default();
    if admin::create_database(url)? {
        println!("Created the database '{name}' on {url}");
    } else {
        println!("The database '{name}' already exists on {url}");
    }
    Ok(())
}

/// Prints a run's events: `Running upgrade … -> …, message ... done in 3.1 ms`.
#[derive(Default)]
pub struct Progress {
    line_open: bool,
}

impl Progress {
    pub fn show(&mut self, event: Event) {
        match event {
            Event::WaitingForLock => {
                eprintln!(
                    "Another migration of this database is running; waiting for it to finish ..."
                )
            }
            Event::Edited(revision) => eprintln!(
                "warning: revision {} ({}) was edited after it was applied to this database",
                revision.id, revision.source
            ),
            Event::Started(step) => {
                print!("{step} ... ");
                let _ = std::io::stdout().flush();
                self.line_open = true;
            }
            Event::Finished(_, elapsed) => {
                println!("done in {}", duration(elapsed));
                self.line_open = false;
            }
        }
    }

    /// Ends a line a failed step left open, so that the error starts on its own line.
    pub fn finish_line(&mut self) {
        if self.line_open {
            println!("failed");
            self.line_open = false;
        }
    }
}

fn duration(elapsed: Duration) -> String {
    if elapsed < Duration::from_secs(1) {
        format!("{:.1} ms", elapsed.as_secs_f64() * 1000.0)
    } else {
        format!("{:.2} s", elapsed.as_secs_f64())
    }
}
