//! Database sessions for the web server, and what happens when the database misbehaves.
//!
//! SQLite is a library in this process: its calls are short, so each runtime worker thread
//! keeps a session of its own and runs the work inline, with no hand-off to another thread
//! (the cheapest path for the pages). That session never waits for a lock: work that meets
//! one runs again on a blocking thread, whose session waits up to `DB_TIMEOUT`, so that
//! the other requests (and the static files) are not held up meanwhile.
//!
//! PostgreSQL and MySQL are reached over a network: their work runs on tokio's blocking
//! threads, with sessions from a pool of at most `DB_POOL_SIZE` connections, so that a slow
//! query never holds up a worker. Each wait is bounded by `DB_TIMEOUT`: for a connection
//! from the pool, for a new one, for the work itself (the server also stops a statement
//! that runs longer). A connection that failed is dropped, and the idle ones are checked
//! before they are used again, so the site recovers by itself when the database comes back.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::sql_types::BigInt;
use diesel::sqlite::SqliteConnection;
use diesel::{QueryResult, RunQueryDsl};

use dbmigrate::model::Session;
use dbmigrate::{AnyConnection, DatabaseUrl, Dialect, Timeouts, connect_with};

use super::changes::ServerChanges;
use super::local_reads::FixedSql;
use super::pipelined::{self, Pipelined};
use crate::models;

/// Why database work did not give its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkError {
    /// The database could not be reached or did not answer in time: nothing the request
    /// could change.
    Unavailable(String),
    /// The work itself failed.
    Failed(String),
}

impl fmt::Display for WorkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkError::Unavailable(why) => write!(f, "the database is unavailable: {why}"),
            WorkError::Failed(why) => write!(f, "{why}"),
        }
    }
}

#[derive(Clone)]
pub struct DbPool {
    url: Arc<DatabaseUrl>,
    timeout: Duration,
    shared: Option<Arc<Shared>>,
    /// SQLite takes one writer at a time. Writers of this process wait here, in the order
    /// they came, rather than in SQLite's busy handler, whose growing sleeps let a writer
    /// lose to later ones again and again.
    writers: Arc<tokio::sync::Mutex<()>>,
    /// On PostgreSQL, what the listener has heard of the data's changes.
    changes: Option<Arc<ServerChanges>>,
    /// On PostgreSQL, the connections the pages read through.
    pipelined: Option<Arc<Pipelined>>,
}

struct Shared {
    idle: Mutex<Idle>,
    returned: Condvar,
    size: usize,
    /// One per connection, handed out first come, first served.
    turns: tokio::sync::Semaphore,
    /// What each new connection runs first.
    session_setup: Option<String>,
}

struct Idle {
    /// Each with when it was last given back.
    sessions: Vec<(Session, Instant)>,
    open: usize,
    /// When a connection was last found broken: those given back before then are checked
    /// before they are handed out, since what broke one (a server restart) broke them too.
    broken_at: Option<Instant>,
}

/// How many of `DB_POOL_SIZE` connections carry the pages' reads on PostgreSQL: two per
/// core keep every core's queries travelling together (more only spread them thinner),
/// and at most half, so that writes keep their share.
fn pipelined_share(size: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (2 * cores).min(size / 2).max(1)
}

/// A session unused for longer is checked before it is handed out: the server may have
/// closed it, or restarted, meanwhile.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(10);

/// Commits made through this process's sessions, for [`DataVersion`].
static WRITES: AtomicU64 = AtomicU64::new(0);

/// What a SQLite connection has seen of its database: `PRAGMA data_version` changes when
/// another connection (of this process or another) commits, and [`DbPool::note_write`]
/// counts this process's own commits. While it stays the same, so does every query's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataVersion {
    thread: ThreadId,
    /// Which of the thread's SQLite connections read it: a connection opened again after
    /// a failure counts its versions afresh, so its numbers say nothing of the old one's.
    opening: u64,
    data_version: i64,
    writes: u64,
}

