//! `microblog shell` fed through standard input, as `microblog shell < script.rhai` runs
//! it: the chapter's session gives the chapter's answers on each database, and each error
//! is one line that leaves the session usable.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

mod support;
use support::Printed;

use dbmigrate::on_each_database;
use dbmigrate::testing::TestDb;

fn shell(db: &TestDb, script: &str, args: &[&str]) -> Printed {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["shell"];
    all.extend_from_slice(args);
    let mut child = support::command(dir.path(), Some(&db.url_string()), &all)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap().into()
}

/// The error lines the shell printed on standard error, as Python's does.
fn errors_of(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| line.starts_with("error: "))
        .collect()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/shell")
            .join(name),
    )
    .unwrap()
}

on_each_database! {
    fn the_chapters_play_time_session_gives_the_chapters_answers(db: &TestDb) {
        let ran = shell(db, &fixture("chapter.rhai"), &[]);
        let expected = fixture("chapter.out").replace("DATABASE", &db.url.to_string());
        assert_eq!(ran.stdout, expected, "stderr: {}", ran.stderr);
        assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    }

    fn the_extras_query_update_and_roll_back(db: &TestDb) {
        let script = r#"
let john = User(#{username: "john", email: "john@example.com"});
db.session.add(john);
db.session.add(User(#{username: "susan", email: "susan@example.com"}));
db.session.commit();
db.session.add(Post(#{body: "first", author: john}));
db.session.commit();
db.session.add(Post(#{body: "second", author: john}));
db.session.commit();
db.session.get(User, 1)
User.query.filter_by(#{username: "susan"}).first()
User.query.count()
User.query.order_by(User.id.asc()).limit(1).offset(1).all()
Post.query.order_by(Post.timestamp.desc()).first().body
Post.query.first().timestamp.len() == 27 && Post.query.first().timestamp.ends_with("Z")
john.username = "johnny";
db.session.commit();
User.query.get(1)
db.session.add(User(#{username: "temp"}));
db.session.rollback();
User.query.count()
User.query.filter_by(#{username: "nobody"}).first()
"#;
        let ran = shell(db, script, &[]);
        assert_eq!(
            ran.stdout,
            "<User john>\n<User susan>\n2\n[<User susan>]\n\"second\"\ntrue\n<User johnny>\n2\n",
            "stderr: {}",
            ran.stderr
        );
        assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    }

    fn dates_are_written_and_read_as_iso_strings_and_queries_name_unknown_columns(db: &TestDb) {
        let script = r#"
let p = Post(#{body: "dated", timestamp: "2025-06-01T12:30:00Z"});
db.session.add(p); db.session.commit();
p.timestamp
Post.query.filter_by(#{timestamp: "2025-06-01 12:30:00"}).count()
p.timestamp = "2025-06-02T08:00:00.5Z"; db.session.commit();
Post.query.get(p.id).timestamp
Post.query.filter_by(#{user_id: ()}).count()
p.timestamp = "yesterday"
User.query.filter_by(#{nickname: "x"}).all()
User.query.order_by(User.nickname).all()
"#;
        let ran = shell(db, script, &[]);
        let lines: Vec<&str> = ran.stdout.lines().collect();
        assert_eq!(lines[..4], [
            "\"2025-06-01T12:30:00.000000Z\"",
            "1",
            "\"2025-06-02T08:00:00.500000Z\"",
            "1",
        ], "stderr: {}", ran.stderr);
        assert_eq!(lines.len(), 4, "{}", ran.stdout);
        let errors = errors_of(&ran.stderr);
        assert_eq!(errors.len(), 3, "{}", ran.stderr);
        assert!(errors[0].contains("Post.timestamp must be a date and time"), "{}", errors[0]);
        for line in &errors[1..] {
            assert!(line.contains("User has no") && line.contains("'nickname'") && line.contains("its columns are id, username"), "{line}");
        }
    }

    fn each_error_is_one_line_and_the_session_goes_on(db: &TestDb) {
        let script = r#"
let john = User(#{username: "john", email: "john@example.com"});
db.session.add(john); db.session.commit();
let = 5;
1 + 1
User.query.get(1).nickname
db.session.add(User(#{username: "john", email: "other@example.com"})); db.session.commit();
User.query.count()
User(#{shoe_size: 42})
"#;
        let ran = shell(db, script, &[]);
        let lines: Vec<&str> = ran.stdout.lines().collect();
        assert_eq!(lines, ["2", "1"], "the session goes on; the failed commit was rolled back");
        let errors = errors_of(&ran.stderr);
        assert_eq!(errors.len(), 4, "one line each: {}", ran.stderr);
        assert!(errors[1].contains("nickname"), "{}", errors[1]);
        assert!(errors[2].to_lowercase().contains("unique"), "a constraint violation: {}", errors[2]);
        assert!(errors[3].contains("shoe_size"), "{}", errors[3]);
        assert_eq!(ran.code, Some(1), "a failed statement makes the exit status non-zero");
    }
}

#[test]
fn a_snippet_runs_with_dash_c_and_help_lists_the_bindings() {
    let db = TestDb::new(dbmigrate::Dialect::Sqlite).unwrap();
    let ran = shell(&db, "", &["-c", "User.query.count()"]);
    assert_eq!(
        (ran.stdout.as_str(), ran.code),
        ("0\n", Some(0)),
        "{}",
        ran.stderr
    );
    let ran = shell(&db, "help()\n", &[]);
    for bound in ["db", "User", "Post", "filter_by", "order_by"] {
        assert!(ran.stdout.contains(bound), "{bound}: {}", ran.stdout);
    }
}

#[test]
fn uncommitted_changes_at_the_end_are_discarded_with_a_warning() {
    let db = TestDb::new(dbmigrate::Dialect::Sqlite).unwrap();
    let ran = shell(&db, "db.session.add(User(#{username: \"ghost\"}));\n", &[]);
    assert!(
        ran.stderr.contains("uncommitted changes were discarded"),
        "{}",
        ran.stderr
    );
    let ran = shell(&db, "User.query.count()\n", &[]);
    assert_eq!(ran.stdout, "0\n");
}

/// `microblog shell` at a terminal of its own (`script` gives it one, as a person at a
/// prompt has), in a new home directory, typed `keys` one after the other; what the
/// terminal showed, and the home directory.
fn at_a_terminal(keys: &[&str]) -> (String, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let url = format!("sqlite:///{}", home.path().join("app.db").display());
    let command = format!("{} shell", env!("CARGO_BIN_EXE_microblog"));
    let mut child = std::process::Command::new("script")
        .args(["-qc", &command, "/dev/null"])
        .env("DATABASE_URL", &url)
        .env("HOME", home.path())
        .env("SECRET_KEY", "test-key")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs");
    let mut stdin = child.stdin.take().unwrap();
    let pause = || std::thread::sleep(std::time::Duration::from_millis(700));
    pause();
    for keys in keys {
        stdin.write_all(keys.as_bytes()).unwrap();
        stdin.flush().unwrap();
        pause();
    }
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    (String::from_utf8_lossy(&output.stdout).into_owned(), home)
}

#[test]
fn at_a_terminal_it_prompts_continues_open_braces_cancels_on_ctrl_c_and_keeps_history() {
    let (shown, home) = at_a_terminal(&[
        "for u in [1] {\n",
        "print(\"inside\") }\n",
        "foo(\n",
        "\u{3}",
        "User.query.count()\n",
        "\u{4}",
    ]);
    assert!(shown.contains(">>> ") && shown.contains("... "), "{shown}");
    assert!(shown.contains("inside"), "{shown}");
    assert!(
        !shown.contains("error"),
        "Ctrl-C dropped the open line: {shown}"
    );
    assert!(
        shown.lines().any(|line| line.trim() == "0"),
        "the line after Ctrl-C ran on its own: {shown}"
    );
    let history = std::fs::read_to_string(home.path().join(".microblog_history")).unwrap();
    assert!(history.contains("User.query.count()"), "{history}");
}

#[test]
fn ctrl_c_at_a_terminal_stops_the_code_running_and_the_shell_goes_on() {
    let (shown, _home) = at_a_terminal(&[
        "db.session.add(User(#{username: \"kept out\"})); let n = 0; loop { n += 1 }\n",
        "\u{3}",
        "print(`after: ${User.query.count()}`)\n",
        "\u{4}",
    ]);
    assert!(shown.contains("error: interrupted (Ctrl-C)"), "{shown}");
    assert!(
        shown.contains("after: 0"),
        "the shell went on, without the uncommitted user: {shown}"
    );
}

#[test]
fn ctrl_c_ends_a_command_that_runs_forever_with_status_130() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = support::command(
        dir.path(),
        Some("sqlite:///app.db"),
        &[
            "shell",
            "-c",
            "print(\"running\"); let n = 0; loop { n += 1 }",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    assert_eq!(first, "running\n");
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert!(stderr.contains("error: interrupted (Ctrl-C)"), "{stderr}");
}

#[test]
fn an_in_memory_database_works_for_one_session() {
    let dir = tempfile::tempdir().unwrap();
    let output = support::command(
        dir.path(),
        Some("sqlite::memory:"),
        &[
            "shell",
            "-c",
            "db.session.add(User(#{username: \"john\"})); db.session.commit(); User.query.all()",
        ],
    )
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout,
        "[<User john>]\n",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
