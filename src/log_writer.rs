//! The request log's writer. Lines are gathered in memory and written to standard error
//! together, at most `EVERY` later, instead of with one system call per request, which cost
//! the server a tenth of its pages under load when standard error was a file (measured with
//! the benchmark's logged-in pages). Warnings and errors are written at once, with whatever
//! came before them; the rest is written when the server stops. A process killed outright
//! loses at most the last `EVERY` of request lines.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

const EVERY: Duration = Duration::from_millis(50);
/// More than this waiting is written at once, so that a burst does not hold much memory.
const MOST_KEPT: usize = 64 * 1024;

#[derive(Default)]
struct Pending {
    lines: Vec<u8>,
    stopping: bool,
}

#[derive(Default)]
struct Shared {
    pending: Mutex<Pending>,
    stop: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Writes what is pending; done under the lock, so that lines keep their order.
fn write_out(pending: &mut Pending) {
    if !pending.lines.is_empty() {
        let mut stderr = std::io::stderr().lock();
        // Nowhere to report a failure to write the log to.
        let _ = stderr.write_all(&pending.lines);
        let _ = stderr.flush();
        pending.lines.clear();
    }
}

/// Give to `tracing_subscriber::fmt().with_writer(...)`; keep the [`Flusher`] until the end.
#[derive(Clone)]
pub struct BatchedStderr {
    shared: Arc<Shared>,
}

/// Writes the lines still pending when dropped, and stops the thread that writes them.
pub struct Flusher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

pub fn batched_stderr() -> (BatchedStderr, Flusher) {
    let shared = Arc::new(Shared::default());
    let thread = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("log writer".into())
            .spawn(move || {
                let mut pending = shared.lock();
                while !pending.stopping {
                    write_out(&mut pending);
                    pending = shared
                        .stop
                        .wait_timeout(pending, EVERY)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                write_out(&mut pending);
            })
            .ok()
    };
    if thread.is_none() {
        shared.lock().stopping = true;
    }
    (
        BatchedStderr {
            shared: shared.clone(),
        },
        Flusher { shared, thread },
    )
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.stop.notify_all();
        match self.thread.take() {
            Some(thread) => {
                let _ = thread.join();
            }
            None => write_out(&mut self.shared.lock()),
        }
    }
}

/// One event's line: kept, or written at once for a warning or an error.
pub struct LineWriter<'a> {
    shared: &'a Shared,
    urgent: bool,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut pending = self.shared.lock();
        pending.lines.extend_from_slice(bytes);
        // Without the writing thread (it could not start), every line is written at once.
        if self.urgent || pending.stopping || pending.lines.len() > MOST_KEPT {
            write_out(&mut pending);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedStderr {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
            urgent: true,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
            urgent: *meta.level() <= Level::WARN,
        }
    }
}
