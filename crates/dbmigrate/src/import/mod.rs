//! `db import diesel|sqlx|refinery DIR`: another tool's SQL migrations turned into revisions
//! of this repository, in their order, each an `sql` operation holding the file as written
//! (its down file as the downgrade, where there is one), so that an application moves here
//! without losing its history. A database that tool migrated is then taken over in place
//! (`takeover.rs`): its history table says which of them ran, and for sqlx and refinery,
//! the checksums they recorded must be those of the files.
//!
//! How each tool names and reads its files, from their sources:
//! - Diesel CLI: a folder per migration, `<version>_<name>/up.sql` (and `down.sql`); the
//!   version is the part before the first `_`, with `-` taken out; `metadata.toml` may say
//!   `run_in_transaction = false`. History: `__diesel_schema_migrations (version)`.
//! - sqlx: `<version>_<description>.sql`, or `.up.sql` and `.down.sql`; the version an
//!   integer; a file starting with `-- no-transaction` runs outside a transaction.
//!   History: `_sqlx_migrations (version, success, checksum)`, the checksum SHA-384 of
//!   the file.
//! - refinery: `V<version>__<name>.sql`, in the folder or below it. History:
//!   `refinery_schema_history (version, name, checksum)`, the checksum SipHash-1-3 (keys
//!   zero) of the name, the version (`i32`, or `i64` when refinery was built with
//!   `int8-versions`) and the SQL, as Rust's `Hash` writes them.

mod takeover;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ops::Op;
use crate::revision::Revision;

pub use takeover::{Takeover, find_takeover, take_over};

/// The tools whose migrations can be imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Tool {
    Diesel,
    Sqlx,
    Refinery,
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tool::Diesel => "diesel",
            Tool::Sqlx => "sqlx",
            Tool::Refinery => "refinery",
        })
    }
}

impl Tool {
    /// The table where the tool records what ran.
    pub fn history_table(self) -> &'static str {
        match self {
            Tool::Diesel => "__diesel_schema_migrations",
            Tool::Sqlx => "_sqlx_migrations",
            Tool::Refinery => "refinery_schema_history",
        }
    }
}

/// Where an imported revision came from: written in its file as
/// `imported = { tool = "sqlx", version = "20240101000000", name = "create_users" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Imported {
    pub tool: Tool,
    /// The version as the tool records it in its history table.
    pub version: String,
    /// The migration's name as the tool reads it from the file name.
    pub name: String,
}

/// One migration of another tool, read from its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub imported: Imported,
    /// The version as a number, for the order (Diesel's is a string of digits).
    order: (u128, String),
    pub up: String,
    pub down: Option<String>,
    pub transaction: bool,
    /// The up file, for messages.
    pub file: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {}: {cause}", .path.display())]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{}: {why}", .path.display())]
    Name { path: PathBuf, why: String },
    #[error("{} holds no {tool} migrations", .dir.display())]
    Empty { dir: PathBuf, tool: Tool },
    #[error("{tool} version {version} is in both {} and {}", .first.display(), .second.display())]
    Twice {
        tool: Tool,
        version: String,
        first: PathBuf,
        second: PathBuf,
    },
}

fn read(path: &Path) -> Result<String, ImportError> {
    std::fs::read_to_string(path).map_err(|cause| ImportError::Read {
        path: path.to_path_buf(),
        cause,
    })
}

fn entries(dir: &Path) -> Result<Vec<PathBuf>, ImportError> {
    let listing = std::fs::read_dir(dir).map_err(|cause| ImportError::Read {
        path: dir.to_path_buf(),
        cause,
    })?;
    let mut paths: Vec<PathBuf> = listing
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| !file_name(path).starts_with('.'))
        .collect();
    paths.sort();
    Ok(paths)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The tool's migrations in `dir`, in the order the tool runs them.
pub fn read_migrations(tool: Tool, dir: &Path) -> Result<Vec<Migration>, ImportError> {
    let mut migrations = match tool {
        Tool::Diesel => diesel(dir)?,
        Tool::Sqlx => sqlx(dir)?,
        Tool::Refinery => refinery(dir)?,
    };
    migrations.sort_by(|a, b| a.order.cmp(&b.order));
    for pair in migrations.windows(2) {
        if pair[0].imported.version == pair[1].imported.version {
            return Err(ImportError::Twice {
                tool,
                version: pair[0].imported.version.clone(),
                first: pair[0].file.clone(),
                second: pair[1].file.clone(),
            });
        }
    }
    if migrations.is_empty() {
        return Err(ImportError::Empty {
            dir: dir.to_path_buf(),
            tool,
        });
    }
    Ok(migrations)
}

