//! The binary as a user runs it: settings, and one clear line for each bad DATABASE_URL.

mod support;
use support::{Printed, Server, copy_of_chapter_4_repository, db, microblog};

use dbmigrate::Dialect;
use dbmigrate::testing::TestDb;

/// Runs `microblog run` with a bad URL: exit status 1, and one line on stderr that shows
/// the URL with its password masked and contains every one of `expected`.
fn refused(database_url: &str, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let output = microblog(dir.path(), Some(database_url), &["run"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line, not: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    for text in expected {
        assert!(lines[0].contains(text), "expected {text:?} in: {stderr}");
    }
    assert!(!stderr.contains("s3cret"), "password shown: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn an_unparseable_url_is_named_with_its_password_masked() {
    refused(
        "postgresql://u:s3cret@localhost:notaport/db",
        &["cannot parse the database URL postgresql://u:***@localhost:notaport/db"],
    );
}

#[test]
fn an_unknown_scheme_says_which_schemes_work() {
    refused(
        "oracle://scott:s3cret@localhost/orcl",
        &[
            "unknown database kind 'oracle'",
            "oracle://scott:***@localhost/orcl",
            "sqlite://",
        ],
    );
}

#[test]
fn a_server_url_without_a_database_name_says_to_add_one() {
    refused("postgresql://u:s3cret@localhost", &["names no database"]);
}

#[test]
fn a_server_that_refuses_the_connection_is_named() {
    refused(
        "postgresql://u:s3cret@127.0.0.1:1/db",
        &[
            "cannot reach the database server of postgresql://u:***@127.0.0.1:1/db",
            "check that the server is running",
        ],
    );
    refused(
        "mysql://u:s3cret@127.0.0.1:1/db",
        &["cannot reach the database server of mysql://u:***@127.0.0.1:1/db"],
    );
}

#[test]
fn a_sqlite_file_in_a_missing_directory_is_refused_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("missing/app.db");
    refused(
        &format!("sqlite:///{}", target.display()),
        &["cannot open the SQLite database", "does not exist"],
    );
    assert!(!dir.path().join("missing").exists());
}

fn when_server_is_up(dialect: Dialect, check: impl FnOnce(&TestDb)) {
    dbmigrate::testing::on(dialect, check);
}

#[test]
fn wrong_credentials_are_reported_as_such_on_postgresql() {
    when_server_is_up(Dialect::Postgres, |db| {
        let url = db.url.driver_string().replacen(
            "postgres://postgres@",
            "postgres://nosuchrole:s3cret@",
            1,
        );
        let url = url.replacen("postgres://root@", "postgres://nosuchrole:s3cret@", 1);
        refused(
            &url,
            &["refused the user name or password", "nosuchrole:***@"],
        );
    });
}

#[test]
fn wrong_credentials_are_reported_as_such_on_mariadb() {
    when_server_is_up(Dialect::Mysql, |db| {
        let url = db
            .url
            .driver_string()
            .replacen("mysql://root@", "mysql://nosuchuser:s3cret@", 1);
        refused(
            &url,
            &["refused the user name or password", "nosuchuser:***@"],
        );
    });
}

#[test]
fn a_missing_database_says_how_to_create_it() {
    for dialect in [Dialect::Postgres, Dialect::Mysql] {
        when_server_is_up(dialect, |db| {
            let missing = db.url.with_database_name("mb_no_such_database");
            refused(
                &missing.driver_string(),
                &[
                    "the database 'mb_no_such_database'",
                    "does not exist",
                    "db create",
                ],
            );
        });
    }
}

#[test]
fn run_on_a_fresh_directory_creates_app_db_there_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "sqlite:///app.db", &[]);
    assert!(dir.path().join("app.db").is_file());
    assert!(
        server
            .printed
            .iter()
            .any(|l| l.ends_with("app.db: 0 users, 0 posts")),
        "{:?}",
        server.printed
    );
    assert!(server.terminate().success());
}

#[test]
fn a_dotenv_file_in_the_working_directory_sets_database_url_and_the_environment_wins() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "DATABASE_URL=sqlite:///from-dotenv.db\n",
    )
    .unwrap();
    let output = microblog(dir.path(), None, &["config"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("from-dotenv.db"), "{stdout}");
    let output = microblog(dir.path(), Some("sqlite:///from-env.db"), &["config"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("from-env.db"), "{stdout}");
}

#[test]
fn config_masks_the_password_and_says_where_each_setting_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let output = microblog(
        dir.path(),
        Some("postgresql+psycopg2://scott:s3cret@db.example/blog"),
        &["config"],
    );
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("postgresql://scott:***@db.example/blog"),
        "{stdout}"
    );
    assert!(stdout.contains("from the environment"), "{stdout}");
    assert!(
        !stdout.contains("s3cret") && !stdout.contains("test-key"),
        "{stdout}"
    );
}