thread_local! {
    /// This thread's SQLite session, with the URL it was opened for.
    static LOCAL: RefCell<Option<(DatabaseUrl, Session)>> = const { RefCell::new(None) };
    /// Which opening of a SQLite connection `LOCAL` holds (numbered across threads).
    static LOCAL_OPENING: Cell<u64> = const { Cell::new(0) };
}

/// SQLite connections opened by this process, for [`DataVersion::opening`].
static OPENINGS: AtomicU64 = AtomicU64::new(0);

/// The version of the data `conn`, this thread's SQLite connection, sees now; in a read
/// transaction, the version of what the transaction reads.
pub fn sqlite_data_version(conn: &mut SqliteConnection) -> QueryResult<DataVersion> {
    // This process's commits counted before the read: one made meanwhile then shows as a
    // newer version, never as an older one.
    let writes = WRITES.load(Ordering::Acquire);
    let data_version = FixedSql::<BigInt>::new("PRAGMA data_version").get_result::<i64>(conn)?;
    Ok(DataVersion {
        thread: std::thread::current().id(),
        opening: LOCAL_OPENING.get(),
        data_version,
        writes,
    })
}

/// Work on a pooled connection: waiting for a connection, running on one (which holds a
/// slot of the pool), finished, or given up on by its request.
const WAITING: u8 = 0;
const RUNNING: u8 = 1;
const FINISHED: u8 = 2;
const ABANDONED: u8 = 3;

impl DbPool {
    /// `timeout` bounds every wait on the database (`DB_TIMEOUT`); `session_setup` is what
    /// each connection to a server runs first.
    pub fn new(
        url: &DatabaseUrl,
        size: u32,
        timeout: Duration,
        session_setup: Option<String>,
    ) -> DbPool {
        let size = size.max(1) as usize;
        let pipelined_config =
            (url.dialect() == Dialect::Postgres).then(|| pipelined::config(&url.driver_string()));
        let pipelined_size = match pipelined_config {
            Some(Some(_)) => pipelined_share(size),
            _ => 0,
        };
        let pooled = size.saturating_sub(pipelined_size).max(1);
        let shared = (url.dialect() != Dialect::Sqlite).then(|| {
            Arc::new(Shared {
                idle: Mutex::new(Idle {
                    sessions: Vec::new(),
                    open: 0,
                    broken_at: None,
                }),
                returned: Condvar::new(),
                size: pooled,
                turns: tokio::sync::Semaphore::new(pooled),
                session_setup: session_setup.clone(),
            })
        });
        let pipelined = pipelined_config.flatten().map(|config| {
            // What cut the pages' connections (a server restart) cut the pool's too.
            let pool = shared.clone().expect("a server has a pool");
            Arc::new(Pipelined::new(
                config,
                pipelined_size,
                timeout,
                session_setup,
                Box::new(move || pool.suspect_idle()),
            ))
        });
        let changes = matches!(url.dialect(), Dialect::Postgres | Dialect::Mysql)
            .then(|| ServerChanges::listen(url, timeout));
        DbPool {
            url: Arc::new(url.clone()),
            timeout,
            shared,
            writers: Arc::new(tokio::sync::Mutex::new(())),
            changes,
            pipelined,
        }
    }

    /// On PostgreSQL (unless the URL asks for TLS), the connections the pages read through.
    pub fn pipelined(&self) -> Option<&Pipelined> {
        self.pipelined.as_deref()
    }

    /// The most connections the site opens to a database server; 0 for SQLite.
    pub fn size(&self) -> usize {
        self.shared.as_ref().map_or(0, |shared| shared.size)
            + self
                .pipelined
                .as_ref()
                .map_or(0, |pipelined| pipelined.size())
    }

