//! Waiting for a table's lock without making the site wait: a statement that needs a lock
//! the site's queries would queue behind is not started while another session has held a
//! conflicting lock for long (the site keeps running; this run waits and says who is in the
//! way), runs under a short lock timeout, and is tried again with growing pauses when the
//! lock does not come. PostgreSQL's lock table and modes are the model; MySQL takes the
//! timeout and the retries.

use std::fmt;
use std::time::Duration;

use crate::apply::ApplyError;
use crate::connection::AnyConnection;
use crate::ops::Op;

/// PostgreSQL's table lock modes, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockMode {
    AccessShare,
    RowShare,
    RowExclusive,
    ShareUpdateExclusive,
    Share,
    ShareRowExclusive,
    Exclusive,
    AccessExclusive,
}

impl LockMode {
    const ALL: [LockMode; 8] = [
        LockMode::AccessShare,
        LockMode::RowShare,
        LockMode::RowExclusive,
        LockMode::ShareUpdateExclusive,
        LockMode::Share,
        LockMode::ShareRowExclusive,
        LockMode::Exclusive,
        LockMode::AccessExclusive,
    ];

    /// The mode as `pg_locks.mode` names it.
    pub fn catalog_name(self) -> &'static str {
        match self {
            LockMode::AccessShare => "AccessShareLock",
            LockMode::RowShare => "RowShareLock",
            LockMode::RowExclusive => "RowExclusiveLock",
            LockMode::ShareUpdateExclusive => "ShareUpdateExclusiveLock",
            LockMode::Share => "ShareLock",
            LockMode::ShareRowExclusive => "ShareRowExclusiveLock",
            LockMode::Exclusive => "ExclusiveLock",
            LockMode::AccessExclusive => "AccessExclusiveLock",
        }
    }

    pub fn from_catalog_name(name: &str) -> Option<LockMode> {
        LockMode::ALL.into_iter().find(|m| m.catalog_name() == name)
    }

    /// PostgreSQL's table of conflicting modes (its manual, "Table-Level Lock Modes").
    pub fn conflicts_with(self, other: LockMode) -> bool {
        use LockMode::*;
        let (weak, strong) = if self <= other {
            (self, other)
        } else {
            (other, self)
        };
        match weak {
            AccessShare => strong == AccessExclusive,
            RowShare => strong >= Exclusive,
            RowExclusive => strong >= Share,
            ShareUpdateExclusive => strong >= ShareUpdateExclusive,
            Share => strong != Share,
            ShareRowExclusive | Exclusive | AccessExclusive => true,
        }
    }

    /// Whether the site's reads or writes queue behind this lock while it is held or
    /// waited for.
    pub fn stops_the_site(self) -> bool {
        self.conflicts_with(LockMode::AccessShare) || self.conflicts_with(LockMode::RowExclusive)
    }
}

/// A lock a step takes on a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableLock {
    pub table: String,
    pub mode: LockMode,
}

impl TableLock {
    pub fn new(table: &str, mode: LockMode) -> TableLock {
        TableLock {
            table: table.to_string(),
            mode,
        }
    }
}

/// The locks an operation's plain statements take, as PostgreSQL documents them for each
/// statement; a form of PostgreSQL's own says its own.
pub fn taken_by(op: &Op) -> Vec<TableLock> {
    use LockMode::*;
    let on = |table: &str, mode| vec![TableLock::new(table, mode)];
    match op {
        Op::CreateTable { foreign_keys, .. } => foreign_keys
            .iter()
            .map(|fk| TableLock::new(&fk.ref_table, ShareRowExclusive))
            .collect(),
        Op::CreateIndex {
            table,
            concurrently,
            ..
        } => on(
            table,
            if *concurrently == Some(true) {
                ShareUpdateExclusive
            } else {
                Share
            },
        ),
        Op::DropIndex {
            table,
            concurrently: Some(true),
            ..
        } => on(table, ShareUpdateExclusive),
        Op::CreateForeignKey {
            table, ref_table, ..
        } => vec![
            TableLock::new(table, ShareRowExclusive),
            TableLock::new(ref_table, ShareRowExclusive),
        ],
        Op::Backfill { table, .. } => on(table, RowExclusive),
        Op::Sql { .. } => Vec::new(),
        other => other
            .table()
            .map(|table| on(table, AccessExclusive))
            .unwrap_or_default(),
    }
}

/// How long a statement may wait for its lock, and how often it is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockPolicy {
    /// The longest one try waits in the lock queue (`MIGRATION_LOCK_TIMEOUT`).
    pub timeout: Duration,
    /// Tries after the first (`MIGRATION_LOCK_RETRIES`).
    pub retries: u32,
    /// The pause before the first retry; each next one doubles, up to `longest_pause`.
    pub first_pause: Duration,
    pub longest_pause: Duration,
}

impl Default for LockPolicy {
    /// Two seconds a try (the longest the site can be kept waiting by a lock that did
    /// not come), eleven tries over about 40 seconds.
    fn default() -> Self {
        LockPolicy {
            timeout: Duration::from_secs(2),
            retries: 10,
            first_pause: Duration::from_millis(500),
            longest_pause: Duration::from_secs(5),
        }
    }
}

