//! The command line: parsing, and turning every failure into one line and an exit status.
//! The `db` commands are the migration engine's command set, mounted for microblog.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{Origin, Settings};
use crate::database::Database;
use crate::migrations::APPLICATION;
use crate::seed::SeedPlan;
use dbmigrate::cli::{Prepared, Progress, choose};

#[derive(Parser, Debug)]
#[command(
    name = "microblog",
    version,
    about = "The Flask Mega-Tutorial microblog in one binary: web site, database models and migrations",
    long_about = "The Flask Mega-Tutorial microblog in one binary.\n\n\
        The database is chosen by DATABASE_URL (from the environment or a .env file in the \
        working directory): sqlite:///app.db (the default), postgresql://user@host/db or \
        mysql://user@host/db."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the web site (a new, empty database gets the built-in migrations first).
    Run {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: std::net::IpAddr,
        /// The port to listen on (0 picks a free one).
        #[arg(long, short, default_value_t = 5000)]
        port: u16,
    },
    /// An interactive session with db, User and Post bound (Rhai); reads a script from
    /// standard input when it is not a terminal.
    Shell {
        /// Run this snippet and leave.
        #[arg(short = 'c', long = "command", value_name = "CODE")]
        command: Option<String>,
    },
    /// Print the effective settings, with the database password masked.
    Config,
    /// Manage the database and its migrations.
    Db(dbmigrate::cli::DbArgs<MicroblogDbCommand>),
}

/// microblog's own commands beside the migration engine's, under `db`.
#[derive(Subcommand, Debug)]
pub enum MicroblogDbCommand {
    /// Add fake users (user0001…, password "password") and posts, the same for the same
    /// seed; a new database is migrated first.
    Seed {
        #[arg(long, default_value_t = 100)]
        users: u64,
        #[arg(long, default_value_t = 1_000)]
        posts: u64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Rows written per transaction.
        #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
        batch: u64,
    },
}

/// Runs the command line; errors come back as one line for the user.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Run { .. }) {
        end_quietly_when_output_closes();
    }
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", dbmigrate::cli::explain(&error, &APPLICATION));
            ExitCode::FAILURE
        }
    }
}

