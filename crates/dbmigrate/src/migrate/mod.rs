//! Running a repository's revisions against a live database (under the migration lock,
//! one revision per transaction where the database allows), and writing the same as SQL
//! for a database that cannot be reached from here.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::apply::{ApplyError, Notice};
use crate::graph::BranchStep;
use crate::lock::LockError;
use crate::ops::OpError;
use crate::repository::{Location, Repository, RepositoryError};
use crate::revision::Revision;
use crate::schema::Schema;
use crate::url::Dialect;

mod adopt;
mod offline;
mod run;
mod side_by_side;
mod status;
pub mod verify;
pub use adopt::{Adoption, Match, find as find_adoption};
pub use offline::{downgrade_sql, upgrade_sql};
pub(crate) use run::forget_sql;
pub use run::{
    downgrade, downgrade_path, downgrade_with, stamp, stamp_set, upgrade, upgrade_path,
    upgrade_with,
};
pub use side_by_side::contract;
pub use status::{PartialSquash, Status, checked_status, status};
pub(crate) use status::{history_up_to, reached_at};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Upgrade,
    Downgrade,
    /// The second phase of a revision run side by side.
    Contract,
}

/// How revisions run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub policy: crate::apply::LockPolicy,
    /// Whether a revision that would break the release still serving runs side by side
    /// (expand, then `db contract`) where the database can (PostgreSQL); false when the
    /// site is stopped for it.
    pub side_by_side: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            policy: crate::apply::LockPolicy::default(),
            side_by_side: true,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Upgrade => "upgrade",
            Direction::Downgrade => "downgrade",
            Direction::Contract => "contract",
        })
    }
}

/// One revision applied or undone.
pub struct Step<'r> {
    pub direction: Direction,
    pub revision: &'r Revision,
}

impl fmt::Display for Step<'_> {
    /// Alembic's line: `Running upgrade <down> -> <id>, <message>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let down = self.revision.down.join(", ");
        let (from, to) = match self.direction {
            Direction::Upgrade => (down.as_str(), self.revision.id.as_str()),
            Direction::Downgrade => (self.revision.id.as_str(), down.as_str()),
            Direction::Contract => {
                return write!(
                    f,
                    "Running contract of {}, {}",
                    self.revision.id, self.revision.message
                );
            }
        };
        write!(
            f,
            "Running {} {from} -> {to}, {}",
            self.direction, self.revision.message
        )
    }
}