    /// Runs `work` with a session whose unit of work is empty, and empties it after. On
    /// SQLite, work that meets a lock runs a second time, so it must be repeatable (it is
    /// cloned): each run is one transaction that either committed or did nothing.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, WorkError>
    where
        T: Send + 'static,
        E: fmt::Display + Send + 'static,
        F: FnOnce(&mut Session) -> Result<T, E> + Clone + Send + 'static,
    {
        let Some(shared) = &self.shared else {
            return self.run_sqlite(work, Instant::now() + self.timeout).await;
        };
        let (url, shared, timeout) = (self.url.clone(), shared.clone(), self.timeout);
        let state = Arc::new(AtomicU8::new(WAITING));
        let turn_and_work = async {
            // Requests wait for a connection here, in the order they came, without a
            // thread each: a thread is taken only when a connection is free for it.
            let _turn = shared.turns.acquire().await;
            let (shared, state) = (shared.clone(), state.clone());
            tokio::task::spawn_blocking(move || shared.run(&url, timeout, &state, work)).await
        };
        match tokio::time::timeout(timeout, turn_and_work).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(WorkError::Failed(format!("the database work stopped: {e}"))),
            Err(_) => {
                let was = state.swap(ABANDONED, Ordering::AcqRel);
                if was == RUNNING {
                    shared.release_slot();
                }
                Err(WorkError::Unavailable(format!(
                    "no answer within DB_TIMEOUT ({} s)",
                    timeout.as_secs_f64()
                )))
            }
        }
    }

    /// [`DbPool::run`] for work that writes: on SQLite, after the writers before it, all
    /// within `DB_TIMEOUT` of the request's arrival (the wait for the writers before it
    /// included, so that a queue behind an outside lock does not add up the waits).
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, WorkError>
    where
        T: Send + 'static,
        E: fmt::Display + Send + 'static,
        F: FnOnce(&mut Session) -> Result<T, E> + Clone + Send + 'static,
    {
        if self.shared.is_some() {
            return self.run(work).await;
        }
        let deadline = Instant::now() + self.timeout;
        let turn = tokio::time::timeout_at(deadline.into(), self.writers.lock()).await;
        let Ok(_turn) = turn else {
            return Err(WorkError::Unavailable(format!(
                "the writers before this one took longer than DB_TIMEOUT ({} s)",
                self.timeout.as_secs_f64()
            )));
        };
        self.run_sqlite(work, deadline).await
    }

    /// Runs `work` inline; if it meets a lock, on a blocking thread that waits for the lock
    /// until `deadline`.
    async fn run_sqlite<T, E, F>(&self, work: F, deadline: Instant) -> Result<T, WorkError>
    where
        T: Send + 'static,
        E: fmt::Display + Send + 'static,
        F: FnOnce(&mut Session) -> Result<T, E> + Clone + Send + 'static,
    {
        match run_local(&self.url, Duration::ZERO, work.clone()) {
            Err(Locked) => {
                let (url, timeout) = (self.url.clone(), self.timeout);
                tokio::task::spawn_blocking(move || {
                    let wait = deadline.saturating_duration_since(Instant::now());
                    run_local(&url, wait.max(Duration::from_millis(1)), work)
                })
                .await
                .unwrap_or_else(|e| Ok(Err(WorkError::Failed(format!("the database work stopped: {e}")))))
                .unwrap_or_else(|Locked| {
                    Err(WorkError::Unavailable(format!(
                        "the SQLite database stayed locked by another connection for DB_TIMEOUT ({} s)",
                        timeout.as_secs_f64()
                    )))
                })
            }
            Ok(result) => result,
        }
    }

    /// The version of the data this worker thread's SQLite connection sees, or on
    /// PostgreSQL and MySQL the changes the watcher has heard of (`changes.rs`); `None`
    /// when it cannot be told.
    pub async fn data_version(&self) -> Option<DataVersion> {
        if self.changes.is_some() {
            return self.heard_version();
        }
        if self.shared.is_some() {
            return None;
        }
        let read = run_local(&self.url, Duration::ZERO, |s| match s.conn() {
            AnyConnection::Sqlite(conn) => sqlite_data_version(conn),
            _ => Err(diesel::result::Error::NotFound),
        });
        match read {
            Ok(Ok(version)) => Some(version),
            _ => None,
        }
    }

    /// On PostgreSQL and MySQL, the version of the data as the watcher has heard of it,
    /// which costs no query; `None` on SQLite, or while the watcher cannot vouch for it.
    pub fn heard_version(&self) -> Option<DataVersion> {
        let writes = WRITES.load(Ordering::Acquire);
        let (thread, heard) = self.changes.as_ref()?.version()?;
        Some(DataVersion {
            thread,
            opening: 0,
            data_version: i64::try_from(heard).unwrap_or(i64::MAX),
            writes,
        })
    }

    /// Records that this process committed a change.
    pub fn note_write(&self) {
        WRITES.fetch_add(1, Ordering::AcqRel);
    }
}

