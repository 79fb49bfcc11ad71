//! `microblog db squash` on each database: the chapter's three revisions squashed into one,
//! and databases left at each of them (and at none) upgraded through the squash to the
//! revision that follows it, keeping their rows; downgrading through the squash; a
//! database partway through the run when the replaced files are gone.

mod support;
use support::{Printed, copy_of_chapter_4_repository, db};

use std::path::Path;

use diesel::connection::SimpleConnection;

use dbmigrate::on_each_database;

const CHAPTER_4: [&str; 3] = ["e517276bb1c2", "780739b227a7", "1047ef9144ea"];

const ABOUT_ME: &str = r#"revision = "ab0ab0ab0ab0"
down_revision = "1047ef9144ea"
message = "about me"

[[upgrade]]
op = "add_column"
table = "user"
column = { name = "about_me", type = "string(140)" }

[[downgrade]]
op = "drop_column"
table = "user"
column = "about_me"
"#;

/// The chapter's revisions and one after them, in `dir/migrations`.
fn chapter_4_and_about_me(dir: &Path) {
    copy_of_chapter_4_repository(dir);
    std::fs::write(
        dir.join("migrations/versions/ab0ab0ab0ab0_about_me.toml"),
        ABOUT_ME,
    )
    .unwrap();
}

fn ok(printed: Printed) -> Printed {
    assert_eq!(printed.code, Some(0), "{printed:?}");
    printed
}

