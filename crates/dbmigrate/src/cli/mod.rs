//! Flask-Migrate's `db` command set, for any application to mount: the application gives
//! its name, its models' schema and its built-in migrations ([`Application`]), and where its
//! database and repository are ([`Context`]); every command and message then speaks of that
//! application.
//!
//! ```ignore
//! const APP: Application = Application { name: "blog", schema: models::schema, built_in: &[] };
//! // in the application's clap enum:  Db(dbmigrate::cli::DbArgs)
//! // and when it is chosen:           dbmigrate::cli::run(args, &APP, &context)
//! ```
//!
//! An application adds commands of its own beside the engine's (`blog db seed`) with
//! `DbArgs<ItsCommands>` and [`run_with`].

mod advice;
mod autogenerate;
mod choice;
mod commands;
mod drawing;
mod lint;
mod listing;
mod new_revision;
mod progress;
mod running;
mod startup;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use new_revision::NewRevision;

use crate::apply::LockPolicy;
use crate::compare::CompareOptions;
use crate::url::DatabaseUrl;
use crate::{Revision, Schema};
use crate::{connect, repository::RepositoryError};

pub use advice::explain;
pub use choice::{Chosen, Source, choose, choose_on_disk, source};
pub use progress::Progress;
pub use startup::{NotReady, Prepared, prepare_database, session_setup};

/// What an application tells the command set about itself.
#[derive(Clone, Copy)]
pub struct Application {
    /// The program's name as users type it: messages say `blog db upgrade` for `blog`.
    pub name: &'static str,
    /// The models' schema: what `db migrate` and `db check` bring the database to.
    pub schema: fn() -> &'static Schema,
    /// The migrations built into the program, as `(file name, text)`: used when there is
    /// no repository on disk, so that a deployed binary can upgrade its database.
    pub built_in: &'static [(&'static str, &'static str)],
}

impl Application {
    /// A command of the program, quoted: `` `blog db upgrade` ``.
    pub fn command(&self, words: &str) -> String {
        format!("`{} {words}`", self.name)
    }

    pub fn built_in_name(&self) -> String {
        format!("the migrations built into {}", self.name)
    }

    pub fn built_in_repository(&self) -> Result<crate::Repository, RepositoryError> {
        crate::Repository::built_in(&self.built_in_name(), self.built_in)
    }
}

/// Where the application's settings put the database and the repository.
#[derive(Debug, Clone)]
pub struct Context {
    pub url: DatabaseUrl,
    /// The `MIGRATIONS_DIR` setting, when there is one.
    pub migrations_dir: Option<PathBuf>,
    /// The `MIGRATIONS_IGNORE_TABLES` setting: tables of the database that autogenerate
    /// leaves alone (names, `*` for any run of characters), unless a model declares them.
    pub ignored_tables: Vec<String>,
    /// `MIGRATION_LOCK_TIMEOUT` and `MIGRATION_LOCK_RETRIES`: how a migration waits for a
    /// table's lock.
    pub lock_policy: LockPolicy,
}

impl Context {
    /// `DATABASE_URL` and `MIGRATIONS_DIR` from the environment, with a default URL. A
    /// DATABASE_URL set but empty is refused rather than taken for the default.
    pub fn from_environment(default_url: DatabaseUrl) -> anyhow::Result<Context> {
        let read = |name: &str| std::env::var(name).ok();
        Ok(Context {
            url: match read("DATABASE_URL") {
                Some(url) if url.trim().is_empty() => anyhow::bail!(
                    "DATABASE_URL is set but empty; give it a URL, or unset it for the default, {default_url}"
                ),
                Some(url) => DatabaseUrl::parse(&url)?,
                None => default_url,
            },
            migrations_dir: read("MIGRATIONS_DIR")
                .filter(|v| !v.trim().is_empty())
                .map(PathBuf::from),
            ignored_tables: table_patterns(read("MIGRATIONS_IGNORE_TABLES").as_deref()),
            lock_policy: LockPolicy::from_settings(
                read("MIGRATION_LOCK_TIMEOUT").as_deref(),
                read("MIGRATION_LOCK_RETRIES").as_deref(),
            )?,
        })
    }
}