impl DataVersion {
    pub fn thread(&self) -> ThreadId {
        self.thread
    }
}

/// The work met another connection's lock, and did nothing.
struct Locked;

/// Runs `work` on this thread's SQLite session, waiting up to `wait` for locks. A
/// session whose work failed otherwise is closed, so that the next work starts on a fresh
/// one (a file that was read-only, or replaced, is then seen as it is now).
fn run_local<T, E: fmt::Display>(
    url: &DatabaseUrl,
    wait: Duration,
    work: impl FnOnce(&mut Session) -> Result<T, E>,
) -> Result<Result<T, WorkError>, Locked> {
    LOCAL.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot
            .as_ref()
            .is_none_or(|(opened_for, _)| opened_for != url)
        {
            let timeouts = Timeouts {
                wait,
                statement: None,
            };
            match connect_with(url, timeouts) {
                Ok(conn) => {
                    *slot = Some((url.clone(), Session::new(conn, models::schema())));
                    LOCAL_OPENING.set(OPENINGS.fetch_add(1, Ordering::Relaxed) + 1);
                }
                Err(e) => return Ok(Err(WorkError::Unavailable(e.to_string()))),
            }
        }
        let (_, session) = slot.as_mut().expect("just opened");
        if !wait.is_zero() {
            // The session was opened for an earlier wait: this one is what is left of the
            // request's time.
            let set = format!("PRAGMA busy_timeout = {}", wait.as_millis());
            if let Err(e) = session.conn().batch_execute(&set) {
                *slot = None;
                return Ok(Err(WorkError::Unavailable(e.to_string())));
            }
        }
        let result = work(session);
        session.rollback();
        match result {
            Ok(value) => Ok(Ok(value)),
            Err(e) => {
                let message = e.to_string();
                *slot = None;
                if message.contains("database is locked")
                    || message.contains("database table is locked")
                {
                    Err(Locked)
                } else {
                    Ok(Err(WorkError::Failed(message)))
                }
            }
        }
    })
}

/// On PostgreSQL, the site's prepared statements keep one generic plan: by default PostgreSQL plans a statement again at each
/// run for as long as the generic plan's estimate looks worse than the custom ones', which a
/// `LIMIT $1` always does (it is assumed to take a tenth of the table), so the index page
/// was planned anew on every request for the same plan, four times the database's CPU of
/// the page. The site's queries are key and index lookups whose plans do not depend on the
/// values bound.
pub(super) const ONE_PLAN_PER_STATEMENT: &str = "SET plan_cache_mode = force_generic_plan";

/// A server connection made ready for the site's queries: one plan per statement on
/// PostgreSQL, then what `session_setup` says.
fn for_the_site(
    mut conn: AnyConnection,
    session_setup: Option<&str>,
) -> Result<AnyConnection, WorkError> {
    let unavailable = |e: diesel::result::Error| WorkError::Unavailable(e.to_string());
    if conn.dialect() == Dialect::Postgres {
        conn.batch_execute(ONE_PLAN_PER_STATEMENT)
            .map_err(unavailable)?;
    }
    if let Some(setup) = session_setup {
        conn.batch_execute(setup).map_err(unavailable)?;
    }
    Ok(conn)
}