fn number(path: &Path, version: &str) -> Result<u128, ImportError> {
    version.parse().map_err(|_| ImportError::Name {
        path: path.to_path_buf(),
        why: format!("'{version}' is not a version number"),
    })
}

fn diesel(dir: &Path) -> Result<Vec<Migration>, ImportError> {
    let mut found = Vec::new();
    for folder in entries(dir)?.into_iter().filter(|p| p.is_dir()) {
        let up_file = folder.join("up.sql");
        if !up_file.is_file() {
            continue;
        }
        let name = file_name(&folder);
        let version = name.split('_').next().unwrap_or_default().replace('-', "");
        let metadata = folder.join("metadata.toml");
        let transaction = !metadata.is_file()
            || !read(&metadata)?
                .lines()
                .any(|l| l.replace(' ', "") == "run_in_transaction=false");
        let down_file = folder.join("down.sql");
        found.push(Migration {
            order: (number(&folder, &version)?, version.clone()),
            imported: Imported {
                tool: Tool::Diesel,
                version,
                name: name
                    .split_once('_')
                    .map(|(_, n)| n)
                    .unwrap_or("")
                    .to_string(),
            },
            up: read(&up_file)?,
            down: down_file.is_file().then(|| read(&down_file)).transpose()?,
            transaction,
            file: up_file,
        });
    }
    Ok(found)
}

fn sqlx(dir: &Path) -> Result<Vec<Migration>, ImportError> {
    let mut found: Vec<Migration> = Vec::new();
    let mut downs = Vec::new();
    for path in entries(dir)?.into_iter().filter(|p| p.is_file()) {
        let name = file_name(&path);
        let Some((version, rest)) = name.split_once('_') else {
            continue;
        };
        if !rest.ends_with(".sql") {
            continue;
        }
        let n = number(&path, version)?;
        if let Some(description) = rest.strip_suffix(".down.sql") {
            downs.push((version.to_string(), description.to_string(), path));
            continue;
        }
        let description = rest
            .strip_suffix(".up.sql")
            .or_else(|| rest.strip_suffix(".sql"))
            .unwrap_or(rest);
        let up = read(&path)?;
        found.push(Migration {
            order: (n, version.to_string()),
            imported: Imported {
                tool: Tool::Sqlx,
                version: n.to_string(),
                name: description.replace('_', " "),
            },
            transaction: !up.starts_with("-- no-transaction"),
            up,
            down: None,
            file: path,
        });
    }
    for (version, _, path) in downs {
        let n = number(&path, &version)?.to_string();
        if let Some(up) = found.iter_mut().find(|m| m.imported.version == n) {
            up.down = Some(read(&path)?);
        }
    }
    Ok(found)
}

fn refinery(dir: &Path) -> Result<Vec<Migration>, ImportError> {
    let mut found = Vec::new();
    for path in entries(dir)? {
        if path.is_dir() {
            found.extend(refinery(&path)?);
            continue;
        }
        let name = file_name(&path);
        let Some(stem) = name.strip_suffix(".sql") else {
            continue;
        };
        let Some((version, migration_name)) = stem
            .strip_prefix('V')
            .and_then(|rest| rest.split_once("__"))
        else {
            continue;
        };
        let n = number(&path, version)?;
        found.push(Migration {
            order: (n, version.to_string()),
            imported: Imported {
                tool: Tool::Refinery,
                version: n.to_string(),
                name: migration_name.to_string(),
            },
            up: read(&path)?,
            down: None,
            transaction: true,
            file: path,
        });
    }
    Ok(found)
}

/// The migrations as revisions, each following the one before, the first following `after`.
pub fn revisions(migrations: &[Migration], after: Option<String>, created: &str) -> Vec<Revision> {
    let mut previous = after;
    migrations
        .iter()
        .map(|migration| {
            let message = migration.imported.name.replace('_', " ");
            let mut revision =
                Revision::new(&message, previous.take().into_iter().collect(), created);
            revision.transaction = migration.transaction;
            revision.upgrade = vec![sql(&migration.up)];
            revision.downgrade = migration.down.iter().map(|down| sql(down)).collect();
            revision.imported = Some(migration.imported.clone());
            revision.notes.push(format!(
                "Imported from {} ({} version {}).{}",
                migration.file.display(),
                migration.imported.tool,
                migration.imported.version,
                if migration.down.is_some() {
                    ""
                } else {
                    " It had no down migration, so this revision cannot be undone."
                }
            ));
            previous = Some(revision.id.clone());
            revision
        })
        .collect()
}

fn sql(text: &str) -> Op {
    Op::Sql {
        sql: text.to_string(),
        sqlite: None,
        postgresql: None,
        mysql: None,
    }
}
