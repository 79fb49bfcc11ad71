//! A database made by the Flask original, with the statements its own `flask db upgrade`
//! runs (recorded by scripts/record-flask-fixtures.sh), is taken over and brought to the
//! head by one `db upgrade`, on each database, every row kept. Revision ids prove nothing:
//! the Flask original's ids are not ours, and ids that happen to match are not trusted.

mod support;
use support::{Printed, db, microblog};

use diesel::connection::SimpleConnection;

use dbmigrate::Dialect;
use dbmigrate::on_each_database;
use dbmigrate::testing::TestDb;

/// The Flask original's database: its schema, its `alembic_version`, two users, two posts.
fn made_by_flask(test_db: &TestDb, alembic_ids: (&str, &str)) {
    let name = match test_db.dialect() {
        Dialect::Sqlite => "sqlite",
        Dialect::Postgres => "postgresql",
        Dialect::Mysql => "mysql",
    };
    let path = format!(
        "{}/tests/fixtures/flask-migrate/{name}.sql",
        env!("CARGO_MANIFEST_DIR")
    );
    let sql = std::fs::read_to_string(path)
        .unwrap()
        .replace("dc2db5d35bcf", alembic_ids.0)
        .replace("a6b7e2b5684d", alembic_ids.1);
    let mut conn = dbmigrate::connect(&test_db.url).unwrap();
    conn.batch_execute(&sql).unwrap();
    let user = test_db.dialect().quote("user");
    conn.batch_execute(&format!(
        "INSERT INTO {user} (username, email) VALUES ('john', 'john@example.com');
         INSERT INTO {user} (username, email) VALUES ('susan', 'susan@example.com');
         INSERT INTO post (body, timestamp, user_id) VALUES ('my first post!', '2025-01-01 10:00:00', 1);
         INSERT INTO post (body, timestamp, user_id) VALUES ('second', '2025-01-02 10:00:00', 1);"
    ))
    .unwrap();
}

fn exit(printed: Printed, code: i32) -> Printed {
    assert_eq!(printed.code, Some(code), "{printed:?}");
    printed
}

fn taken_over_in_place(test_db: &TestDb, alembic_ids: (&str, &str)) {
    made_by_flask(test_db, alembic_ids);
    let dir = tempfile::tempdir().unwrap();
    let (dir, url) = (dir.path(), &test_db.url_string());
    let shell =
        |code: &str| -> Printed { microblog(dir, Some(url), &["shell", "-c", code]).into() };

    let refused = exit(shell("User.query.count()"), 1);
    assert!(
        refused.stderr.contains("no migration history"),
        "{refused:?}"
    );
    assert!(
        refused
            .stderr
            .contains("run `microblog db upgrade` to take it over"),
        "{refused:?}"
    );

    let upgraded = exit(db(dir, url, &["upgrade"]), 0);
    assert!(
        upgraded.stderr.contains(&format!(
            "made by Alembic or Flask-Migrate, at their revision {}",
            alembic_ids.1
        )),
        "{upgraded:?}"
    );
    assert!(
        upgraded
            .stderr
            .contains("so it is taken over at that revision"),
        "{upgraded:?}"
    );

    let head = microblog::migrations::built_in()
        .unwrap()
        .head()
        .unwrap()
        .unwrap()
        .id
        .clone();
    assert_eq!(
        exit(db(dir, url, &["current"]), 0).stdout,
        format!("{head} (head)\n")
    );
    exit(db(dir, url, &["check"]), 0);
    let history = exit(db(dir, url, &["history", "-i"]), 0);
    assert!(history.stdout.contains("(head) (current)"), "{history:?}");

    assert_eq!(
        exit(shell("User.query.all()"), 0).stdout,
        "[<User john>, <User susan>]\n"
    );
    assert_eq!(
        exit(
            shell("User.query.get(1).posts.order_by(Post.timestamp.desc()).all()"),
            0
        )
        .stdout,
        "[<Post second>, <Post my first post!>]\n"
    );
    exit(db(dir, url, &["downgrade", "base"]), 0);
    exit(db(dir, url, &["upgrade"]), 0);
}

on_each_database! {
    fn a_database_made_by_the_flask_original_is_taken_over_and_upgraded(db: &TestDb) {
        taken_over_in_place(db, ("dc2db5d35bcf", "a6b7e2b5684d"));
    }

    fn a_flask_database_carrying_the_chapters_ids_is_taken_over_by_its_schema(db: &TestDb) {
        taken_over_in_place(db, ("e517276bb1c2", "780739b227a7"));
    }

    fn a_flask_database_whose_schema_is_no_revision_is_refused_and_left_alone(test_db: &TestDb) {
        made_by_flask(test_db, ("dc2db5d35bcf", "a6b7e2b5684d"));
        let mut conn = dbmigrate::connect(&test_db.url).unwrap();
        conn.batch_execute("ALTER TABLE post ADD COLUMN language VARCHAR(5)").unwrap();
        let before = dbmigrate::inspect::inspect(&mut conn).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let refused = exit(db(dir.path(), &test_db.url_string(), &["upgrade"]), 1);
        assert!(refused.stderr.contains("its schema is that of no revision"), "{refused:?}");
        assert!(refused.stderr.contains("removed column 'post.language'"), "{refused:?}");
        assert_eq!(dbmigrate::inspect::inspect(&mut conn).unwrap(), before);
    }
}

on_each_database! {
    fn a_flask_database_is_taken_over_at_a_revision_a_squash_replaced(test_db: &TestDb) {
        made_by_flask(test_db, ("e517276bb1c2", "780739b227a7"));
        let dir = tempfile::tempdir().unwrap();
        let (dir, url) = (dir.path(), &test_db.url_string());
        support::copy_of_app_repository(dir);
        exit(db(dir, url, &["squash", "e517", "1047", "-m", "chapter 4"]), 0);

        let upgraded = exit(db(dir, url, &["upgrade"]), 0);
        assert!(upgraded.stderr.contains("taken over at that revision"), "{upgraded:?}");
        assert!(
            upgraded.stdout.contains("Running upgrade 780739b227a7 -> 1047ef9144ea, index post.user_id"),
            "the rest of the squashed run, from its file: {upgraded:?}"
        );
        assert!(exit(db(dir, url, &["current"]), 0).stdout.ends_with("(head)\n"));
        exit(db(dir, url, &["check"]), 0);
        let users: Printed = microblog(dir, Some(url), &["shell", "-c", "User.query.count()"]).into();
        assert_eq!(exit(users, 0).stdout, "2\n");
    }
}
