//! The tutorial's next models on the engine: from a database at the chapter 4 head,
//! autogenerate finds exactly chapter 6's columns and chapter 8's association table, and
//! the revision it writes goes up and down on each database with every row kept.

use std::path::Path;
use std::process::Command;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use dbmigrate::model::Session;
use dbmigrate::on_each_database;
use followers::{APPLICATION, User, schema};

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn followers_db(dir: &Path, url: &str, args: &[&str]) -> Ran {
    let output = Command::new(env!("CARGO_BIN_EXE_followers"))
        .arg("db")
        .args(args)
        .current_dir(dir)
        .env("DATABASE_URL", url)
        .env_remove("MIGRATIONS_DIR")
        .output()
        .expect("the example runs");
    let ran = Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert_eq!(ran.code, Some(0), "followers db {args:?}: {ran:?}");
    ran
}

/// A repository at the chapter 4 models: microblog's fixture of its three revisions.
fn chapter_4_repository(dir: &Path) {
    let source =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/chapter4/versions");
    let target = dir.join("migrations/versions");
    std::fs::create_dir_all(&target).unwrap();
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, target.join(path.file_name().unwrap())).unwrap();
    }
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Row {
    #[diesel(sql_type = Text)]
    username: String,
    #[diesel(sql_type = Nullable<Text>)]
    body: Option<String>,
    #[diesel(sql_type = BigInt)]
    posts: i64,
}

/// Every user with their post and post count, to tell that no row was lost.
fn rows(conn: &mut dbmigrate::AnyConnection) -> Vec<Row> {
    let q = |name: &str| conn.dialect().quote(name);
    let sql = format!(
        "SELECT u.username AS username, MAX(p.body) AS body, CAST(COUNT(p.id) AS SIGNED) AS posts \
         FROM {} u LEFT JOIN {} p ON p.user_id = u.id GROUP BY u.username ORDER BY u.username",
        q("user"),
        q("post")
    );
    let sql = if conn.dialect() == dbmigrate::Dialect::Mysql {
        sql
    } else {
        sql.replace("AS SIGNED", "AS BIGINT")
    };
    diesel::sql_query(sql).load(conn).unwrap()
}

on_each_database! {
    fn autogenerate_from_the_chapter_4_head_finds_the_new_columns_and_table_and_keeps_every_row(db: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let (dir, url) = (dir.path(), db.url_string());
        chapter_4_repository(dir);
        followers_db(dir, &url, &["upgrade"]);
        let mut conn = dbmigrate::connect(&db.url).unwrap();
        let user = conn.dialect().quote("user");
        conn.batch_execute(&format!(
            "INSERT INTO {user} (username, email) VALUES ('john', 'john@example.com'), ('susan', 'susan@example.com');
             INSERT INTO post (body, user_id) VALUES ('my first post!', 1);"
        )).unwrap();
        let before = rows(&mut conn);

        let migrated = followers_db(dir, &url, &["migrate", "-m", "followers"]);
        let detected: Vec<&str> = migrated.stdout.lines().filter(|l| l.starts_with("Detected")).collect();
        assert_eq!(detected, [
            "Detected added table 'followers'",
            "Detected added column 'user.session_generation'",
            "Detected added column 'user.username_key'",
            "Detected added column 'user.about_me'",
            "Detected added column 'user.last_seen'",
            "Detected added index 'ix_user_username_key' on '[\"username_key\"]'",
            "Detected removed index 'ix_post_user_id' on 'post'",
            "Detected added index 'ix_post_user_id_timestamp' on '[\"user_id\", \"timestamp\"]'",
        ], "{migrated:?}");

        followers_db(dir, &url, &["upgrade"]);
        assert_eq!(rows(&mut conn), before);
        let no_changes = followers_db(dir, &url, &["migrate", "-m", "again"]);
        assert!(no_changes.stdout.contains("No changes in schema detected."), "{no_changes:?}");
        let catalog = dbmigrate::inspect::inspect(&mut conn).unwrap();
        assert!(dbmigrate::compare::compare(&catalog, schema(), Default::default()).is_empty());

        followers_db(dir, &url, &["downgrade"]);
        assert_eq!(rows(&mut conn), before);
        let catalog = dbmigrate::inspect::inspect(&mut conn).unwrap();
        assert!(catalog.table("followers").is_none());
        assert!(catalog.table("user").unwrap().find_column("about_me").is_none());
        followers_db(dir, &url, &["upgrade"]);
        assert_eq!(rows(&mut conn), before);
    }

    fn users_follow_and_unfollow_each_other_through_the_association_table(db: &TestDb) {
        let mut conn = dbmigrate::connect(&db.url).unwrap();
        let repository = APPLICATION.built_in_repository().unwrap();
        dbmigrate::migrate::upgrade(&mut conn, &db.url, &repository, &dbmigrate::UpgradeTarget::Head, |_| ()).unwrap();
        let mut session = Session::new(conn, schema());
        for name in ["john", "susan", "mary"] {
            session.add(User::new(name, &format!("{name}@example.com")));
        }
        session.commit().unwrap();
        let named = |s: &mut Session, name: &str| User::named(s.conn(), name).unwrap().unwrap();
        let (john, susan, mary) = (named(&mut session, "john"), named(&mut session, "susan"), named(&mut session, "mary"));
        assert!(john.last_seen.is_some(), "last_seen takes its default when written");

        john.follow(&mut session, &susan).unwrap();
        john.follow(&mut session, &mary).unwrap();
        mary.follow(&mut session, &john).unwrap();
        session.commit().unwrap();
        john.follow(&mut session, &susan).unwrap();
        session.commit().expect("following twice is not an error");

        let names = |users: Vec<User>| users.into_iter().map(|u| u.username.unwrap()).collect::<Vec<_>>();
        let order = followers::models::user::username.asc();
        let conn = session.conn();
        assert_eq!(names(john.following().order(order).load(conn).unwrap()), ["mary", "susan"]);
        assert_eq!(names(john.followers().order(order).load(conn).unwrap()), ["mary"]);
        assert_eq!(names(susan.followers().order(order).load(conn).unwrap()), ["john"]);
        assert!(susan.following().load::<User>(conn).unwrap().is_empty());

        john.unfollow(&mut session, &susan).unwrap();
        session.commit().unwrap();
        let conn = session.conn();
        assert!(!john.is_following(conn, &susan).unwrap());
        assert!(john.is_following(conn, &mary).unwrap());
        assert!(susan.followers().load::<User>(conn).unwrap().is_empty());
    }
}

#[test]
fn the_built_in_migrations_build_exactly_the_models_schema() {
    let repository = APPLICATION.built_in_repository().unwrap();
    let all = repository.graph().order().iter().cloned().collect();
    let built = dbmigrate::migrate::replay(&repository, &all).unwrap();
    assert_eq!(built.canonical(), schema().canonical());
}

on_each_database! {
    fn every_column_of_every_model_filters_and_orders(db: &TestDb) {
        let mut conn = dbmigrate::connect(&db.url).unwrap();
        let repository = APPLICATION.built_in_repository().unwrap();
        dbmigrate::migrate::upgrade(&mut conn, &db.url, &repository, &dbmigrate::UpgradeTarget::Head, |_| ()).unwrap();
        let mut session = Session::new(conn, schema());
        dbmigrate::testing::assert_every_column_filters_and_orders(&followers::models::MODELS, &mut session);
    }
}
