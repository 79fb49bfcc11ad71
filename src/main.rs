/// mimalloc instead of glibc's allocator: the server's tasks move between threads, so a
/// block is often freed by a thread other than the one that took it, which in glibc locks
/// the other thread's arena (9% of the logged-in index page's CPU in a profile, waiting
/// on those locks).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    microblog::cli::main()
}