#[test]
fn without_secret_key_a_warning_line_is_printed() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = support::command(dir.path(), None, &["run", "--port", "0"]);
    command
        .env_remove("SECRET_KEY")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut first_line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stderr.take().unwrap()),
        &mut first_line,
    )
    .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        first_line.contains("warning: SECRET_KEY is not set"),
        "{first_line}"
    );
}

#[test]
fn help_and_version_describe_the_program() {
    let dir = tempfile::tempdir().unwrap();
    let help = microblog(dir.path(), None, &["--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(help.status.success());
    for word in ["run", "config", "DATABASE_URL"] {
        assert!(text.contains(word), "{word} missing from --help: {text}");
    }
    let version = microblog(dir.path(), None, &["--version"]);
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("microblog {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn an_unknown_command_is_a_usage_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let output = microblog(dir.path(), None, &["frobnicate"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unrecognized subcommand"));
}

#[test]
fn db_create_makes_the_missing_database_then_finds_it_there() {
    for dialect in [Dialect::Postgres, Dialect::Mysql] {
        when_server_is_up(dialect, |db| {
            let target = db
                .url
                .with_database_name(&format!("{}_created", db.url.database_name().unwrap()));
            let dir = tempfile::tempdir().unwrap();
            let url = target.driver_string();
            let first = microblog(dir.path(), Some(&url), &["db", "create"]);
            let second = microblog(dir.path(), Some(&url), &["db", "create"]);
            let run = microblog(dir.path(), Some(&url), &["db", "upgrade"]);
            dbmigrate::admin::drop_database(&target).unwrap();
            assert!(String::from_utf8_lossy(&first.stdout).starts_with("Created the database"));
            assert!(String::from_utf8_lossy(&second.stdout).contains("already exists"));
            assert!(
                run.status.success(),
                "{}",
                String::from_utf8_lossy(&run.stderr)
            );
        });
    }
}

#[test]
fn the_web_server_refuses_an_in_memory_database_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let output = microblog(dir.path(), Some("sqlite::memory:"), &["run", "--port", "0"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("in-memory SQLite database") && stderr.contains("sqlite:///app.db"),
        "{stderr}"
    );
}

#[test]
fn an_empty_database_url_is_pointed_out_not_taken_for_the_default() {
    refused(
        "",
        &[
            "DATABASE_URL is set but empty",
            "unset it for the default, sqlite:///app.db",
        ],
    );
}

#[test]
fn an_offline_range_the_wrong_way_round_names_the_command_that_goes_that_way() {
    let dir = tempfile::tempdir().unwrap();
    let ran: Printed = db(
        dir.path(),
        "sqlite:///app.db",
        &["upgrade", "--sql", "head:e517"],
    );
    assert_eq!(ran.code, Some(1), "{ran:?}");
    assert!(
        ran.stderr.contains("going from 'head' to 'e517' is a downgrade; use `microblog db downgrade --sql head:e517`"),
        "{ran:?}"
    );
    let ran: Printed = db(
        dir.path(),
        "sqlite:///app.db",
        &["downgrade", "--sql", "e517:head"],
    );
    assert_eq!(ran.code, Some(1), "{ran:?}");
    assert!(
        ran.stderr
            .contains("is an upgrade; use `microblog db upgrade --sql e517:head`"),
        "{ran:?}"
    );
}

#[test]
fn a_revision_file_named_after_another_id_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    copy_of_chapter_4_repository(dir.path());
    let versions = dir.path().join("migrations/versions");
    std::fs::rename(
        versions.join("e517276bb1c2_users_table.toml"),
        versions.join("users_table.toml"),
    )
    .unwrap();
    let ran: Printed = db(dir.path(), "sqlite:///app.db", &["history"]);
    assert_eq!(ran.code, Some(1), "{ran:?}");
    assert!(
        ran.stderr.contains("users_table.toml holds revision 'e517276bb1c2', but its name does not start with that id"),
        "{ran:?}"
    );
}

#[test]
fn output_cut_short_by_a_closed_pipe_ends_the_command_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    copy_of_chapter_4_repository(dir.path());
    // `true` leaves at once, so the listing is written to a pipe nobody reads.
    let script = format!(
        "'{}' db history 2>stderr.txt | true; cat stderr.txt",
        env!("CARGO_BIN_EXE_microblog")
    );
    let output = std::process::Command::new("sh")
        .args(["-c", &script])
        .current_dir(dir.path())
        .env("DATABASE_URL", "sqlite:///app.db")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stdout);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
}