/// A lock setting that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "MIGRATION_LOCK_TIMEOUT is a time such as 2s or 500ms (0 to wait as long as it takes), up to an hour, not '{0}'"
    )]
    Timeout(String),
    #[error("MIGRATION_LOCK_RETRIES is a whole number from 0 to 1000, not '{0}'")]
    Retries(String),
}

impl LockPolicy {
    /// The policy the settings `MIGRATION_LOCK_TIMEOUT` (`2s`, `500ms`, or seconds alone)
    /// and `MIGRATION_LOCK_RETRIES` ask for; a setting not given keeps its default.
    pub fn from_settings(
        timeout: Option<&str>,
        retries: Option<&str>,
    ) -> Result<LockPolicy, PolicyError> {
        let mut policy = LockPolicy::default();
        if let Some(text) = timeout {
            policy.timeout =
                parse_duration(text).ok_or_else(|| PolicyError::Timeout(text.to_string()))?;
        }
        if let Some(text) = retries {
            policy.retries = text
                .trim()
                .parse()
                .ok()
                .filter(|n| *n <= 1000)
                .ok_or_else(|| PolicyError::Retries(text.to_string()))?;
        }
        Ok(policy)
    }

    /// The pause after try `attempt` (from 1).
    pub fn pause(&self, attempt: u32) -> Duration {
        let doubled = self
            .first_pause
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        doubled.min(self.longest_pause)
    }
}

/// `2s`, `500ms`, `1.5s` or `2` (seconds), up to an hour.
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = match text.strip_suffix("ms") {
        Some(number) => (number, 0.001),
        None => (text.strip_suffix('s').unwrap_or(text), 1.0),
    };
    let seconds = number.trim().parse::<f64>().ok()? * unit;
    (0.0..=3600.0)
        .contains(&seconds)
        .then(|| Duration::from_secs_f64(seconds))
}

/// How long a session's transaction must have held its lock before this run stays out of the
/// queue behind it: the site's own transactions last milliseconds.
pub const PATIENCE: Duration = Duration::from_millis(100);

/// A session that holds a lock a step needs, as each dialect's catalog query reads it.
#[derive(Debug, Clone, PartialEq, diesel::QueryableByName)]
pub struct LockHolder {
    /// The server's id of the session (PostgreSQL's pid, MySQL's connection id).
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub pid: i64,
    /// The application (PostgreSQL's `application_name`) or the user (MySQL).
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub application: String,
    /// `idle in transaction`, `active`, …
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub state: String,
    /// When its transaction began, in UTC.
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub since: String,
    /// How long its transaction has lasted.
    #[diesel(sql_type = diesel::sql_types::Double)]
    pub seconds: f64,
    /// The first line of its last query.
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub query: String,
    #[diesel(sql_type = diesel::sql_types::Text, column_name = table_name)]
    pub table: String,
}

impl fmt::Display for LockHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let application = if self.application.is_empty() {
            "no application name"
        } else {
            &self.application
        };
        write!(
            f,
            "session {} ({application}, {}, in a transaction since {} UTC, {:.1} s)",
            self.pid, self.state, self.since, self.seconds
        )?;
        let query = first_line(&self.query);
        if !query.is_empty() {
            write!(f, ", last query `{query}`")?;
        }
        Ok(())
    }
}

fn first_line(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    let line = line.unwrap_or_default();
    match line.char_indices().nth(100) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line.to_string(),
    }
}

/// What happens while a revision runs, beyond its start and end.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// A lock a step needs is held by others; this run is out of the queue, pausing.
    LockBusy(LockWait),
    /// MySQL cannot make a change without blocking writes; it runs anyway.
    NotOnline { statement: String, reason: String },
    /// Rows of a backfill done so far, by key, out of the keys there were.
    Backfilled {
        table: String,
        done: u64,
        total: u64,
    },
    /// A revision that stopped partway goes on from a step (from 1), a backfill after the
    /// last key it had done.
    Resuming {
        step: usize,
        steps: usize,
        after_key: Option<i64>,
    },
    /// What a revision that failed partway did is being undone.
    Undoing { steps: usize },
    /// A revision ran its expand phase: the release built for it reads through
    /// `view_schema`; `db contract` finishes it.
    Expanded { view_schema: String },
    /// A revision breaks the release still serving, on a database where it cannot run
    /// side by side.
    NotSideBySide {
        dialect: &'static str,
        change: String,
    },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::LockBusy(wait) => wait.fmt(f),
            Notice::NotOnline { statement, reason } => write!(
                f,
                "this server cannot make the change without blocking writes to the table ({reason}); it runs with the table locked: {statement}"
            ),
            Notice::Backfilled { table, done, total } => {
                write!(f, "backfilled '{table}': {done} of {total} keys")
            }
            Notice::Resuming {
                step,
                steps,
                after_key,
            } => {
                write!(
                    f,
                    "the revision stopped partway the last time: going on from step {step} of {steps}"
                )?;
                match after_key {
                    Some(key) => write!(f, ", a backfill, after key {key}"),
                    None => Ok(()),
                }
            }
            Notice::Undoing { steps } => write!(
                f,
                "undoing the {steps} step(s) done, to leave the database as it was"
            ),
            Notice::Expanded { view_schema } => write!(
                f,
                "expanded side by side: the release still serving keeps the tables as they were, the release built for this revision reads through the schema {view_schema}; once the last instance of the release before is gone, run `db contract`"
            ),
            Notice::NotSideBySide { dialect, change } => write!(
                f,
                "this revision breaks the release still serving ({change}), and {dialect} cannot serve both shapes at once: stop the site for it"
            ),
        }
    }
}

