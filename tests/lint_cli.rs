//! `microblog db lint` on each database: the rows at stake counted where the database sits
//! at a revision's parent, exit statuses by severity, and the application's own revisions
//! with no finding left open.

mod support;
use support::{Printed, copy_of_chapter_4_repository, db};

use diesel::connection::SimpleConnection;

use dbmigrate::on_each_database;

const RISKY: &str = r#"revision = "b0b0b0b0b0b0"
down_revision = "1047ef9144ea"
message = "risky"

[[upgrade]]
op = "create_unique_constraint"
table = "post"
name = "uq_post_timestamp"
columns = ["timestamp"]

[[upgrade]]
op = "alter_column"
table = "user"
column = "email"
nullable = false

[[upgrade]]
op = "add_column"
table = "user"
column = { name = "age", type = "integer", nullable = false }

[[upgrade]]
op = "drop_column"
table = "post"
column = "body"

[[downgrade]]
op = "sql"
sql = "SELECT 1"
"#;

on_each_database! {
    fn lint_counts_the_rows_each_risky_operation_would_hit(db_: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let (dir, url) = (dir.path(), &db_.url_string());
        copy_of_chapter_4_repository(dir);
        assert_eq!(db(dir, url, &["upgrade"]).code, Some(0));
        let user = db_.dialect().quote("user");
        let mut conn = dbmigrate::connect(&db_.url).unwrap();
        conn.batch_execute(&format!(
            "INSERT INTO {user} (username) VALUES ('ann');
             INSERT INTO {user} (username, email) VALUES ('bob', 'bob@example.com');
             INSERT INTO post (body, timestamp, user_id) VALUES ('a', '2025-01-01 10:00:00', 1);
             INSERT INTO post (body, timestamp, user_id) VALUES ('b', '2025-01-01 10:00:00', 1);"
        ))
        .unwrap();
        std::fs::write(dir.join("migrations/versions/b0b0b0b0b0b0_risky.toml"), RISKY).unwrap();

        let lint: Printed = db(dir, url, &["lint"]);
        assert_eq!(lint.code, Some(2), "{lint:?}");
        for expected in [
            "b0b0b0b0b0b0: error unique-over-duplicates: the unique constraint 'uq_post_timestamp' fails where values of (timestamp) repeat (1 here)",
            "b0b0b0b0b0b0: error not-null-on-nulls: making 'user.email' NOT NULL fails while rows hold NULL there (1 here)",
            "b0b0b0b0b0b0: error not-null-without-default: adding 'user.age' NOT NULL without a default fails on a table with rows (2 here)",
            "b0b0b0b0b0b0: error drop-column: dropping 'post.body' discards its values (2 here)",
        ] {
            assert!(lint.stdout.contains(expected), "{expected}\n{lint:?}");
        }
        let json: serde_json::Value = serde_json::from_str(&db(dir, url, &["lint", "--format", "json"]).stdout).unwrap();
        let errors = json.as_array().unwrap().iter().filter(|f| f["severity"] == "error").count();
        assert_eq!(errors, 4, "{json}");

        let check = db(dir, url, &["check"]);
        assert_eq!(check.code, Some(1), "{check:?}");
        assert!(check.stdout.contains("lint: b0b0b0b0b0b0: error drop-column"), "{check:?}");

        let offline = db(dir, url, &["lint", "--offline", "b0b0"]);
        assert_eq!(offline.code, Some(2), "dropping a column is an error even uncounted: {offline:?}");
        assert!(offline.stdout.contains("error drop-column: dropping 'post.body' discards its values;"), "{offline:?}");
        assert!(offline.stdout.contains("warning unique-over-duplicates"), "uncounted, a risk stays a warning: {offline:?}");
    }
}

#[test]
fn the_applications_own_revisions_leave_no_finding_open() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "sqlite:///app.db",
        "postgresql://nobody@127.0.0.1:1/x",
        "mysql://nobody@127.0.0.1:1/x",
    ] {
        let lint = db(dir.path(), url, &["lint", "--offline"]);
        assert_eq!(lint.code, Some(0), "{url}: {lint:?}");
    }
}
