//! `db migrate` and `db check` as a user runs them, on each database: the chapter's
//! "generate, review, apply" loop from an empty database, and the cases that confuse
//! Alembic users.

mod support;
use support::{
    Printed, Server, built_in, copy_of_app_repository, copy_of_chapter_4_repository, db, microblog,
};

use diesel::connection::SimpleConnection;

use dbmigrate::on_each_database;

fn exit(printed: Printed, code: i32) -> Printed {
    assert_eq!(printed.code, Some(code), "{printed:?}");
    assert!(!printed.stderr.contains("panicked"), "{printed:?}");
    printed
}

on_each_database! {
    fn the_chapters_sequence_init_migrate_upgrade_shell_run_then_nothing_to_migrate(db_: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let (dir, url) = (dir.path(), &db_.url_string());
        exit(db(dir, url, &["init"]), 0);
        let migrate = exit(db(dir, url, &["migrate", "-m", "users and posts"]), 0);
        for table in &microblog::models::schema().tables {
            let added = format!("Detected added table '{}'", table.name);
            assert!(migrate.stdout.lines().any(|l| l == added), "{added}: {migrate:?}");
        }
        let generated = migrate.stdout.lines().last().unwrap();
        assert!(generated.starts_with("Generating migrations/versions/") && generated.ends_with("_users_and_posts.toml ... done"), "{migrate:?}");
        assert!(migrate.stderr.contains(&format!("Comparing the models with {}", db_.url)), "{migrate:?}");

        let not_yet = exit(db(dir, url, &["migrate", "-m", "again"]), 1);
        assert!(not_yet.stderr.contains("Target database is not up to date: it is at <base>"), "{not_yet:?}");
        let check = exit(db(dir, url, &["check"]), 1);
        assert!(check.stdout.contains("Target database is not up to date: 1 revision(s) not applied"), "{check:?}");

        exit(db(dir, url, &["upgrade"]), 0);
        let shell: Printed = microblog(dir, Some(url), &["shell", "-c", "db.session.add(User(#{username: \"john\"})); db.session.commit(); User.query.all()"]).into();
        assert_eq!(exit(shell, 0).stdout, "[<User john>]\n");
        let server = Server::start(dir, url, &[]);
        let page = ureq::get(&format!("{}/index", server.base)).call().unwrap();
        assert_eq!(page.status(), 200);
        assert!(server.terminate().success());

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
        let head = support::built_in().head().unwrap().unwrap().id.clone();
        assert_eq!(report["pending_revisions"], serde_json::json!([head]));
        assert!(!check.stdout.contains("s3cret"));
    }

    fn tables_the_models_do_not_own_are_left_alone_when_the_setting_names_them(db_: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let (dir, url) = (dir.path(), &db_.url_string());
        copy_of_app_repository(dir);
        exit(db(dir, url, &["upgrade"]), 0);
        let mut conn = dbmigrate::connect(&db_.url).unwrap();
        if db_.dialect() == dbmigrate::Dialect::Sqlite {
            conn.batch_execute("CREATE VIRTUAL TABLE post_search USING fts5(body)").unwrap();
            exit(db(dir, url, &["check"]), 0);
        }
        conn.batch_execute("CREATE TABLE audit_log (id INTEGER PRIMARY KEY)").unwrap();
        let check = exit(db(dir, url, &["check"]), 1);
        assert!(check.stdout.contains("Detected removed table 'audit_log'"), "{check:?}");

        std::fs::write(dir.join(".env"), "MIGRATIONS_IGNORE_TABLES=\"audit_*, other\"\n").unwrap();
        exit(db(dir, url, &["check"]), 0);
        let migrate = exit(db(dir, url, &["migrate", "-m", "nothing"]), 0);
        assert_eq!(migrate.stdout, "No changes in schema detected.\n");
        let config: Printed = microblog(dir, Some(url), &["config"]).into();
        assert!(config.stdout.contains("MIGRATIONS_IGNORE_TABLES = audit_*, other"), "{config:?}");
    }
}

