//! What tells a PostgreSQL or MySQL site that its data changed, so that anonymous pages
//! can be kept there too, correctly across several instances.
//!
//! On PostgreSQL every statement that writes `user` or `post`, whoever runs it (an
//! instance, the shell, psql), notifies the channel [`CHANNEL`] (statement triggers,
//! revision `c0db8a4a4966`). On MySQL every such row adds one to the counter of
//! [`COUNTER_TABLE`] in the writer's transaction (row triggers, revision `d5a7c0e2b913`).
//! Each instance watches on a connection of its own, on a thread of its own: every
//! [`HEARTBEAT`] it runs a query, which on PostgreSQL also delivers the notifications of
//! every commit made before that query began, and on MySQL reads the counter as those
//! commits left it; a change bumps a count. A page is kept under that count, and served
//! again only while the count is unchanged and the watcher has confirmed it less than
//! [`STALE_AT_MOST`] ago. So a page served reflects every commit made at least
//! [`STALE_AT_MOST`] before, whatever happens to the watcher: when its connection is lost
//! or stalls, the confirmation ages and pages are rendered afresh until it is back (and the
//! count moves on when it is, since changes may have been missed).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Nullable};
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

/// MySQL's table of the counter the triggers add to: the site's own, outside its models.
pub const COUNTER_TABLE: &str = "microblog_data_changes";

/// MySQL's triggers in place, and the counter.
const COUNTER_NOW: &str = "SELECT (SELECT count(*) FROM information_schema.TRIGGERS \
     WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME IN ('user_data_inserted', \
     'user_data_updated', 'user_data_deleted', 'post_data_inserted', 'post_data_updated', \
     'post_data_deleted')) AS triggers, \
     (SELECT changes FROM microblog_data_changes WHERE id = 1) AS changes";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Counter {
    #[diesel(sql_type = BigInt)]
    triggers: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    changes: Option<i64>,
}

/// What one heartbeat found.
enum Beat {
    /// The mechanism is in place; whether anything changed since the last beat.
    Heard(bool),
    /// Triggers or counter missing: changes would go unheard.
    Missing,
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

    /// One connection's life: watch, then confirm every heartbeat until it fails.
    fn listen_once(&self, url: &DatabaseUrl, timeout: Duration) {
        let timeouts = Timeouts {
            wait: timeout,
            statement: Some(timeout),
        };
        let cannot = |e: &dyn std::fmt::Display| {
            tracing::warn!("cannot watch for changes: {e}; pages are not kept meanwhile");
        };
        match connect_with(url, timeouts) {
            Ok(AnyConnection::Postgresql(mut conn)) => {
                let listen =
                    format!("SET application_name = 'microblog page changes'; LISTEN {CHANNEL}");
                if let Err(e) = conn.batch_execute(&listen) {
                    return cannot(&e);
                }
                self.beat_until_lost("c0db8a4a4966", || {
                    let triggers =
                        diesel::sql_query(TRIGGERS_IN_PLACE).get_result::<Count>(&mut conn)?;
                    if triggers.n != 2 {
                        return Ok(Beat::Missing);
                    }
                    let heard = conn.notifications_iter().take_while(Result::is_ok).count();
                    Ok(Beat::Heard(heard > 0))
                });
            }
            Ok(AnyConnection::Mysql(mut conn)) => {
                let mut last = None;
                self.beat_until_lost("d5a7c0e2b913", || {
                    let now = diesel::sql_query(COUNTER_NOW).get_result::<Counter>(&mut conn)?;
                    let (6, Some(changes)) = (now.triggers, now.changes) else {
                        last = None;
                        return Ok(Beat::Missing);
                    };
                    let changed = last.is_some_and(|last| last != changes);
                    last = Some(changes);
                    Ok(Beat::Heard(changed))
                });
            }
            Ok(AnyConnection::Sqlite(_)) => {}
            Err(e) => cannot(&e),
        }
    }

    /// Runs `beat` every [`HEARTBEAT`] until it fails, counting what it hears.
    fn beat_until_lost(&self, revision: &str, mut beat: impl FnMut() -> diesel::QueryResult<Beat>) {
        // What changed while nobody watched is unknown: every page kept before is old.
        self.heard.fetch_add(1, Ordering::AcqRel);
        let mut said_missing = false;
        loop {
            let asked_at = Instant::now();
            match beat() {
                Err(e) => {
                    tracing::warn!("lost the connection that watches for changes: {e}");
                    break;
                }
                Ok(Beat::Missing) => {
                    if !said_missing {
                        tracing::info!(
                            "the triggers that mark changes are missing or disabled (revision {revision}); pages are not kept"
                        );
                        said_missing = true;
                    }
                    *lock(&self.confirmed_at) = None;
                    // Changes go unheard meanwhile: a page kept before is old once they are back.
                    self.heard.fetch_add(1, Ordering::AcqRel);
                }
                Ok(Beat::Heard(changed)) => {
                    said_missing = false;
                    if changed {
                        self.heard.fetch_add(1, Ordering::AcqRel);
                    }
                    // Only after the count: a confirmation covers what was heard before it.
                    *lock(&self.confirmed_at) = Some(asked_at);
                }
            }
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