/// The id `db squash` printed in "Squashed 3 revisions into <id> (…".
fn squash_id(printed: &Printed) -> String {
    let line = printed
        .stdout
        .lines()
        .find(|l| l.starts_with("Squashed"))
        .expect("a Squashed line");
    line.split(" into ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string()
}

/// The chapter's revisions and one after them in `dir`, the database upgraded to `at`, then
/// the chapter's three squashed; returns the squash's id.
fn squashed_with_the_database_at(dir: &Path, url: &str, at: &str) -> String {
    chapter_4_and_about_me(dir);
    ok(db(dir, url, &["upgrade", at]));
    squash_id(&ok(db(
        dir,
        url,
        &["squash", "e517", "1047", "-m", "chapter 4"],
    )))
}

fn delete_the_replaced_files(dir: &Path) {
    for entry in std::fs::read_dir(dir.join("migrations/versions")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if CHAPTER_4.iter().any(|id| name.starts_with(id)) {
            std::fs::remove_file(path).unwrap();
        }
    }
}

fn table_names(db_: &dbmigrate::testing::TestDb) -> Vec<String> {
    let mut conn = dbmigrate::connect(&db_.url).unwrap();
    let mut names = dbmigrate::inspect::table_names(&mut conn).unwrap();
    names.retain(|n| n != "dbmigrate_history");
    names.sort();
    names
}

on_each_database! {
    fn a_database_at_any_squashed_revision_or_none_upgrades_through_the_squash(db_: &TestDb) {
        let url = &db_.url_string();
        let (plain, squashed) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (plain, squashed) = (plain.path(), squashed.path());
        chapter_4_and_about_me(plain);
        chapter_4_and_about_me(squashed);
        let made = ok(db(squashed, url, &["squash", "e517", "1047", "-m", "chapter 4"]));
        let squash = squash_id(&made);
        assert!(made.stdout.contains("Squashed 3 revisions into"), "{made:?}");
        let heads = ok(db(squashed, url, &["heads"]));
        assert!(heads.stdout.starts_with("ab0ab0ab0ab0 (head)"), "the follower keeps its place: {heads:?}");

        let user = db_.dialect().quote("user");
        for (at, still_to_run) in [(0, &CHAPTER_4[1..]), (1, &CHAPTER_4[2..]), (2, &CHAPTER_4[3..])] {
            ok(db(plain, url, &["downgrade", "base"]));
            ok(db(plain, url, &["upgrade", CHAPTER_4[at]]));
            let mut conn = dbmigrate::connect(&db_.url).unwrap();
            conn.batch_execute(&format!("INSERT INTO {user} (username) VALUES ('kept')")).unwrap();

            let upgrade = ok(db(squashed, url, &["upgrade"]));
            for id in still_to_run {
                assert!(upgrade.stdout.contains(&format!("-> {id},")), "at {}: {upgrade:?}", CHAPTER_4[at]);
            }
            assert!(!upgrade.stdout.contains(&format!("-> {squash},")), "at {}: the squash is not run over a database partway through: {upgrade:?}", CHAPTER_4[at]);
            assert!(upgrade.stdout.contains("-> ab0ab0ab0ab0, about me"), "{upgrade:?}");
            let current = ok(db(squashed, url, &["current"]));
            assert!(current.stdout.starts_with("ab0ab0ab0ab0 (head)"), "{current:?}");
            assert_eq!(table_names(db_), ["post", "user"]);
            let mut conn = dbmigrate::connect(&db_.url).unwrap();
            conn.batch_execute(&format!("UPDATE {user} SET about_me = 'hi' WHERE username = 'kept'"))
                .expect("the row was kept and the column after the squash is there");
        }

        ok(db(plain, url, &["downgrade", "base"]));
        assert_eq!(table_names(db_), Vec::<String>::new());
        let fresh = ok(db(squashed, url, &["upgrade"]));
        assert!(fresh.stdout.contains(&format!("Running upgrade  -> {squash}, chapter 4")), "a new database runs the squash itself: {fresh:?}");
        assert!(!fresh.stdout.contains("-> e517276bb1c2,"), "{fresh:?}");
        let back = ok(db(squashed, url, &["downgrade", "base"]));
        assert!(back.stdout.contains(&format!("Running downgrade {squash} -> , chapter 4")), "{back:?}");
        assert_eq!(table_names(db_), Vec::<String>::new());
        let current = ok(db(squashed, url, &["current"]));
        assert!(!current.stdout.contains(&squash), "{current:?}");
    }
}

on_each_database! {
    fn a_database_partway_through_a_squash_is_told_what_it_needs(db_: &TestDb) {
        let url = &db_.url_string();
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let squash = squashed_with_the_database_at(dir, url, "780739b227a7");

        let current = ok(db(dir, url, &["current"]));
        assert!(current.stdout.starts_with(&format!("780739b227a7 (partway through squash {squash}")), "{current:?}");
        let downgrade = db(dir, url, &["downgrade", "base"]);
        assert_eq!(downgrade.code, Some(1), "{downgrade:?}");
        assert!(downgrade.stderr.contains(&format!("partway through the revisions squash {squash} replaced; upgrade to {squash} first")), "{downgrade:?}");
        assert_eq!(table_names(db_), ["post", "user"], "nothing was undone");

        delete_the_replaced_files(dir);
        let upgrade = db(dir, url, &["upgrade"]);
        assert_eq!(upgrade.code, Some(1), "{upgrade:?}");
        assert!(upgrade.stderr.contains("replaced revision 1047ef9144ea after it, whose file is gone; restore the files"), "{upgrade:?}");
        assert!(upgrade.stderr.contains(&format!("780739b227a7 (partway through squash {squash})")), "{upgrade:?}");
        let mut conn = dbmigrate::connect(&db_.url).unwrap();
        let catalog = dbmigrate::inspect::inspect(&mut conn).unwrap();
        let indexes = &catalog.table("post").unwrap().indexes;
        assert!(indexes.iter().all(|i| i.name != "ix_post_user_id"), "nothing ran: {indexes:?}");
    }
}

on_each_database! {
    fn a_database_past_a_squashed_run_needs_none_of_its_files(db_: &TestDb) {
        let url = &db_.url_string();
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let squash = squashed_with_the_database_at(dir, url, "1047ef9144ea");
        delete_the_replaced_files(dir);
        let current = ok(db(dir, url, &["current"]));
        assert!(current.stdout.starts_with(&squash), "the run it ran stands for the squash: {current:?}");
        let upgrade = ok(db(dir, url, &["upgrade"]));
        assert!(upgrade.stdout.contains("-> ab0ab0ab0ab0, about me"), "{upgrade:?}");
        let down = ok(db(dir, url, &["downgrade", "base"]));
        assert!(down.stdout.contains(&format!("Running downgrade {squash} -> , chapter 4")), "{down:?}");
        assert_eq!(table_names(db_), Vec::<String>::new());
        let current = ok(db(dir, url, &["current"]));
        assert!(current.stdout.trim().is_empty(), "the history forgot the replaced rows too: {current:?}");
    }
}

#[test]
fn squashing_from_base_replaces_every_revision_up_to_the_one_named() {
    let dir = tempfile::tempdir().unwrap();
    let (dir, url) = (dir.path(), "sqlite:///app.db");
    chapter_4_and_about_me(dir);
    let squash = squash_id(&ok(db(
        dir,
        url,
        &["squash", "base", "1047", "-m", "chapter 4"],
    )));
    let file = ok(db(dir, url, &["show", &squash, "--file"])).stdout;
    assert!(
        file.contains(r#"replaces = ["e517276bb1c2", "780739b227a7", "1047ef9144ea"]"#),
        "{file}"
    );
    assert!(
        !file.contains("down_revision = \""),
        "it is a first revision: {file}"
    );
    let upgrade = ok(db(dir, url, &["upgrade"]));
    assert!(
        upgrade
            .stdout
            .contains(&format!("Running upgrade  -> {squash}, chapter 4")),
        "{upgrade:?}"
    );
}
