//! What a crash cannot lose, on each database: a post the site acknowledged is stored, with
//! many writers at once and when the server is killed under them; a migration killed in
//! the middle of rewriting a table leaves the table whole and the history true to it; a
//! backfill killed partway goes on where it stopped, and updates no row twice.
//!
//! `CRASH_TRIALS` sets how many times each killing is tried (default 2);
//! `scripts/reliability` runs many more.

mod support;

use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use dbmigrate::on_each_database;
use dbmigrate::testing::TestDb;
use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl, sql_query};

use support::Server;
use support::site::{Client, signed_up};

fn trials() -> usize {
    std::env::var("CRASH_TRIALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2)
}

#[derive(QueryableByName)]
struct Body {
    #[diesel(sql_type = Text)]
    body: String,
}

fn stored_bodies(db: &TestDb) -> Vec<String> {
    let mut conn = dbmigrate::connect(&db.url).unwrap();
    sql_query("SELECT body FROM post")
        .load::<Body>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|b| b.body)
        .collect()
}

/// Writes posts named `{name}-{n}` until the server stops answering or `count` are
/// written; the ones the site acknowledged.
fn write_until_stopped(client: &Client, name: &str, count: usize) -> Vec<String> {
    let mut acknowledged = Vec::new();
    for n in 0..count {
        let body = format!("{name}-{n}");
        let Some(token) = client.try_get("/index").map(|page| page.csrf_token()) else {
            break;
        };
        match client.try_post("/index", &[("csrf_token", &token), ("post", &body)]) {
            Some(reply) if reply.status == 303 && reply.location.as_deref() == Some("/index") => {
                acknowledged.push(body)
            }
            Some(reply) => panic!("{body}: {} {}", reply.status, reply.body),
            None => break,
        }
    }
    acknowledged
}

fn assert_all_stored(db: &TestDb, acknowledged: &[String]) {
    let stored = stored_bodies(db);
    for body in acknowledged {
        assert_eq!(
            stored.iter().filter(|s| *s == body).count(),
            1,
            "acknowledged post {body} stored once"
        );
    }
}

