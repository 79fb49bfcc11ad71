//! `db verify`: every revision up, down and up again, on a scratch database made for it and
//! removed after, whatever happens.

use std::process::ExitCode;

use super::Chosen;
use crate::admin;
use crate::connect;
use crate::migrate::verify::{Step, verify};
use crate::url::{DatabaseUrl, SqliteLocation};

/// A database made for the run, removed when dropped.
struct Scratch {
    url: DatabaseUrl,
}

impl Scratch {
    /// A temporary SQLite file for a SQLite URL; otherwise a new database on the URL's
    /// server, named after the URL's own.
    fn new(like: &DatabaseUrl) -> anyhow::Result<Scratch> {
        let unique = format!(
            "{}_{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        );
        let url = match like {
            DatabaseUrl::Sqlite(_) => DatabaseUrl::Sqlite(SqliteLocation::File(
                std::env::temp_dir().join(format!("dbmigrate-verify-{unique}.db")),
            )),
            DatabaseUrl::Server { .. } => {
                let mut name = format!(
                    "{}_verify_{unique}",
                    like.database_name().unwrap_or_default()
                );
                // PostgreSQL keeps 63 bytes of a name, MySQL 64.
                name.truncate(63);
                let url = like.with_database_name(&name);
                admin::create_database(&url)?;
                url
            }
        };
        Ok(Scratch { url })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let removed = match &self.url {
            DatabaseUrl::Sqlite(SqliteLocation::File(path)) => {
                std::fs::remove_file(path).map_err(|e| e.to_string())
            }
            DatabaseUrl::Sqlite(SqliteLocation::Memory) => Ok(()),
            DatabaseUrl::Server { .. } => {
                admin::drop_database(&self.url).map_err(|e| e.to_string())
            }
        };
        if let Err(error) = removed {
            eprintln!(
                "warning: the scratch database {} is left behind: {error}",
                self.url
            );
        }
    }
}

pub fn run(chosen: &Chosen, url: &DatabaseUrl, ignored: &[String]) -> anyhow::Result<ExitCode> {
    let repo = &chosen.repository;
    let scratch = Scratch::new(url)?;
    println!(
        "Verifying {} revision(s) on the scratch database {}",
        repo.graph().order().len(),
        scratch.url
    );
    let mut conn = connect(&scratch.url)?;
    let found = verify(&mut conn, &scratch.url, repo, ignored, |step| match step {
        Step::Verified(revision) => println!(
            "{} ({}): up, down, up: the schema is what its files say each time",
            revision.id, revision.message
        ),
    });
    drop(conn);
    match found? {
        None => {
            println!("Every revision goes up and down as its files say.");
            Ok(ExitCode::SUCCESS)
        }
        Some(mismatch) => {
            println!("{mismatch}");
            Ok(ExitCode::FAILURE)
        }
    }
}