/// One try that did not get its lock.
#[derive(Debug, Clone, PartialEq)]
pub struct LockWait {
    pub tables: Vec<String>,
    /// Who holds the lock; empty where the database cannot tell.
    pub holders: Vec<LockHolder>,
    /// Whether the try waited in the queue for the lock timeout (else it did not start,
    /// because the holders had held the lock for long).
    pub timed_out: bool,
    pub attempt: u32,
    pub attempts: u32,
    pub pause: Duration,
}

impl fmt::Display for LockWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tables = quoted(&self.tables);
        if self.timed_out {
            write!(
                f,
                "the lock on {tables} did not come within the lock timeout"
            )?;
        } else {
            write!(f, "{tables} is locked by another session")?;
        }
        describe_holders(f, &self.holders)?;
        write!(
            f,
            "; this migration is not in the lock's queue, so the site is not waiting. Trying again in {:.1} s (try {} of {})",
            self.pause.as_secs_f64(),
            self.attempt + 1,
            self.attempts
        )
    }
}

pub(crate) fn quoted(tables: &[String]) -> String {
    let quoted: Vec<String> = tables.iter().map(|t| format!("'{t}'")).collect();
    quoted.join(", ")
}

pub(crate) fn describe_holders(f: &mut impl fmt::Write, holders: &[LockHolder]) -> fmt::Result {
    match holders {
        [] => Ok(()),
        [one] => write!(f, ": held by {one}"),
        several => {
            write!(f, ": held by")?;
            for (i, holder) in several.iter().enumerate() {
                write!(f, "{} {holder}", if i == 0 { "" } else { ";" })?;
            }
            Ok(())
        }
    }
}

/// Runs `attempt` once the `locks` can be had without keeping the site waiting, trying
/// again with pauses while another session holds them for long or the lock timeout runs
/// out; after the policy's retries, [`ApplyError::LockNotGranted`].
pub(crate) fn retrying<T>(
    conn: &mut AnyConnection,
    policy: &LockPolicy,
    locks: &[TableLock],
    notify: &mut dyn FnMut(Notice),
    mut attempt: impl FnMut(&mut AnyConnection) -> Result<T, ApplyError>,
) -> Result<T, ApplyError> {
    let dialect = conn.dialect().sql();
    let in_the_way: Vec<TableLock> = locks
        .iter()
        .filter(|l| l.mode.stops_the_site())
        .cloned()
        .collect();
    let attempts = policy.retries + 1;
    let mut waited = Duration::ZERO;
    for number in 1..=attempts {
        let long_holders = if in_the_way.is_empty() {
            Vec::new()
        } else {
            dialect.lock_holders(conn, &in_the_way, false)?
        };
        let (holders, timed_out) = if long_holders.is_empty() {
            match attempt(conn) {
                Err(error) if error.is_lock_timeout() => {
                    let all = locks.to_vec();
                    (dialect.lock_holders(conn, &all, true)?, true)
                }
                done => return done,
            }
        } else {
            (long_holders, false)
        };
        let mut tables: Vec<String> = holders.iter().map(|h| h.table.clone()).collect();
        if tables.is_empty() {
            tables = locks.iter().map(|l| l.table.clone()).collect();
        }
        tables.dedup();
        if number == attempts {
            return Err(ApplyError::LockNotGranted(Box::new(LockFailure {
                tables,
                holders,
                attempts,
                waited,
            })));
        }
        let pause = policy.pause(number);
        notify(Notice::LockBusy(LockWait {
            tables,
            holders,
            timed_out,
            attempt: number,
            attempts,
            pause,
        }));
        std::thread::sleep(pause);
        waited += pause;
    }
    unreachable!("the last try returns")
}

/// The lock a step needed never came.
#[derive(Debug, Clone, PartialEq)]
pub struct LockFailure {
    pub tables: Vec<String>,
    pub holders: Vec<LockHolder>,
    pub attempts: u32,
    pub waited: Duration,
}

impl fmt::Display for LockFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the lock on {} could not be had in {} tries over {:.0} s",
            quoted(&self.tables),
            self.attempts,
            self.waited.as_secs_f64()
        )?;
        describe_holders(f, &self.holders)?;
        f.write_str(
            ". Run the upgrade again once they are done, end them, or allow more tries (MIGRATION_LOCK_RETRIES)",
        )
    }
}

#[cfg(test)]
mod tests;
