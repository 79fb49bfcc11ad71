//! `db migrate` and `db check` as a user runs them, on each database: the chapter's
//! "generate, review, apply" loop from an empty database, and the cases that confuse
//! Alembic users.

mod support;
use support::{Printed, copy_of_app_migrations, db};

use dbmigrate::on_each_database;

fn exit(printed: Printed, code: i32) -> Printed {
    assert_eq!(printed.code, Some(code), "{printed:?}");
    assert!(!printed.stderr.contains("panicked"), "{printed:?}");
    printed
}

on_each_database! {
    fn migrate_writes_the_models_tables_then_finds_nothing_after_upgrade(db_: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let (dir, url) = (dir.path(), &db_.url_string());
        exit(db(dir, url, &["init"]), 0);
        let migrate = exit(db(dir, url, &["migrate", "-m", "users and posts"]), 0);
        let lines: Vec<&str> = migrate.stdout.lines().collect();
        assert_eq!(lines[..6], [
            "Detected added table 'user'",
            "Detected added index 'ix_user_email' on '[\"email\"]'",
            "Detected added index 'ix_user_username' on '[\"username\"]'",
            "Detected added table 'post'",
            "Detected added index 'ix_post_timestamp' on '[\"timestamp\"]'",
            "Detected added index 'ix_post_user_id' on '[\"user_id\"]'",
        ], "{migrate:?}");
        assert_eq!(lines.len(), 7, "{migrate:?}");
        assert!(lines[6].starts_with("Generating migrations/versions/") && lines[6].ends_with("_users_and_posts.toml ... done"), "{migrate:?}");
        assert!(migrate.stderr.contains(&format!("Comparing the models with {}", db_.url)), "{migrate:?}");

        let not_yet = exit(db(dir, url, &["migrate", "-m", "again"]), 1);
        assert!(not_yet.stderr.contains("Target database is not up to date: it is at <base>"), "{not_yet:?}");
        let check = exit(db(dir, url, &["check"]), 1);
        assert!(check.stdout.contains("Target database is not up to date: 1 revision(s) not applied"), "{check:?}");

        exit(db(dir, url, &["upgrade"]), 0);
        assert_eq!(exit(db(dir, url, &["migrate", "-m", "again"]), 0).stdout, "No changes in schema detected.\n");
        assert_eq!(std::fs::read_dir(dir.join("migrations/versions")).unwrap().count(), 1, "no file written");
        assert_eq!(exit(db(dir, url, &["check"]), 0).stdout, "No new upgrade operations detected.\n");
    }

    fn the_built_in_migrations_leave_nothing_for_check_to_find(db_: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let (dir, url) = (dir.path(), &db_.url_string());
        exit(db(dir, url, &["upgrade"]), 0);
        exit(db(dir, url, &["check"]), 0);
        exit(db(dir, url, &["downgrade"]), 0);
        let check = exit(db(dir, url, &["check", "--format", "json"]), 1);
        let report: serde_json::Value = serde_json::from_str(&check.stdout).unwrap();
        assert_eq!(report["up_to_date"], false);
        assert_eq!(report["pending_revisions"], serde_json::json!(["1047ef9144ea"]));
        assert_eq!(report["changes"][0]["kind"], "added_index");
        assert_eq!(report["changes"][0]["detected"], "Detected added index 'ix_post_user_id' on '[\"user_id\"]'");
        assert!(!check.stdout.contains("s3cret"));
    }
}

#[test]
fn migrate_refuses_a_database_behind_the_repository_and_check_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let (dir, url) = (dir.path(), "sqlite:///app.db");
    copy_of_app_migrations(dir);
    exit(db(dir, url, &["upgrade", "+1"]), 0);
    let refused = exit(db(dir, url, &["migrate", "-m", "x"]), 1);
    assert!(
        refused.stderr.contains(
            "Target database is not up to date: it is at e517276bb1c2, the repository's head is 1047ef9144ea; run `microblog db upgrade` first"
        ),
        "{refused:?}"
    );
    let check = exit(db(dir, url, &["check"]), 1);
    assert!(
        check
            .stdout
            .contains("2 revision(s) not applied (780739b227a7, 1047ef9144ea)"),
        "{check:?}"
    );
}

#[test]
fn migrate_needs_a_repository_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let refused = exit(
        db(dir.path(), "sqlite:///app.db", &["migrate", "-m", "x"]),
        1,
    );
    assert!(
        refused
            .stderr
            .contains("create one with `microblog db init`"),
        "{refused:?}"
    );
}
