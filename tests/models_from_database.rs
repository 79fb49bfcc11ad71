//! `microblog db models` on each database: the declarations it prints from a database made
//! by the chapter's frozen revisions (`fixtures/chapter4`) compile
//! (`fixtures/chapter4_models.rs`, compiled here), and compare equal to that database; an
//! unknown table is one clear error.
//!
//! After a deliberate change of the printed form:
//! `UPDATE_FIXTURES=1 cargo nextest run --test models_from_database`, then read the diff.

mod support;

use diesel::RunQueryDsl;

use dbmigrate::autogenerate::compare_with_database;
use dbmigrate::testing::TestDb;
use dbmigrate::{connect, on_each_database};

/// What `db models` printed from a database at the chapter's head, compiled.
mod printed {
    include!("fixtures/chapter4_models.rs");
}

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/chapter4_models.rs"
);

on_each_database! {
    fn the_declarations_printed_from_the_chapters_database_compile_and_describe_it(db: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        support::copy_of_chapter_4_repository(dir.path());
        let url = db.url_string();
        let upgraded = support::db(dir.path(), &url, &["upgrade"]);
        assert_eq!(upgraded.code, Some(0), "{upgraded:?}");
        let models = support::db(dir.path(), &url, &["models"]);
        assert_eq!(models.code, Some(0), "{models:?}");
        if std::env::var_os("UPDATE_FIXTURES").is_some() {
            std::fs::write(FIXTURE, &models.stdout).unwrap();
        }
        assert_eq!(models.stdout, std::fs::read_to_string(FIXTURE).unwrap());
        let mut conn = connect(&db.url).unwrap();
        let comparison =
            compare_with_database(&mut conn, printed::declared::schema(), Default::default(), &[])
                .unwrap();
        assert!(comparison.changes.is_empty(), "{:#?}", comparison.changes);
    }

    fn a_database_another_tool_made_is_taken_in_by_a_first_revision_written_offline(db: &TestDb) {
        let url = db.url_string();
        let made = tempfile::tempdir().unwrap();
        assert_eq!(support::db(made.path(), &url, &["upgrade"]).code, Some(0));
        diesel::sql_query("DROP TABLE dbmigrate_history")
            .execute(&mut connect(&db.url).unwrap())
            .unwrap();

        let app = tempfile::tempdir().unwrap();
        assert_eq!(support::db(app.path(), &url, &["init"]).code, Some(0));
        let first = support::db(app.path(), &url, &["migrate", "--offline", "-m", "initial"]);
        assert_eq!(first.code, Some(0), "{first:?}");
        assert!(first.stdout.contains("Detected added table 'user'"), "{first:?}");
        assert_eq!(support::db(app.path(), &url, &["stamp", "head"]).code, Some(0));
        let check = support::db(app.path(), &url, &["check"]);
        assert_eq!(check.code, Some(0), "{check:?}");

        // The same revision builds the tables on a new database.
        let fresh = TestDb::new(db.dialect()).unwrap();
        let fresh_url = fresh.url_string();
        assert_eq!(support::db(app.path(), &fresh_url, &["upgrade"]).code, Some(0));
        let check = support::db(app.path(), &fresh_url, &["check"]);
        assert_eq!(check.code, Some(0), "{check:?}");
    }

    fn a_table_the_database_does_not_have_is_one_clear_error(db: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let url = db.url_string();
        assert_eq!(support::db(dir.path(), &url, &["upgrade"]).code, Some(0));
        let only_posts = support::db(dir.path(), &url, &["models", "--table", "post"]);
        assert_eq!(only_posts.code, Some(0), "{only_posts:?}");
        assert!(only_posts.stdout.contains("pub struct Post {"), "{only_posts:?}");
        assert!(!only_posts.stdout.contains("pub struct User {"), "{only_posts:?}");
        assert!(only_posts.stdout.contains("foreign_key = \"user.id\""), "{only_posts:?}");

        let missing = support::db(dir.path(), &url, &["models", "--table", "posts"]);
        assert_eq!(missing.code, Some(1), "{missing:?}");
        assert_eq!(missing.stderr.trim(), "error: the database has no table 'posts'");
    }
}
