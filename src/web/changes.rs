//! What tells a PostgreSQL site that its data changed, so that anonymous pages can be kept
//! there too, correctly across several instances.
//!
//! Every statement that writes `user` or `post`, whoever runs it (an instance, the shell,
//! psql), notifies the channel [`CHANNEL`] (a statement trigger, revision
//! `a64f0b1c2d3e`). Each instance listens on a connection of its own, on a thread of its
//! own: every [`HEARTBEAT`] it runs a query, which also delivers the notifications of
//! every commit made before that query began, and counts them. A page is kept under that
//! count, and served again only while the count is unchanged and the listener has
//! confirmed it less than [`STALE_AT_MOST`] ago. So a page served reflects every commit
//! made at least [`STALE_AT_MOST`] before, whatever happens to the listener: when its
//! connection is lost or stalls, the confirmation ages and pages are rendered afresh until
//! it is back (and the count moves on when it is, since notifications were missed).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::sql_types::BigInt;
use diesel::{QueryableByName, RunQueryDsl};

use dbmigrate::{AnyConnection, DatabaseUrl, Timeouts, connect_with};

/// The channel the triggers notify.
pub const CHANNEL: &str = "microblog_data_changed";

/// How often the listener confirms what it has heard.
const HEARTBEAT: Duration = Duration::from_millis(100);

/// The longest a kept page may lag behind a commit made anywhere: the staleness bound.
pub const STALE_AT_MOST: Duration = Duration::from_secs(1);

/// The triggers that notify [`CHANNEL`], enabled, on the tables the site reads.
const TRIGGERS_IN_PLACE: &str = "SELECT count(*) AS n FROM pg_trigger \
     WHERE tgname IN ('user_data_changed', 'post_data_changed') AND tgenabled <> 'D' \
     AND tgrelid IN (to_regclass('\"user\"'), to_regclass('post'))";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// What the listener has heard, shared with the pages.
#[derive(Default)]
pub struct ServerChanges {
    heard: AtomicU64,
    confirmed_at: Mutex<Option<Instant>>,
    listener: OnceLock<ThreadId>,
}

impl ServerChanges {
    /// Starts listening on a thread of its own, for as long as the process lives.
    pub fn listen(url: &DatabaseUrl, timeout: Duration) -> Arc<ServerChanges> {
        let changes = Arc::new(ServerChanges::default());
        let (shared, url) = (Arc::clone(&changes), url.clone());
        let started = std::thread::Builder::new()
            .name("page changes".into())
            .spawn(move || {
                let _ = shared.listener.set(std::thread::current().id());
                loop {
                    shared.listen_once(&url, timeout);
                    std::thread::sleep(Duration::from_secs(1));
                }
            });
        if let Err(e) = started {
            tracing::warn!("cannot start listening for changes ({e}); pages are not kept");
        }
        changes
    }

    /// The count of changes heard, and what it belongs to; `None` when it has not been
    /// confirmed within [`STALE_AT_MOST`] (pages are then not kept).
    pub fn version(&self) -> Option<(ThreadId, u64)> {
        let confirmed_at = *lock(&self.confirmed_at);
        let fresh = confirmed_at.is_some_and(|at| at.elapsed() < STALE_AT_MOST);
        let listener = *self.listener.get()?;
        fresh.then(|| (listener, self.heard.load(Ordering::Acquire)))
    }

    /// One connection's life: listen, then confirm every heartbeat until it fails.
    fn listen_once(&self, url: &DatabaseUrl, timeout: Duration) {
        let timeouts = Timeouts {
            wait: timeout,
            statement: Some(timeout),
        };
        let mut conn = match connect_with(url, timeouts) {
            Ok(AnyConnection::Postgresql(conn)) => conn,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!("cannot listen for changes: {e}; pages are not kept meanwhile");
                return;
            }
        };
        let listen = format!("SET application_name = 'microblog page changes'; LISTEN {CHANNEL}");
        if let Err(e) = conn.batch_execute(&listen) {
            tracing::warn!("cannot listen for changes: {e}; pages are not kept meanwhile");
            return;
        }
        // What changed while nobody listened is unknown: every page kept before is old.
        self.heard.fetch_add(1, Ordering::AcqRel);
        let mut said_missing = false;
        loop {
            let asked_at = Instant::now();
            let triggers = match diesel::sql_query(TRIGGERS_IN_PLACE).get_result::<Count>(&mut conn)
            {
                Ok(count) => count.n,
                Err(e) => {
                    tracing::warn!("lost the connection that listens for changes: {e}");
                    break;
                }
            };
            if triggers != 2 {
                if !said_missing {
                    tracing::info!(
                        "the triggers that notify {CHANNEL} are missing or disabled (revision c0db8a4a4966); pages are not kept"
                    );
                    said_missing = true;
                }
                *lock(&self.confirmed_at) = None;
                // Changes go unheard meanwhile: a page kept before is old once they are back.
                self.heard.fetch_add(1, Ordering::AcqRel);
                std::thread::sleep(HEARTBEAT);
                continue;
            }
            said_missing = false;
            let mut heard = 0;
            for notification in conn.notifications_iter() {
                match notification {
                    Ok(_) => heard += 1,
                    Err(_) => break,
                }
            }
            if heard > 0 {
                self.heard.fetch_add(1, Ordering::AcqRel);
            }
            // Only after the count: a confirmation covers what was heard before it.
            *lock(&self.confirmed_at) = Some(asked_at);
            std::thread::sleep(HEARTBEAT);
        }
        *lock(&self.confirmed_at) = None;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_kept_before_the_listener_confirms_or_after_its_confirmation_ages() {
        let changes = ServerChanges::default();
        assert_eq!(changes.version(), None, "never confirmed");
        let _ = changes.listener.set(std::thread::current().id());
        *lock(&changes.confirmed_at) = Some(Instant::now());
        assert!(changes.version().is_some());
        *lock(&changes.confirmed_at) = Instant::now().checked_sub(STALE_AT_MOST);
        assert_eq!(changes.version(), None, "confirmed too long ago");
    }
}
