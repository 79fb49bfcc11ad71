//! Running the binary as a user does, in a directory of the test's own.
#![allow(dead_code)] // each test binary uses its own part of this

pub mod proxy;
pub mod site;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

pub fn microblog(dir: &Path, database_url: Option<&str>, args: &[&str]) -> Output {
    command(dir, database_url, args)
        .output()
        .expect("the binary runs")
}

/// `microblog db ARGS…` with `url` as DATABASE_URL.
pub fn db(dir: &Path, url: &str, args: &[&str]) -> Printed {
    let mut full = vec!["db"];
    full.extend_from_slice(args);
    microblog(dir, Some(url), &full).into()
}

/// A copy of the chapter 4 fixture repository (three revisions that never change) in
/// `dir/migrations`, to run or edit.
pub fn copy_of_chapter_4_repository(dir: &Path) {
    copy_versions("tests/fixtures/chapter4/versions", dir);
}

/// A copy of the application's own repository (`migrations/versions`) in `dir/migrations`:
/// the one whose head matches the models, whatever revisions it holds.
pub fn copy_of_app_repository(dir: &Path) {
    copy_versions("migrations/versions", dir);
}

fn copy_versions(source: &str, dir: &Path) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(source);
    let target = dir.join("migrations/versions");
    std::fs::create_dir_all(&target).expect("a migrations folder");
    for entry in std::fs::read_dir(source).expect("a versions folder") {
        let path = entry.expect("a directory entry").path();
        std::fs::copy(&path, target.join(path.file_name().expect("a file name")))
            .expect("a copied revision");
    }
}

/// The application's own migrations, built into the binary.
pub fn built_in() -> dbmigrate::Repository {
    microblog::migrations::built_in().expect("the built-in migrations")
}

/// Alembic's lines for running every revision of `repo` up, in order.
pub fn every_upgrade_line(repo: &dbmigrate::Repository) -> Vec<String> {
    repo.in_order()
        .map(|r| {
            format!(
                "Running upgrade {} -> {}, {}",
                r.down.join(", "),
                r.id,
                r.message
            )
        })
        .collect()
}

pub fn command(dir: &Path, database_url: Option<&str>, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_microblog"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("RUST_BACKTRACE")
        .env("SECRET_KEY", "test-key");
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    command
}

/// What a run printed, for assertions that show both streams when they fail.
pub struct Printed {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Printed {
    fn from(output: Output) -> Self {
        Printed {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl std::fmt::Debug for Printed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// `microblog run` on a free port, in `dir`, until dropped.
pub struct Server {
    child: Child,
    pub base: String,
    /// What it printed on stdout before it began serving.
    pub printed: Vec<String>,
}

impl Server {
    pub fn start(dir: &Path, database_url: &str, env: &[(&str, &str)]) -> Server {
        let mut command = command(dir, Some(database_url), &["run", "--port", "0"]);
        for (name, value) in env {
            command.env(name, value);
        }
        Server::spawn(command)
    }

    /// The same, in a process that may open no more than `files` files, sockets included.
    #[cfg(unix)]
    pub fn start_with_file_limit(
        dir: &Path,
        database_url: &str,
        env: &[(&str, &str)],
        files: u64,
    ) -> Server {
        use std::os::unix::process::CommandExt;
        let mut command = command(dir, Some(database_url), &["run", "--port", "0"]);
        for (name, value) in env {
            command.env(name, value);
        }
        let limit = libc::rlimit {
            rlim_cur: files,
            rlim_max: files,
        };
        // SAFETY: setrlimit is async-signal-safe and touches only the child being started.
        unsafe {
            command.pre_exec(move || {
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        Server::spawn(command)
    }

    fn spawn(mut command: Command) -> Server {
        command.stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = command.spawn().expect("the binary starts");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut printed = Vec::new();
        for line in stdout.lines() {
            let line = line.expect("utf-8 output");
            if let Some(rest) = line.strip_prefix("Serving on ") {
                let base = rest.split('/').take(3).collect::<Vec<_>>().join("/");
                return Server {
                    child,
                    base,
                    printed,
                };
            }
            printed.push(line);
        }
        panic!(
            "the server stopped before serving ({:?}); it printed {printed:?}",
            child.wait()
        );
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The most memory the server has held at once so far (its peak resident set).
    pub fn peak_memory_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("a server on Linux has a /proc status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc status");
        kib / 1024
    }

    /// Kills the server outright (SIGKILL), as a crash or the OOM killer does.
    pub fn kill(mut self) {
        self.child.kill().expect("the server can be killed");
        self.child.wait().expect("the server ends");
        std::mem::forget(self);
    }

    /// Asks the server to stop as a service manager does, and waits for it.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        let status = self.child.wait().expect("the server ends");
        std::mem::forget(self);
        status
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