/// What a run reports as it goes.
pub enum Event<'a> {
    /// Another process holds the migration lock; this one waits for it.
    WaitingForLock,
    /// An applied revision's file has changed since it was applied.
    Edited(&'a Revision),
    /// A database with tables and no history was taken over at a revision.
    Adopted(&'a Adoption),
    /// A database another tool migrated was taken over at the revision it had reached.
    TakenOver(&'a crate::import::Takeover),
    Started(&'a Step<'a>),
    /// Something the running step has to tell: a lock it waits for, a backfill's progress.
    Notice(&'a Notice),
    Finished(&'a Step<'a>, Duration),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpgradeTarget {
    Head,
    Heads,
    Relative(usize),
    /// A revision, a branch label, or `LABEL@head`.
    Revision(String),
    /// `LABEL@heads`: every head of one line.
    BranchHeads(String),
    /// `LABEL@+N`: N revisions further along one line.
    Along(String, usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DowngradeTarget {
    Relative(usize),
    Revision(String),
    Base,
    /// `LABEL@-N`: N revisions back along one line, and what depends on them.
    Along(String, usize),
    /// `LABEL@base`: all of one line, and what depends on it.
    BranchBase(String),
}

/// A target that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("'{0}' is not a number of steps")]
    NotSteps(String),
    #[error("'{0}' goes back, which is a downgrade")]
    GoesBack(String),
    #[error("'{0}' goes forward, which is an upgrade")]
    GoesForward(String),
    #[error("'{0}' is not LABEL@head, LABEL@heads, LABEL@+N, LABEL@-N or LABEL@base")]
    BadBranchStep(String),
}

/// `LABEL@STEP` read, if `text` is one.
fn branch_step(text: &str) -> Option<Result<(String, BranchStep), TargetError>> {
    BranchStep::split(text).map(|split| {
        split
            .map(|(branch, step)| (branch.to_string(), step))
            .map_err(|_| TargetError::BadBranchStep(text.to_string()))
    })
}

fn steps(text: &str) -> Result<usize, TargetError> {
    text.parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| TargetError::NotSteps(text.to_string()))
}

impl FromStr for UpgradeTarget {
    type Err = TargetError;
    fn from_str(text: &str) -> Result<Self, TargetError> {
        if let Some(step) = branch_step(text) {
            return match step? {
                (_, BranchStep::Head) => Ok(UpgradeTarget::Revision(text.to_string())),
                (branch, BranchStep::Heads) => Ok(UpgradeTarget::BranchHeads(branch)),
                (branch, BranchStep::Up(n)) => Ok(UpgradeTarget::Along(branch, n)),
                (_, BranchStep::Down(_) | BranchStep::Base) => {
                    Err(TargetError::GoesBack(text.to_string()))
                }
            };
        }
        Ok(match text {
            "head" => UpgradeTarget::Head,
            "heads" => UpgradeTarget::Heads,
            _ if text.starts_with('+') => UpgradeTarget::Relative(steps(&text[1..])?),
            _ if text.starts_with('-') => {
                return Err(TargetError::GoesBack(text.to_string()));
            }
            _ => UpgradeTarget::Revision(text.to_string()),
        })
    }
}

impl FromStr for DowngradeTarget {
    type Err = TargetError;
    fn from_str(text: &str) -> Result<Self, TargetError> {
        if let Some(step) = branch_step(text) {
            return match step? {
                (_, BranchStep::Head) => Ok(DowngradeTarget::Revision(text.to_string())),
                (branch, BranchStep::Down(n)) => Ok(DowngradeTarget::Along(branch, n)),
                (branch, BranchStep::Base) => Ok(DowngradeTarget::BranchBase(branch)),
                (_, BranchStep::Up(_) | BranchStep::Heads) => {
                    Err(TargetError::GoesForward(text.to_string()))
                }
            };
        }
        Ok(match text {
            "base" => DowngradeTarget::Base,
            _ if text.starts_with('-') => DowngradeTarget::Relative(steps(&text[1..])?),
            _ if text.starts_with('+') => {
                return Err(TargetError::GoesForward(text.to_string()));
            }
            _ => DowngradeTarget::Revision(text.to_string()),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Repository(#[from] RepositoryError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("{0}")]
    Database(#[from] diesel::result::Error),
    #[error(
        "the database is at revision {}, which {location} does not have",
        .revisions.join(", ")
    )]
    UnknownApplied {
        revisions: Vec<String>,
        location: Location,
    },
    #[error(
        "the database already has {} but no migration history, and its schema is that of no revision of {location}: {}",
        tables_phrase(.tables), .differences.join("; ")
    )]
    TablesWithoutHistory {
        tables: Vec<String>,
        location: Location,
        /// How the database differs from the repository's head.
        differences: Vec<String>,
    },
    #[error(
        "the database has tables but no migration history, and its schema is that of several revisions ({}), which change only data; nothing tells which of them ran",
        .0.join(", ")
    )]
    AmbiguousAdoption(Vec<String>),
    #[error("{tool} version {version} cannot be taken over: {why}")]
    ImportedHistory {
        tool: crate::import::Tool,
        version: String,
        why: String,
    },
    #[error("the database could not be taken over at revision {revision}: {cause}")]
    TakeOver { revision: String, cause: ApplyError },
    #[error("revision {0} is not applied to the database, so it cannot be downgraded to")]
    NotApplied(String),
    #[error(
        "{direction} by {asked} step(s) is not possible: only {available} revision(s) to {direction}"
    )]
    TooFewSteps {
        direction: Direction,
        asked: usize,
        available: usize,
    },
    #[error(
        "revision {revision} ({source_file}) has no downgrade operations, so it cannot be undone; add [[downgrade]] operations to it"
    )]
    NoDowngrade {
        revision: String,
        source_file: String,
    },
    #[error("revision {revision} ({source_file}) does not fit the schema before it: {cause}")]
    Replay {
        revision: String,
        source_file: String,
        cause: OpError,
    },
    #[error("{0}")]
    StepFailed(Box<StepFailure>),
    #[error(
        "revision {revision} stopped partway through its {direction}: {}",
        if .direction == "upgrade" {
            "`db upgrade` goes on from where it stopped (to that revision or past it), `db downgrade` undoes what it did"
        } else {
            "`db downgrade` goes on from where it stopped"
        }
    )]
    StoppedPartway { revision: String, direction: String },
    #[error(
        "revision {0} runs side by side and its contract is pending: once the last instance of the release before it is gone, run `db contract` first"
    )]
    ContractPending(String),
    #[error(
        "revision {revision} would break the release still serving, and cannot run side by side: {cause}. With the site stopped, `db upgrade --site-stopped` runs it in one go"
    )]
    NotSideBySide {
        revision: String,
        cause: crate::expand::ExpandError,
    },
    #[error("revision {0} is recorded as expanded, but nothing in it runs side by side")]
    NotExpandable(String),
    #[error(
        "the database is at {position}, and squash {squash} replaced revision {revision} after it, whose file is gone; restore the files the squash replaced (from version control) and run the upgrade again"
    )]
    ReplacedFileMissing {
        squash: String,
        revision: String,
        position: String,
    },
    #[error(
        "the database is at revision {at}, partway through the revisions squash {squash} replaced; upgrade to {squash} first (`db upgrade {squash}`), then downgrade from there", at = .0.at, squash = .0.squash
    )]
    PartwayThroughSquash(PartialSquash),
    #[error("the {direction} of revision {revision} cannot be written as SQL: {cause}")]
    Unrenderable {
        direction: Direction,
        revision: String,
        cause: ApplyError,
    },
    #[error("`--sql` for a downgrade needs to know where to start: give a range FROM:TO")]
    OfflineDowngradeNeedsStart,
    #[error("going from '{from}' to '{to}' is {}", match .direction { Direction::Upgrade => "an upgrade", Direction::Downgrade => "a downgrade", Direction::Contract => "a contract" })]
    WrongDirection {
        from: String,
        to: String,
        /// Which way it really goes.
        direction: Direction,
    },
}