/// `MIGRATIONS_IGNORE_TABLES`: names or patterns separated by commas or spaces.
pub fn table_patterns(setting: Option<&str>) -> Vec<String> {
    setting
        .unwrap_or_default()
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// The `db` command line; `X` is the application's own commands, if it adds any.
#[derive(Args, Debug)]
pub struct DbArgs<X: Subcommand = NoCommands> {
    /// The migration repository [default: MIGRATIONS_DIR if set, else migrations/ when it
    /// exists, else the migrations built into the program]
    #[arg(short, long, global = true, value_name = "DIR")]
    directory: Option<PathBuf>,
    #[command(subcommand)]
    command: DbCommand<X>,
}

/// No commands beside the engine's.
#[derive(Subcommand, Debug)]
pub enum NoCommands {}

#[derive(Subcommand, Debug)]
enum DbCommand<X: Subcommand> {
    /// Create a new migration repository (migrations/ unless -d or MIGRATIONS_DIR says otherwise).
    Init,
    /// Write a revision that brings the database to the models, by comparing the two.
    Migrate {
        #[command(flatten)]
        new: NewRevision,
        /// Write a removed and an added look-alike as a drop and an add, not a rename.
        #[arg(long)]
        no_rename: bool,
        /// Compare the models with the schema the revisions build, with no database: the
        /// first revision of tables a database already has, then `db stamp head`.
        #[arg(long)]
        offline: bool,
    },
    /// Exit 0 if the repository has one head, the database is at it and it matches the
    /// models; 1 with the differences if not.
    Check {
        #[arg(long, value_enum, default_value = "text")]
        format: autogenerate::Format,
        #[arg(long)]
        no_rename: bool,
        /// Compare the models with the schema the revisions build, with no database: for CI.
        #[arg(long)]
        offline: bool,
    },
    /// Write a new revision with no operations, to fill in by hand.
    Revision {
        #[command(flatten)]
        new: NewRevision,
    },
    /// Apply revisions up to TARGET: head, heads, +N, or a revision (a unique prefix will do).
    Upgrade {
        #[arg(default_value = "head", allow_hyphen_values = true)]
        target: String,
        /// Print the SQL instead of running it (no connection); TARGET may be FROM:TO.
        #[arg(long)]
        sql: bool,
        /// The site is stopped: a revision that would break the release serving runs in one
        /// go, not side by side (expand, then `db contract`).
        #[arg(long)]
        site_stopped: bool,
    },
    /// Finish the revisions run side by side: the shape the release before them read goes.
    /// Run it once the last instance of that release has stopped.
    Contract,
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
        /// Draw the revision graph, branches and merges, as `git log --graph` does.
        #[arg(long)]
        graph: bool,
        /// `dot` writes the graph for Graphviz.
        #[arg(long, value_enum, default_value = "text")]
        format: HistoryFormat,
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
        /// Print the revision's file as it is, to review it.
        #[arg(long)]
        file: bool,
    },
    /// Turn another tool's migrations (Diesel CLI's, sqlx's, refinery's) into revisions.
    Import {
        #[arg(value_enum)]
        tool: crate::import::Tool,
        /// The tool's migrations folder.
        dir: PathBuf,
    },
    /// Print model declarations (#[dbmigrate::models]) for the database's tables.
    Models {
        /// Only this table; repeat for several.
        #[arg(long = "table", value_name = "NAME")]
        tables: Vec<String>,
    },
    /// Open a revision's file in $VISUAL or $EDITOR, and check it once the editor closes.
    Edit {
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
    /// Write one revision that replaces a run of revisions, FROM to TO, doing the same;
    /// databases at any of them still upgrade. The replaced files stay until every database
    /// is past them.
    Squash {
        /// The first revision of the run (`base`: the first revision of the line).
        from: String,
        /// The last revision of the run.
        to: String,
        #[arg(short, long)]
        message: Option<String>,
    },
    /// Create the database the URL names on its PostgreSQL or MySQL server, if it is missing.
    Create,
    #[command(flatten)]
    Application(X),
    /// Judge revisions before they run: what they destroy, what can fail on the data
    /// there, what locks a large PostgreSQL table, what cannot be undone. Exit 2 with an
    /// error, 1 with a warning (findings accepted in the revision file aside).
    Lint {
        /// The revisions [default: those not applied to the database; all with --offline]
        #[arg(value_name = "REVISION")]
        revisions: Vec<String>,
        /// No database: no rows counted.
        #[arg(long)]
        offline: bool,
        #[arg(long, value_enum, default_value = "text")]
        format: autogenerate::Format,
        /// List the rules and leave.
        #[arg(long)]
        rules: bool,
    },
    /// Run every revision up, down and up again on a scratch database (a temporary SQLite
    /// file, or a new database on the URL's server, dropped after), checking the schema after
    /// each step against what the revision files say.
    Verify,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum HistoryFormat {
    Text,
    Dot,
}

/// Runs one `db` command for `app`.
pub fn run(args: DbArgs, app: &Application, context: &Context) -> anyhow::Result<ExitCode> {
    run_with(args, app, context, |never, _| match never {})
}

/// [`run`], with the application's own commands run by `own`, which is given the
/// repository `-d` named, if any (for [`choose`]).
pub fn run_with<X: Subcommand>(
    args: DbArgs<X>,
    app: &Application,
    context: &Context,
    own: impl FnOnce(X, Option<&std::path::Path>) -> anyhow::Result<ExitCode>,
) -> anyhow::Result<ExitCode> {
    let url = &context.url;
    let explicit = args.directory.as_deref();
    let chosen = || -> Result<Chosen, RepositoryError> {
        let chosen = choose(explicit, context, app)?;
        eprintln!("Using {}", chosen.source);
        Ok(chosen)
    };
    let on_disk = || choose_on_disk(explicit, context);
    match args.command {
        DbCommand::Application(command) => return own(command, explicit),
        DbCommand::Init => commands::init(app, &choice::init_directory(explicit, context))?,
        DbCommand::Create => commands::create_database(url)?,
        DbCommand::Verify => return verify::run(&chosen()?, url, &context.ignored_tables),
        DbCommand::Lint { rules: true, .. } => lint::print_rules(),
        DbCommand::Lint {
            revisions,
            offline,
            format,
            ..
        } => {
            let json = format == autogenerate::Format::Json;
            return lint::run(app, &chosen()?, url, &revisions, offline, json);
        }
        DbCommand::Migrate {
            new,
            no_rename,
            offline,
        } => autogenerate::migrate(
            app,
            on_disk()?,
            context,
            &new,
            compare_options(no_rename),
            offline,
        )?,
        DbCommand::Check {
            format,
            no_rename,
            offline,
        } => {
            let options = compare_options(no_rename);
            return autogenerate::check(app, chosen()?, context, offline, format, options);
        }
        DbCommand::Revision { new } => {
            let mut repo = on_disk()?.repository;
            let revision = Revision::new(new.message(), new.follows(&repo, app)?, &commands::now());
            let revision = new.shape(&repo, revision)?;
            commands::write_revision(&mut repo, revision)?;
        }
        DbCommand::Merge { message, revisions } => {
            let mut repo = on_disk()?.repository;
            let down = commands::merge_parents(&repo, &revisions)?;
            let message = message.unwrap_or_default();
            commands::write_revision(&mut repo, Revision::new(&message, down, &commands::now()))?;
        }
        DbCommand::Squash { from, to, message } => {
            commands::squash(&mut on_disk()?.repository, &from, &to, message)?
        }
        DbCommand::Upgrade {
            target, sql: true, ..
        } => running::upgrade_sql(context, &chosen()?.repository, &target)?,
        DbCommand::Downgrade { target, sql: true } => {
            running::downgrade_sql(context, &chosen()?.repository, &target)?
        }
        DbCommand::Upgrade {
            target,
            sql: false,
            site_stopped,
        } => running::upgrade(context, &chosen()?.repository, &target, site_stopped)?,
        DbCommand::Downgrade { target, sql: false } => {
            running::downgrade(context, &chosen()?.repository, &target)?
        }
        DbCommand::Contract => running::contract(context, &chosen()?.repository)?,
        DbCommand::Current { verbose } => {
            let repo = chosen()?.repository;
            commands::current(&repo, &mut connect(url)?, url, verbose)?;
        }
        DbCommand::History {
            rev_range,
            verbose,
            indicate_current,
            graph,
            format,
        } => {
            let asked = running::HistoryRequest {
                rev_range,
                verbose,
                indicate_current,
                graph,
                format,
            };
            running::history(context, &chosen()?.repository, asked)?
        }
        DbCommand::Heads { verbose } => running::heads(&chosen()?.repository, verbose),
        DbCommand::Import { tool, dir } => {
            commands::import(app, on_disk()?.repository, tool, &dir)?
        }
        DbCommand::Models { tables } => {
            commands::models(&mut connect(url)?, &tables, &context.ignored_tables)?
        }
        DbCommand::Branches { verbose } => {
            print!("{}", listing::branches(&chosen()?.repository, verbose));
        }
        DbCommand::Show { revision, file } => {
            running::show(&chosen()?.repository, &revision, file)?
        }
        DbCommand::Stamp { revisions, purge } => {
            running::stamp(context, &chosen()?.repository, &revisions, purge)?
        }
        DbCommand::Edit { revision } => {
            let dir = choice::init_directory(explicit, context);
            return running::edit(context, &dir, &revision);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn revision_id(text: &str) -> Result<String, String> {
    if crate::revision::is_valid_id(text) {
        Ok(text.to_string())
    } else {
        Err("a revision id is made of letters, digits and _".into())
    }
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
