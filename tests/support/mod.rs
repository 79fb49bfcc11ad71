//! Running the binary as a user does, in a directory of the test's own.
#![allow(dead_code)] // each test binary uses its own part of this

use std::path::Path;
use std::process::{Command, Output};

pub fn microblog(dir: &Path, database_url: Option<&str>, args: &[&str]) -> Output {
    command(dir, database_url, args)
        .output()
        .expect("the binary runs")
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