/// `microblog db history | head` should stop when `head` has what it wants, as other
/// command-line tools do, not panic on the closed pipe: Rust ignores SIGPIPE, so it is put
/// back. Not for the web server, which must outlive any one client's closed connection.
fn end_quietly_when_output_closes() {
    // SAFETY: setting a signal's disposition to the default touches no Rust state.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(&working_directory()?)?;
    match cli.command {
        Command::Config => print_config(&settings),
        Command::Shell { command } => return crate::shell::run(&settings, command),
        Command::Db(args) => {
            return dbmigrate::cli::run_with(
                args,
                &APPLICATION,
                &settings.context(),
                |command, directory| match command {
                    MicroblogDbCommand::Seed {
                        users,
                        posts,
                        seed,
                        batch,
                    } => {
                        let plan = SeedPlan {
                            users,
                            posts,
                            seed,
                            batch,
                        };
                        seed_database(&settings, directory, &plan)
                    }
                },
            );
        }
        Command::Run { host, port } => {
            if settings.database_url
                == dbmigrate::DatabaseUrl::Sqlite(dbmigrate::SqliteLocation::Memory)
            {
                anyhow::bail!(
                    "an in-memory SQLite database lives in a single connection, and the web server uses several; give DATABASE_URL a file, such as sqlite:///app.db"
                );
            }
            warn_about_secret_key(&settings);
            let session_setup = prepare_database(&settings)?;
            let _written_at_the_end = start_logging();
            let app = std::sync::Arc::new(crate::web::App::new(&settings, session_setup));
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the server's runtime")?;
            runtime
                .block_on(crate::web::serve(
                    app,
                    (host, port).into(),
                    crate::web::Limits::from_settings(&settings),
                ))
                .with_context(|| format!("cannot serve on {host}:{port}"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Migrates a new database from the chosen repository, refuses one that is not at its
/// head, and says what the database holds; returns what each of the site's connections
/// runs first (the schema of views of a revision expanded side by side, when it is this
/// release's).
fn prepare_database(settings: &Settings) -> anyhow::Result<Option<String>> {
    let mut db = Database::connect(&settings.database_url)?;
    let chosen = choose(None, &settings.context(), &APPLICATION)?;
    let mut progress = Progress::default();
    let prepared = db.prepare(&chosen, |event| progress.show(event));
    progress.finish_line();
    if let Prepared::Migrated(_) = prepared? {
        println!(
            "Created the tables in the new database {} from {}",
            db.url(),
            chosen.source
        );
    }
    db.share_between_readers_and_writers()
        .context("cannot switch the SQLite database to write-ahead logging")?;
    let session_setup = dbmigrate::cli::session_setup(db.session.conn(), &chosen.repository)?;
    if let Some(setup) = &session_setup {
        diesel::connection::SimpleConnection::batch_execute(db.session.conn(), setup)?;
        println!("The database runs a revision side by side: serving its new shape");
    }
    let counts = db.counts().context("cannot read the database")?;
    println!(
        "{}: {} users, {} posts",
        db.url(),
        counts.users,
        counts.posts
    );
    Ok(session_setup)
}

/// `db seed`: the plan's rows, with a progress bar on a terminal.
fn seed_database(
    settings: &Settings,
    directory: Option<&std::path::Path>,
    plan: &SeedPlan,
) -> anyhow::Result<ExitCode> {
    let mut db = Database::connect(&settings.database_url)?;
    let chosen = choose(directory, &settings.context(), &APPLICATION)?;
    eprintln!("Using {}", chosen.source);
    let mut progress = Progress::default();
    let prepared = db.prepare(&chosen, |event| progress.show(event));
    progress.finish_line();
    prepared?;
    let bar = indicatif::ProgressBar::new(plan.users + plan.posts).with_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {human_pos}/{human_len} rows, {per_sec}, {eta} left",
        )
        .expect("the template is valid"),
    );
    db.prepare_for_bulk_writes()?;
    let started = std::time::Instant::now();
    let seeded = crate::seed::seed(&mut db.session, plan, |written| bar.set_position(written))?;
    bar.finish_and_clear();
    let posts_seconds = seeded.posts_time.as_secs_f64().max(1e-9);
    println!(
        "Seeded {} users and {} posts in {:.2} s (posts at {:.0}/s); every seeded user's password is \"{}\".",
        plan.users,
        plan.posts,
        started.elapsed().as_secs_f64(),
        plan.posts as f64 / posts_seconds,
        crate::seed::PASSWORD
    );
    Ok(ExitCode::SUCCESS)
}

/// Request and error lines go to standard error, one per event, written in batches
/// (`log_writer`).
fn start_logging() -> crate::log_writer::Flusher {
    let (writer, flusher) = crate::log_writer::batched_stderr();
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_target(false)
        .with_ansi(false)
        .init();
    flusher
}

fn working_directory() -> anyhow::Result<PathBuf> {
    std::env::current_dir().context("cannot read the working directory")
}

fn warn_about_secret_key(settings: &Settings) {
    if let Some(warning) = settings.secret_key_warning() {
        eprintln!("{warning}");
    }
}

/// Where the database stands against the repository, for `config`: without creating a
/// SQLite file that is not there, and waiting at most two seconds for a server.
fn database_position(settings: &Settings) -> String {
    if let dbmigrate::DatabaseUrl::Sqlite(dbmigrate::SqliteLocation::File(path)) =
        &settings.database_url
        && !path.exists()
    {
        return "(no database yet)".into();
    }
    let timeouts = dbmigrate::Timeouts {
        wait: std::time::Duration::from_secs(2),
        statement: None,
    };
    let position = || -> anyhow::Result<String> {
        let chosen = choose(None, &settings.context(), &APPLICATION)?;
        let mut conn = dbmigrate::connect_with(&settings.database_url, timeouts)?;
        Ok(dbmigrate::migrate::status(&mut conn, &chosen.repository)?.position())
    };
    position().unwrap_or_else(|e| format!("(cannot tell: {e})"))
}

fn print_config(settings: &Settings) {
    let origin = |o: Origin| match o {
        Origin::Environment => "from the environment",
        Origin::Default => "default",
    };
    let key = match settings.secret_key_origin {
        Origin::Environment => "*** (set)",
        Origin::Default => "development key (not set: set SECRET_KEY before deploying)",
    };
    let migrations_dir = match &settings.migrations_dir {
        Some(dir) => dir.display().to_string(),
        None => "(not set)".into(),
    };
    let source = dbmigrate::cli::source(None, &settings.context(), &APPLICATION);
    let lines = [
        (
            "DATABASE_URL",
            format!(
                "{}   ({})",
                settings.database_url,
                origin(settings.database_url_origin)
            ),
        ),
        ("database", settings.database_url.dialect().to_string()),
        ("SECRET_KEY", key.to_string()),
        ("POSTS_PER_PAGE", settings.posts_per_page.to_string()),
        ("DB_POOL_SIZE", settings.db_pool_size.to_string()),
        ("DB_TIMEOUT", format!("{} s", settings.db_timeout.as_secs())),
        (
            "CLIENT_TIMEOUT",
            format!("{} s", settings.client_timeout.as_secs()),
        ),
        (
            "REQUEST_TIMEOUT",
            format!("{} s", settings.request_timeout.as_secs()),
        ),
        ("MAX_CONNECTIONS", settings.max_connections.to_string()),
        (
            "TRUSTED_PROXIES",
            match settings.trusted_proxies.as_slice() {
                [] => "(none)".to_string(),
                proxies => proxies
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            },
        ),
        (
            "SESSION_COOKIE_SECURE",
            match settings.session_cookie_secure {
                None => "when a trusted proxy says the visitor came over HTTPS".to_string(),
                Some(true) => "always".to_string(),
                Some(false) => "never".to_string(),
            },
        ),
        ("MIGRATIONS_DIR", migrations_dir),
        (
            "MIGRATIONS_IGNORE_TABLES",
            match settings.ignored_tables.as_slice() {
                [] => "(none)".to_string(),
                patterns => patterns.join(", "),
            },
        ),
        (
            "MIGRATION_LOCK_TIMEOUT",
            match settings.lock_policy.timeout.as_millis() {
                0 => "none (a migration waits for a lock as long as it takes)".to_string(),
                ms if ms % 1000 == 0 => format!("{} s", ms / 1000),
                ms => format!("{ms} ms"),
            },
        ),
        (
            "MIGRATION_LOCK_RETRIES",
            settings.lock_policy.retries.to_string(),
        ),
        ("migrations", source.to_string()),
        ("database at", database_position(settings)),
    ];
    for (name, value) in lines {
        println!("{name:<24} = {value}");
    }
}
