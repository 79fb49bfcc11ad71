//! Ctrl-C while code runs stops that code, not the shell: the signal only raises a flag,
//! which the engine looks at between operations. A second Ctrl-C before the first was
//! seen (the code is waiting on the database, say) ends the process, as Ctrl-C usually does.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The exit status of a process ended by Ctrl-C (128 + SIGINT), as shells report it.
pub const EXIT_STATUS: u8 = 130;

#[cfg(unix)]
extern "C" fn on_interrupt(_: libc::c_int) {
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(i32::from(EXIT_STATUS)) }
    }
}

/// Routes Ctrl-C to the flag, for the rest of the process.
pub fn install() {
    #[cfg(unix)]
    // SAFETY: the handler only touches an atomic, or calls _exit.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_interrupt as extern "C" fn(libc::c_int) as *const () as libc::sighandler_t,
        );
    }
}

/// Forgets a Ctrl-C pressed while no code was running.
pub fn clear() {
    INTERRUPTED.store(false, Ordering::SeqCst);
}

/// Whether Ctrl-C was pressed since the last look; looking resets it.
pub fn take() -> bool {
    INTERRUPTED.swap(false, Ordering::SeqCst)
}
