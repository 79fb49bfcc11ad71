//! Database sessions for the web server.
//!
//! SQLite is a library in this process: its calls are short, so each runtime worker thread
//! keeps a session of its own and runs the work inline, with no hand-off to another thread
//! (the cheapest path for the pages). PostgreSQL and MySQL are reached over a network: their
//! work runs on tokio's blocking threads, with sessions from a pool of at most
//! `DB_POOL_SIZE` connections, so that a slow query never holds up a worker.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;

use diesel::RunQueryDsl;
use diesel::sql_types::BigInt;

use dbmigrate::{ConnectError, DatabaseUrl, Dialect, connect};

use crate::models;
use dbmigrate::model::Session;

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("the database work was cancelled: {0}")]
    Cancelled(String),
}

#[derive(Clone)]
pub struct DbPool {
    url: Arc<DatabaseUrl>,
    shared: Option<Arc<Shared>>,
}

struct Shared {
    idle: Mutex<Idle>,
    returned: Condvar,
    size: usize,
}

struct Idle {
    /// Each with when it was last given back.
    sessions: Vec<(Session, Instant)>,
    open: usize,
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
    data_version: i64,
    writes: u64,
}

thread_local! {
    /// This worker thread's SQLite session, with the URL it was opened for.
    static LOCAL: RefCell<Option<(DatabaseUrl, Session)>> = const { RefCell::new(None) };
}

impl DbPool {
    pub fn new(url: &DatabaseUrl, size: u32) -> DbPool {
        let shared = (url.dialect() != Dialect::Sqlite).then(|| {
            Arc::new(Shared {
                idle: Mutex::new(Idle {
                    sessions: Vec::new(),
                    open: 0,
                }),
                returned: Condvar::new(),
                size: size.max(1) as usize,
            })
        });
        DbPool {
            url: Arc::new(url.clone()),
            shared,
        }
    }

    /// The most connections the pool opens to a database server; 0 for SQLite.
    pub fn size(&self) -> usize {
        self.shared.as_ref().map_or(0, |shared| shared.size)
    }

    /// Runs `work` with a session whose unit of work is empty, and empties it after.
    pub async fn run<T, F>(&self, work: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Session) -> T + Send + 'static,
    {
        match &self.shared {
            None => run_local(&self.url, work),
            Some(shared) => {
                let (url, shared) = (self.url.clone(), shared.clone());
                tokio::task::spawn_blocking(move || shared.run(&url, work))
                    .await
                    .map_err(|e| PoolError::Cancelled(e.to_string()))?
            }
        }
    }
}

impl DataVersion {
    pub fn thread(&self) -> ThreadId {
        self.thread
    }
}

impl DbPool {
    /// The version of the data this worker thread's SQLite connection sees; `None` on
    /// PostgreSQL and MySQL, which have no such cheap marker.
    pub async fn data_version(&self) -> Option<DataVersion> {
        if self.shared.is_some() {
            return None;
        }
        let writes = WRITES.load(Ordering::Acquire);
        run_local(&self.url, |s| {
            diesel::select(diesel::dsl::sql::<BigInt>(
                "(SELECT data_version FROM pragma_data_version())",
            ))
            .get_result::<i64>(s.conn())
            .ok()
        })
        .ok()
        .flatten()
        .map(|data_version| DataVersion {
            thread: std::thread::current().id(),
            data_version,
            writes,
        })
    }

    /// [`DbPool::run`] for work that can fail: either failure as one message, for the log.
    pub async fn try_run<T, E, F>(&self, work: F) -> Result<T, String>
    where
        T: Send + 'static,
        E: std::fmt::Display + Send + 'static,
        F: FnOnce(&mut Session) -> Result<T, E> + Send + 'static,
    {
        match self.run(work).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Records that this process committed a change.
    pub fn note_write(&self) {
        WRITES.fetch_add(1, Ordering::AcqRel);
    }
}

fn run_local<T>(url: &DatabaseUrl, work: impl FnOnce(&mut Session) -> T) -> Result<T, PoolError> {
    LOCAL.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot
            .as_ref()
            .is_none_or(|(opened_for, _)| opened_for != url)
        {
            *slot = Some((url.clone(), Session::new(connect(url)?, models::schema())));
        }
        let (_, session) = slot.as_mut().expect("just opened");
        let result = work(session);
        session.rollback();
        Ok(result)
    })
}

impl Shared {
    fn run<T>(
        &self,
        url: &DatabaseUrl,
        work: impl FnOnce(&mut Session) -> T,
    ) -> Result<T, PoolError> {
        let mut session = self.check_out(url)?;
        let result = work(&mut session);
        session.rollback();
        self.check_in(session);
        Ok(result)
    }

    fn check_out(&self, url: &DatabaseUrl) -> Result<Session, PoolError> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some((mut session, returned)) = idle.sessions.pop() {
                if returned.elapsed() < CHECK_AFTER_IDLE
                    || session.conn().batch_execute("SELECT 1").is_ok()
                {
                    return Ok(session);
                }
                idle.open -= 1;
                continue;
            }
            if idle.open < self.size {
                idle.open += 1;
                drop(idle);
                return connect(url)
                    .map(|conn| Session::new(conn, models::schema()))
                    .map_err(|e| {
                        self.idle.lock().unwrap_or_else(|e| e.into_inner()).open -= 1;
                        e.into()
                    });
            }
            idle = self.returned.wait(idle).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn check_in(&self, session: Session) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.sessions.push((session, Instant::now()));
        self.returned.notify_one();
    }
}