/// Whether the database refused a statement it had prepared because the schema under it
/// changed (a migration ran while the site served): prepared again, it runs.
pub(super) fn prepared_before_a_schema_change(message: &str) -> bool {
    message.contains("cached plan must not change result type")
}

impl Shared {
    fn run<T, E: fmt::Display>(
        &self,
        url: &DatabaseUrl,
        timeout: Duration,
        state: &AtomicU8,
        work: impl FnOnce(&mut Session) -> Result<T, E> + Clone,
    ) -> Result<T, WorkError> {
        let mut session = self.check_out(url, timeout)?;
        if state
            .compare_exchange(WAITING, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            self.check_in(session);
            return Err(WorkError::Unavailable("given up while waiting".into()));
        }
        let mut result = work.clone()(&mut session);
        session.rollback();
        if let Err(e) = &result
            && prepared_before_a_schema_change(&e.to_string())
        {
            // The connection's prepared statements are stale: a new connection prepares
            // them again; the work did nothing (the database refused it whole).
            drop(session);
            self.release_slot();
            session = self.check_out(url, timeout)?;
            result = work(&mut session);
            session.rollback();
        }
        let healthy = result.is_ok() || session.conn().batch_execute("SELECT 1").is_ok();
        let given_up = state
            .compare_exchange(RUNNING, FINISHED, Ordering::AcqRel, Ordering::Acquire)
            .is_err();
        match (healthy, given_up) {
            // Its slot was given back when the request gave up.
            (_, true) => drop(session),
            (true, false) => self.check_in(session),
            (false, false) => {
                drop(session);
                self.broken();
            }
        }
        result.map_err(|e| {
            if healthy {
                WorkError::Failed(e.to_string())
            } else {
                WorkError::Unavailable(e.to_string())
            }
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check_out(&self, url: &DatabaseUrl, timeout: Duration) -> Result<Session, WorkError> {
        let deadline = Instant::now() + timeout;
        let mut idle = self.lock();
        loop {
            if let Some((mut session, returned)) = idle.sessions.pop() {
                let suspect = returned.elapsed() >= CHECK_AFTER_IDLE
                    || idle.broken_at.is_some_and(|broken| returned <= broken);
                if !suspect {
                    return Ok(session);
                }
                drop(idle);
                if session.conn().batch_execute("SELECT 1").is_ok() {
                    return Ok(session);
                }
                drop(session);
                idle = self.lock();
                idle.open = idle.open.saturating_sub(1);
                continue;
            }
            if idle.open < self.size {
                idle.open += 1;
                drop(idle);
                let timeouts = Timeouts {
                    wait: deadline.saturating_duration_since(Instant::now()),
                    statement: Some(timeout),
                };
                return connect_with(url, timeouts)
                    .map_err(|e| WorkError::Unavailable(e.to_string()))
                    .and_then(|conn| for_the_site(conn, self.session_setup.as_deref()))
                    .map(|conn| Session::new(conn, models::schema()))
                    .inspect_err(|_| self.release_slot());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(WorkError::Unavailable(format!(
                    "all {} connections stayed busy for DB_TIMEOUT ({} s)",
                    self.size,
                    timeout.as_secs_f64()
                )));
            }
            idle = self
                .returned
                .wait_timeout(idle, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn check_in(&self, session: Session) {
        self.lock().sessions.push((session, Instant::now()));
        self.returned.notify_one();
    }

    /// A connection is gone for good: its slot can be given to a new one.
    fn release_slot(&self) {
        let mut idle = self.lock();
        idle.open = idle.open.saturating_sub(1);
        drop(idle);
        self.returned.notify_one();
    }

    /// The database was found unreachable by other means: the idle sessions are checked
    /// before they are handed out.
    fn suspect_idle(&self) {
        self.lock().broken_at = Some(Instant::now());
    }

    /// A connection was found broken and dropped.
    fn broken(&self) {
        let mut idle = self.lock();
        idle.open = idle.open.saturating_sub(1);
        idle.broken_at = Some(Instant::now());
        drop(idle);
        self.returned.notify_one();
    }
}
