/// mimalloc instead of glibc's allocator: the server's tasks move between threads, so a
/// block is often freed by a thread other than the one that took it, which in glibc locks
/// the other thread's arena (9% of the logged-in index page's CPU in a profile, waiting
/// on those locks; mimalloc served 10–30% more logged-in pages on SQLite and PostgreSQL).
/// Built without transparent huge pages (`no_thp`): with them, every touched 4 KiB page
/// of its arenas brought in 2 MiB, and the server started at 25 MB instead of 17.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in the `mimalloc.h` that libmimalloc-sys builds (mimalloc 3),
/// which names no constant for it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> std::process::ExitCode {
    // Freed memory goes back to the system at once rather than 10 ms later: a login's
    // Argon2id hash frees 19 MiB, and an idle server would otherwise keep it until its next
    // allocation (23.6 MB against 25.9 MB under load on PostgreSQL, at the same speed).
    // SAFETY: sets an allocator option; no allocation depends on its value.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    microblog::cli::main()
}
