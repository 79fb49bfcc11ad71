//! Accepting connections, with the limits a server open to anyone needs: a client that
//! sends nothing, or sends a request's head too slowly, is disconnected after
//! `CLIENT_TIMEOUT`; at most `MAX_CONNECTIONS` are open at once, fewer if the process may
//! not open that many files, so that some remain for the database; at that cap, a new
//! connection is made room for by closing the oldest one that has no request in
//! progress (as nginx does with keep-alive connections), so that idle sockets cannot keep
//! a visitor waiting; a stop lets the requests in flight finish.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, watch};
use tower::Service;

use super::refusals::WithSecurityHeaders;
use super::{SharedApp, router};
use crate::config::Settings;

/// Files kept free for everything that is not a client connection: the database's
/// connections, its files, the log.
const FILES_KEPT_FREE: u64 = 64;

/// The most a request's head (request line and headers) may take: 431 past it. Browsers
/// send a few kilobytes; each connection holds this much at most while it reads one.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// What hyper may buffer of a head: more than [`MAX_HEAD_BYTES`], so that a head a little
/// over the limit is still read whole and refused in the site's layout.
const HEAD_BUFFER_BYTES: usize = 2 * MAX_HEAD_BYTES;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub client_timeout: Duration,
    pub max_connections: u32,
}

impl Limits {
    pub fn from_settings(settings: &Settings) -> Limits {
        Limits {
            client_timeout: settings.client_timeout,
            max_connections: settings.max_connections,
        }
    }
}

/// A connection being served: whether a request of it is in progress, and how to ask it to
/// close.
struct Tracked {
    busy: Arc<AtomicBool>,
    closing: bool,
    close: Arc<Notify>,
}

/// The connections open, oldest first.
#[derive(Default)]
struct OpenConnections {
    next_id: u64,
    tracked: BTreeMap<u64, Tracked>,
}

impl OpenConnections {
    fn open(&mut self) -> (u64, Arc<AtomicBool>, Arc<Notify>) {
        let id = self.next_id;
        self.next_id += 1;
        let (busy, close) = (Arc::default(), Arc::new(Notify::new()));
        self.tracked.insert(
            id,
            Tracked {
                busy: Arc::clone(&busy),
                closing: false,
                close: Arc::clone(&close),
            },
        );
        (id, busy, close)
    }

    /// Asks the oldest connection with no request in progress to close; false if every
    /// connection is busy.
    fn close_oldest_idle(&mut self) -> bool {
        let oldest = self
            .tracked
            .values_mut()
            .find(|c| !c.closing && !c.busy.load(Ordering::Acquire));
        match oldest {
            Some(connection) => {
                connection.closing = true;
                connection.close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Clears a connection's busy mark when its request's answer is ready (or dropped).
struct InProgress(Arc<AtomicBool>);

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Serves the site on `address` until Ctrl-C or SIGTERM; requests in flight finish.
pub async fn serve(app: SharedApp, address: SocketAddr, limits: Limits) -> std::io::Result<()> {
    let listener = TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    // Listening for the signals before saying that the server is up: a stop asked for at
    // once is then a clean stop too.
    let stop = shutdown_signal()?;
    let connections = connections_allowed(limits.max_connections, app.db.size());
    tracing::info!("serving on http://{bound}/, at most {connections} connections at once");
    println!("Serving on http://{bound}/ (Ctrl-C to stop)");

    tokio::spawn(give_users_their_keys(app.clone()));
    let router = router(app);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.client_timeout)
        .max_buf_size(HEAD_BUFFER_BYTES);
    let slots = Arc::new(Semaphore::new(connections));
    let open = Arc::new(Mutex::new(OpenConnections::default()));
    let (stopping, stopped) = watch::channel(false);
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    refused_connection(&e).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                lock(&open).close_oldest_idle();
                tokio::select! {
                    slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
                    () = &mut stop => break,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let (id, busy, close) = lock(&open).open();
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            busy.store(true, Ordering::Release);
            let in_progress = InProgress(Arc::clone(&busy));
            let answer = router.clone().call(request);
            async move {
                let answer = answer.await;
                drop(in_progress);
                answer
            }
        });
        let io = TokioIo::new(WithSecurityHeaders::new(stream));
        let connection = http.serve_connection(io, service);
        let (open, mut stopped) = (Arc::clone(&open), stopped.clone());
        tokio::spawn(async move {
            tokio::pin!(connection);
            // A client that goes away or times out is routine, not worth a log line.
            tokio::select! {
                _ = connection.as_mut() => {}
                () = close.notified() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
                () = async { let _ = stopped.wait_for(|stop| *stop).await; } => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            lock(&open).tracked.remove(&id);
            drop(slot);
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    let all = u32::try_from(connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    tracing::info!("stopped");
    Ok(())
}

/// Users made before usernames had keys (or by another program) are given theirs a batch
/// at a time, between the site's own writes, so that no registration waits for them all.
async fn give_users_their_keys(app: SharedApp) {
    loop {
        match app
            .db
            .write(|s| crate::models::fill_username_keys(s.conn()))
            .await
        {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("cannot give users their username keys now: {e}");
                break;
            }
        }
    }
}

fn lock(open: &Mutex<OpenConnections>) -> std::sync::MutexGuard<'_, OpenConnections> {
    open.lock().unwrap_or_else(|e| e.into_inner())
}

/// An accept that failed: a connection reset before it was taken is nothing; running out
/// of files is waited out, since connections that close give them back.
async fn refused_connection(error: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::warn!("cannot accept a connection: {error}; trying again");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// How many client connections to allow: `wanted`, or fewer when the process's file limit
/// (raised to the system's maximum first) would not leave room for the database.
fn connections_allowed(wanted: u32, database_connections: usize) -> usize {
    let files = raise_file_limit();
    let reserved = FILES_KEPT_FREE + database_connections as u64;
    let room = files.saturating_sub(reserved).max(1);
    usize::try_from(room.min(u64::from(wanted))).unwrap_or(usize::MAX)
}

/// Raises this process's limit on open files to the most the system allows it (as Go's
/// runtime does), and returns the limit in force; unknown (no limit assumed) when the
/// system will not say.
fn raise_file_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(u64::MAX)
}

fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    #[cfg(unix)]
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = terminate.recv() => {},
            _ = interrupt.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_leave_files_for_the_database() {
        let files = raise_file_limit();
        assert!(connections_allowed(u32::MAX, 10) as u64 <= files - FILES_KEPT_FREE - 10);
        assert_eq!(connections_allowed(5, 10), 5);
    }

    #[test]
    fn the_oldest_idle_connection_is_the_one_asked_to_close() {
        let mut open = OpenConnections::default();
        let (_, first_busy, first) = open.open();
        let (_, _, second) = open.open();
        let (_, _, third) = open.open();
        first_busy.store(true, Ordering::Release);
        assert!(open.close_oldest_idle());
        assert!(open.close_oldest_idle());
        assert!(!open.close_oldest_idle(), "the busy one is left alone");
        let asked = |notify: &Notify| futures_ready(notify.notified());
        assert!(!asked(&first));
        assert!(asked(&second));
        assert!(asked(&third));
    }

    /// Whether a future is ready at once.
    fn futures_ready(future: impl std::future::Future) -> bool {
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        std::pin::pin!(future).poll(&mut context).is_ready()
    }
}