#[test]
fn migrate_refuses_a_database_behind_the_repository_and_check_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let (dir, url) = (dir.path(), "sqlite:///app.db");
    copy_of_chapter_4_repository(dir);
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

#[test]
fn check_offline_compares_the_models_with_the_revisions_and_needs_no_database() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let nowhere = "postgresql://nobody@127.0.0.1:1/unreachable";
    copy_of_app_repository(dir);
    let clean = exit(db(dir, nowhere, &["check", "--offline"]), 0);
    assert_eq!(clean.stdout, "No new upgrade operations detected.\n");

    // The revisions from the head down to the newest that changes the schema (an `sql`
    // operation does not), gone: the models are then ahead of the repository.
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(dir.join("migrations/versions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let mut removed = Vec::new();
    for revision in built_in().graph().order().iter().rev() {
        let file = files
            .iter()
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(revision.as_str())
            })
            .unwrap();
        let text = std::fs::read_to_string(file).unwrap();
        std::fs::remove_file(file).unwrap();
        let changes_schema = text
            .lines()
            .any(|l| l.starts_with("op = ") && l != "op = \"sql\"");
        removed.push((file.clone(), text));
        if changes_schema {
            break;
        }
    }
    let behind = exit(db(dir, nowhere, &["check", "--offline"]), 1);
    assert!(behind.stdout.contains("Detected "), "{behind:?}");
    for (file, text) in removed {
        std::fs::write(file, text).unwrap();
    }

    a_second_head_after_the_users_table(dir, nowhere);
    let two_heads = exit(
        db(dir, nowhere, &["check", "--offline", "--format", "json"]),
        1,
    );
    let report: serde_json::Value = serde_json::from_str(&two_heads.stdout).unwrap();
    assert_eq!(
        report["heads"].as_array().unwrap().len(),
        2,
        "{two_heads:?}"
    );
    assert_eq!(report["database"], serde_json::Value::Null);
}

#[test]
fn check_offline_says_first_that_there_are_several_heads_even_when_they_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let (dir, nowhere) = (dir.path(), "postgresql://nobody@127.0.0.1:1/unreachable");
    copy_of_chapter_4_repository(dir);
    // Beside the chapter's last revision, one that adds the same index: the two heads
    // cannot both be replayed.
    std::fs::write(
        dir.join("migrations/versions/c0ffee000002_same_index.toml"),
        "revision = \"c0ffee000002\"\ndown_revision = \"780739b227a7\"\nmessage = \"same index\"\n\n\
         [[upgrade]]\nop = \"create_index\"\ntable = \"post\"\nname = \"ix_post_user_id\"\ncolumns = [\"user_id\"]\n",
    )
    .unwrap();
    let check = exit(db(dir, nowhere, &["check", "--offline"]), 1);
    assert!(
        check
            .stdout
            .starts_with("The repository has several heads (1047ef9144ea, c0ffee000002)"),
        "{check:?}"
    );
}

#[test]
fn check_fails_on_a_repository_with_several_heads_even_when_the_database_is_at_them() {
    let dir = tempfile::tempdir().unwrap();
    let (dir, url) = (dir.path(), "sqlite:///app.db");
    copy_of_chapter_4_repository(dir);
    a_second_head_after_the_users_table(dir, url);
    exit(db(dir, url, &["upgrade", "heads"]), 0);
    let check = exit(db(dir, url, &["check"]), 1);
    assert!(
        check.stdout.contains("The repository has several heads"),
        "{check:?}"
    );
}

/// A revision after the chapter's first, beside the one already there: two heads.
fn a_second_head_after_the_users_table(dir: &std::path::Path, url: &str) {
    let args = [
        "revision",
        "-m",
        "a second head",
        "--head",
        "e517",
        "--splice",
    ];
    exit(db(dir, url, &args), 0);
}
