//! Lines of revisions with names and dependencies between them, as Flask-Migrate users
//! write them (`db revision --head base --branch-label NAME`, `--depends-on REV`,
//! `db upgrade NAME@head`), on each database: one line moves while the other stays, and a
//! dependency runs first and is undone last.

use std::collections::BTreeSet;
use std::path::Path;

mod support;
use support::{Printed, db};

use dbmigrate::testing::TestDb;
use dbmigrate::{connect, on_each_database};

fn ok(printed: Printed) -> Printed {
    assert_eq!(printed.code, Some(0), "{printed:?}");
    printed
}

fn refused(printed: Printed, says: &str) {
    assert_eq!(printed.code, Some(1), "{printed:?}");
    assert!(!printed.stderr.contains("panicked"), "{printed:?}");
    assert!(printed.stderr.contains(says), "{printed:?}");
}

/// `db revision` with `args`, then a table of its own for it to create and drop.
fn revision(dir: &Path, url: &str, id: &str, args: &[&str]) {
    let mut full = vec!["revision", "-m", id, "--rev-id", id];
    full.extend_from_slice(args);
    ok(db(dir, url, &full));
    let versions = dir.join("migrations/versions");
    let file = std::fs::read_dir(&versions)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(id))
        .expect("the new revision's file");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(&format!(
        "\n[[upgrade]]\nop = \"create_table\"\ntable = \"t_{id}\"\n\
         columns = [{{ name = \"id\", type = \"integer\", nullable = false }}]\nprimary_key = [\"id\"]\n\
         \n[[downgrade]]\nop = \"drop_table\"\ntable = \"t_{id}\"\n"
    ));
    std::fs::write(file, text).unwrap();
}

/// The revisions whose tables the database has.
fn applied(db_: &TestDb) -> BTreeSet<String> {
    let mut conn = connect(&db_.url).unwrap();
    let schema = dbmigrate::inspect::inspect(&mut conn).unwrap();
    schema
        .tables
        .iter()
        .filter_map(|t| t.name.strip_prefix("t_").map(str::to_string))
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// `main`: m1 → m2; `audit`, a line of its own: a1 → a2, where a2 needs m2.
fn two_lines(dir: &Path, url: &str) {
    ok(db(dir, url, &["init"]));
    revision(dir, url, "m1", &["--branch-label", "main"]);
    revision(dir, url, "m2", &[]);
    revision(
        dir,
        url,
        "a1",
        &["--head", "base", "--branch-label", "audit"],
    );
    revision(
        dir,
        url,
        "a2",
        &["--head", "audit@head", "--depends-on", "m2"],
    );
}

on_each_database! {
    fn one_line_moves_while_the_other_stays_and_a_dependency_runs_first(db_: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let (dir, url) = (dir.path(), &db_.url_string());
        two_lines(dir, url);
        let heads = ok(db(dir, url, &["heads"])).stdout;
        assert_eq!(heads, "m2 (main) (head)\na2 (audit) (head)\n");

        ok(db(dir, url, &["upgrade", "audit@+1"]));
        assert_eq!(applied(db_), set(&["a1"]), "only the first of the audit line");
        let upgrade = ok(db(dir, url, &["upgrade", "audit@head"]));
        assert_eq!(applied(db_), set(&["a1", "a2", "m1", "m2"]), "a2 needs main's m2 first");
        let order: Vec<&str> = upgrade.stdout.lines().map(|l| l.split(' ').nth(4).unwrap_or(l)).collect();
        assert!(order.iter().position(|l| l.contains("m2")) < order.iter().position(|l| l.contains("a2")), "{upgrade:?}");

        ok(db(dir, url, &["downgrade", "main@-1"]));
        assert_eq!(applied(db_), set(&["a1", "m1"]), "undoing m2 undoes a2, which needs it");
        ok(db(dir, url, &["downgrade", "audit@base"]));
        assert_eq!(applied(db_), set(&["m1"]), "main stays as it was");
        ok(db(dir, url, &["upgrade", "heads"]));
        assert_eq!(applied(db_), set(&["a1", "a2", "m1", "m2"]));
        let current = ok(db(dir, url, &["current"])).stdout;
        assert_eq!(current, "m2 (main) (head)\na2 (audit) (head)\n");
    }

    fn stamping_one_line_leaves_the_other_as_it_is(db_: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let (dir, url) = (dir.path(), &db_.url_string());
        two_lines(dir, url);
        ok(db(dir, url, &["upgrade", "audit@+1"]));
        ok(db(dir, url, &["stamp", "main@head"]));
        assert_eq!(ok(db(dir, url, &["current"])).stdout, "a1 (audit)\nm2 (main) (head)\n");
        ok(db(dir, url, &["stamp", "base"]));
        assert_eq!(ok(db(dir, url, &["current"])).stdout, "", "base forgets every line");
    }

    fn downgrading_to_a_revision_of_one_line_leaves_the_other_line(db_: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let (dir, url) = (dir.path(), &db_.url_string());
        two_lines(dir, url);
        ok(db(dir, url, &["upgrade", "heads"]));
        ok(db(dir, url, &["downgrade", "a1"]));
        assert_eq!(applied(db_), set(&["a1", "m1", "m2"]));
        ok(db(dir, url, &["downgrade", "m1"]));
        assert_eq!(applied(db_), set(&["a1", "m1"]));
    }
}

#[test]
fn lines_are_named_in_listings_and_a_revision_shows_what_it_waits_for() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:///{}", dir.path().join("app.db").display());
    let dir = dir.path();
    two_lines(dir, &url);
    let history = ok(db(dir, &url, &["history"])).stdout;
    for expected in [
        "a1 -> a2 (audit) (head), a2",
        "<base> -> a1 (audit), a1",
        "m1 -> m2 (main) (head), m2",
        "<base> -> m1 (main), m1",
    ] {
        assert!(history.contains(expected), "{expected}\n{history}");
    }
    let show = ok(db(dir, &url, &["show", "a2"])).stdout;
    assert!(show.contains("Also depends on: m2\n"), "{show}");
    assert!(show.contains("Branch names: audit\n"), "{show}");
    let file = ok(db(dir, &url, &["show", "a2", "--file"])).stdout;
    assert!(file.contains("depends_on = [\"m2\"]"), "{file}");
    let graph = ok(db(dir, &url, &["history", "--graph"])).stdout;
    assert!(graph.contains("(after m2)"), "{graph}");
}

#[test]
fn a_new_revision_must_say_where_it_goes_when_there_are_several_heads() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:///{}", dir.path().join("app.db").display());
    let dir = dir.path();
    two_lines(dir, &url);
    let files = || {
        std::fs::read_dir(dir.join("migrations/versions"))
            .unwrap()
            .count()
    };
    let before = files();
    let base = ["--head", "base", "--branch-label"];
    for (args, says) in [
        (&["revision", "-m", "where"][..], "several heads"),
        (&["revision", "-m", "mid", "--head", "m1"], "--splice"),
        (
            &[&["revision", "-m", "again"][..], &base, &["main"]].concat(),
            "'main'",
        ),
        (
            &[&["revision", "-m", "bad"][..], &base, &["heads"]].concat(),
            "'heads'",
        ),
        (&["upgrade"], "several heads"),
    ] {
        refused(db(dir, &url, args), says);
    }
    assert_eq!(files(), before, "nothing written");
    ok(db(
        dir,
        &url,
        &[
            "revision", "-m", "fix", "--head", "m1", "--splice", "--rev-id", "m1fix",
        ],
    ));
    assert_eq!(ok(db(dir, &url, &["heads"])).stdout.lines().count(), 3);
}