/// A revision the database refused, and where that left the database.
#[derive(Debug, thiserror::Error)]
#[error("{direction} of revision {revision} ({message}) failed: {cause}{}", outcome(.cause, .remains_at))]
pub struct StepFailure {
    pub direction: Direction,
    pub revision: String,
    pub message: String,
    pub dialect: Dialect,
    pub remains_at: String,
    pub cause: ApplyError,
}

fn tables_phrase(tables: &[String]) -> String {
    let quoted: Vec<String> = tables.iter().map(|t| format!("'{t}'")).collect();
    match quoted.len() {
        1 => format!("a table {}", quoted[0]),
        _ => format!("the tables {}", quoted.join(", ")),
    }
}

fn outcome(cause: &ApplyError, remains_at: &str) -> String {
    match cause {
        ApplyError::Partway(_) => {
            format!("\nThe revision is not recorded as applied; the history says: {remains_at}.")
        }
        _ => format!("\nNothing of this revision was kept: the database is still at {remains_at}."),
    }
}

/// The schema the applied revisions leave, from their operations alone. Where `applied`
/// holds part of a squash's run, those revisions are replayed from their files.
pub fn replay(repo: &Repository, applied: &BTreeSet<String>) -> Result<Schema, MigrateError> {
    let mut schema = Schema::default();
    for revision in repo.in_order() {
        replay_into(&mut schema, repo, revision, applied)?;
    }
    Ok(schema)
}

fn replay_into(
    schema: &mut Schema,
    repo: &Repository,
    revision: &Revision,
    applied: &BTreeSet<String>,
) -> Result<(), MigrateError> {
    if !applied.contains(&revision.id) {
        for replaced in revision.replaces.iter().filter_map(|id| repo.replaced(id)) {
            replay_into(schema, repo, replaced, applied)?;
        }
        return Ok(());
    }
    for op in &revision.upgrade {
        schema.apply(op).map_err(|cause| MigrateError::Replay {
            revision: revision.id.clone(),
            source_file: revision.source.clone(),
            cause,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_read_as_alembic_spells_them() {
        assert_eq!("head".parse(), Ok(UpgradeTarget::Head));
        assert_eq!("+2".parse(), Ok(UpgradeTarget::Relative(2)));
        assert_eq!(
            "ae10".parse(),
            Ok(UpgradeTarget::Revision("ae10".to_string()))
        );
        assert!("-1".parse::<UpgradeTarget>().is_err());
        assert_eq!("-1".parse(), Ok(DowngradeTarget::Relative(1)));
        assert_eq!("base".parse(), Ok(DowngradeTarget::Base));
        assert!("-x".parse::<DowngradeTarget>().is_err());
        assert!("-0".parse::<DowngradeTarget>().is_err());
    }
}