on_each_database! {
    fn many_writers_at_once_lose_no_acknowledged_post(db: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(dir.path(), &db.url_string(), &[]);
        let writers: Vec<Client> = (0..12).map(|i| signed_up(&server, &format!("w{i}"))).collect();
        let acknowledged: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = writers
                .iter()
                .enumerate()
                .map(|(i, writer)| scope.spawn(move || write_until_stopped(writer, &format!("w{i}"), 15)))
                .collect();
            handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(acknowledged.len(), 12 * 15, "every post was acknowledged");
        assert_all_stored(db, &acknowledged);
        assert_eq!(stored_bodies(db).len(), acknowledged.len());
    }

    fn killing_the_server_under_write_load_loses_no_acknowledged_post(db: &TestDb) {
        let mut checked = 0;
        for trial in 0..trials() {
            let dir = tempfile::tempdir().unwrap();
            let server = Server::start(dir.path(), &db.url_string(), &[]);
            let writers: Vec<Client> = (0..6).map(|i| signed_up(&server, &format!("t{trial}w{i}"))).collect();
            let acknowledged: Vec<String> = std::thread::scope(|scope| {
                let handles: Vec<_> = writers
                    .iter()
                    .enumerate()
                    .map(|(i, writer)| scope.spawn(move || write_until_stopped(writer, &format!("t{trial}w{i}"), 10_000)))
                    .collect();
                std::thread::sleep(Duration::from_millis(300 + 150 * trial as u64));
                server.kill();
                handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
            });
            assert!(!acknowledged.is_empty(), "trial {trial}: some posts went through first");
            assert_all_stored(db, &acknowledged);
            checked += acknowledged.len();
        }
        eprintln!(
            "{}: {} kills under 6 writers; all {checked} acknowledged posts stored",
            db.dialect(),
            trials()
        );
    }

    fn a_migration_killed_while_it_rewrites_a_table_leaves_it_whole_and_recorded_truly(db: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let (dir, url) = (dir.path(), db.url_string());
        write_note_revisions(dir);
        run_ok(dir, &url, &["db", "upgrade", "a1a1a1a1a1a1"]);
        fill_notes(db, ROWS);
        let mut killed_before_the_commit = 0;
        for trial in 0..trials() {
            // With the site stopped: the widening rewrites the table in place.
            let mut upgrade = support::command(dir, Some(&url), &["db", "upgrade", "--site-stopped"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            // Once it says it is running the revision (the line ends when it is done), the
            // table is being rewritten.
            let mut stdout = upgrade.stdout.take().unwrap();
            let mut shown = Vec::new();
            let mut byte = [0u8];
            while !String::from_utf8_lossy(&shown).contains("widen note.n") {
                assert_eq!(stdout.read(&mut byte).unwrap(), 1, "{}", String::from_utf8_lossy(&shown));
                shown.push(byte[0]);
            }
            std::thread::sleep(Duration::from_millis(5 * trial as u64));
            let _ = upgrade.kill();
            upgrade.wait().unwrap();

            let current = run_ok(dir, &url, &["db", "current"]);
            assert!(current.contains("a1a1a1a1a1a1") || current.contains("b2b2b2b2b2b2"), "{current}");
            if current.contains("a1a1a1a1a1a1") {
                killed_before_the_commit += 1;
            }
            if db.dialect() != dbmigrate::Dialect::Mysql {
                // One transaction: the recorded revision is the shape the table has.
                let widened = note_type(db).contains("big");
                assert_eq!(current.contains("b2b2b2b2b2b2"), widened, "trial {trial}: {current}");
            }
            assert_eq!(count_notes(db), ROWS, "trial {trial}: every row is there");
            run_ok(dir, &url, &["db", "upgrade", "--site-stopped"]);
            assert!(run_ok(dir, &url, &["db", "current"]).contains("b2b2b2b2b2b2"));
            assert_eq!(count_notes(db), ROWS);
            run_ok(dir, &url, &["db", "downgrade", "a1a1a1a1a1a1"]);
        }
        eprintln!(
            "{}: {} kills of a {ROWS}-row table rewrite, {killed_before_the_commit} before its commit; every row kept",
            db.dialect(),
            trials()
        );
    }

    fn a_backfill_killed_partway_goes_on_where_it_stopped_and_updates_no_row_twice(db: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let (dir, url) = (dir.path(), db.url_string());
        write_note_revisions(dir);
        write_backfill_revision(dir);
        run_ok(dir, &url, &["db", "upgrade", "--site-stopped", "b2b2b2b2b2b2"]);
        fill_notes(db, ROWS);
        let mut upgrade = support::command(dir, Some(&url), &["db", "upgrade"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut watcher = dbmigrate::connect(&db.url).unwrap();
        let sqlite = db.dialect() == dbmigrate::Dialect::Sqlite;
        let started = std::time::Instant::now();
        if sqlite {
            std::thread::sleep(Duration::from_millis(100));
        } else {
            while bumped(&mut watcher) == 0 {
                assert!(started.elapsed() < Duration::from_secs(60), "the backfill began");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = upgrade.kill();
        upgrade.wait().unwrap();
        let done_when_killed = bumped(&mut watcher);
        if sqlite {
            // One transaction: all of it or none.
            assert!([0, ROWS].contains(&done_when_killed), "{done_when_killed} rows done");
        } else {
            assert!(done_when_killed < ROWS, "killed before the end ({done_when_killed} rows done)");
        }
        if done_when_killed < ROWS {
            let current = run_ok(dir, &url, &["db", "current"]);
            assert!(current.contains("b2b2b2b2b2b2"), "{current}");
        }
        let output = support::microblog(dir, Some(&url), &["db", "upgrade"]);
        let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "{printed}");
        if !sqlite {
            assert!(printed.contains("going on from step 1 of 1, a backfill, after key"), "{printed}");
        }
        assert_eq!(bumped(&mut watcher), ROWS, "every row updated");
        let twice = sql_query("SELECT COUNT(*) AS n FROM note WHERE n <> id + 1")
            .get_result::<Count>(&mut watcher)
            .unwrap()
            .n;
        assert_eq!(twice, 0, "no row updated twice");
        eprintln!("{}: killed with {done_when_killed} of {ROWS} rows backfilled; resumed, each row once", db.dialect());
    }
}

/// Rows the backfill revision has updated (`n` starts equal to `id`).
fn bumped(conn: &mut dbmigrate::AnyConnection) -> i64 {
    sql_query("SELECT COUNT(*) AS n FROM note WHERE n = id + 1")
        .get_result::<Count>(conn)
        .unwrap()
        .n
}

fn write_backfill_revision(dir: &Path) {
    std::fs::write(
        dir.join("migrations/versions/c3c3c3c3c3c3_bump_note_n.toml"),
        r#"revision = "c3c3c3c3c3c3"
down_revision = "b2b2b2b2b2b2"
message = "bump note.n"
created = 2026-12-05T00:00:00Z

[[upgrade]]
op = "backfill"
table = "note"
set = { n = "n + 1" }
batch_size = 500
pause_ms = 5

[[downgrade]]
op = "backfill"
table = "note"
set = { n = "n - 1" }
"#,
    )
    .unwrap();
}

const ROWS: i64 = 100_000;

fn write_note_revisions(dir: &Path) {
    let versions = dir.join("migrations/versions");
    std::fs::create_dir_all(&versions).unwrap();
    std::fs::write(
        versions.join("a1a1a1a1a1a1_note_table.toml"),
        r#"revision = "a1a1a1a1a1a1"
message = "note table"
created = 2026-11-27T00:00:00Z

[[upgrade]]
op = "create_table"
table = "note"
columns = [
    { name = "id", type = "integer", nullable = false, autoincrement = true },
    { name = "n", type = "integer" },
    { name = "label", type = "string(40)" },
]
primary_key = ["id"]

[[downgrade]]
op = "drop_table"
table = "note"
"#,
    )
    .unwrap();
    std::fs::write(
        versions.join("b2b2b2b2b2b2_widen_note_n.toml"),
        r#"revision = "b2b2b2b2b2b2"
down_revision = "a1a1a1a1a1a1"
message = "widen note.n"
created = 2026-11-27T00:00:01Z

[[upgrade]]
op = "alter_column"
table = "note"
column = "n"
type = "bigint"

[[downgrade]]
op = "alter_column"
table = "note"
column = "n"
type = "integer"
"#,
    )
    .unwrap();
}

fn fill_notes(db: &TestDb, rows: i64) {
    let mut conn = dbmigrate::connect(&db.url).unwrap();
    if db.dialect() == dbmigrate::Dialect::Mysql {
        // MariaDB and MySQL cap recursion, each under its own name.
        let _ = conn.batch_execute("SET SESSION max_recursive_iterations = 10000000");
        let _ = conn.batch_execute("SET SESSION cte_max_recursion_depth = 10000000");
    }
    let sql = match db.dialect() {
        dbmigrate::Dialect::Postgres => format!(
            "INSERT INTO note (n, label) SELECT g, 'note ' || g FROM generate_series(1, {rows}) AS g"
        ),
        _ => format!(
            "INSERT INTO note (n, label) WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {rows}) SELECT i, 'note' FROM g"
        ),
    };
    conn.batch_execute(&sql).unwrap();
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count_notes(db: &TestDb) -> i64 {
    let mut conn = dbmigrate::connect(&db.url).unwrap();
    sql_query("SELECT COUNT(*) AS n FROM note")
        .get_result::<Count>(&mut conn)
        .unwrap()
        .n
}

/// The type of `note.n` as the database's catalog tells it.
fn note_type(db: &TestDb) -> String {
    let mut conn = dbmigrate::connect(&db.url).unwrap();
    let catalog = dbmigrate::inspect::inspect(&mut conn).unwrap();
    let column = catalog.table("note").unwrap().find_column("n").unwrap();
    format!("{:?}", column.ty).to_lowercase()
}

fn run_ok(dir: &Path, url: &str, args: &[&str]) -> String {
    let output = support::microblog(dir, Some(url), args);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
