//! `microblog db seed`: the same rows for the same seed on every database, users who can
//! log in, and nothing written when a seeded name is taken.

mod support;

use dbmigrate::on_each_database;
use dbmigrate::testing::TestDb;
use diesel::prelude::*;
use microblog::models::{post, user};
use support::site::visitor;
use support::{Server, db};

/// Every seeded row as text, in key order: usernames and emails, then each post's author,
/// time and body.
fn contents(db: &TestDb) -> Vec<String> {
    let mut conn = dbmigrate::connect(&db.url).expect("connect");
    let users: Vec<(Option<String>, Option<String>)> = user::table
        .order(user::id)
        .select((user::username, user::email))
        .load(&mut conn)
        .unwrap();
    let posts: Vec<(
        Option<String>,
        Option<chrono::NaiveDateTime>,
        Option<String>,
    )> = post::table
        .inner_join(user::table)
        .order(post::id)
        .select((user::username, post::timestamp, post::body))
        .load(&mut conn)
        .unwrap();
    users
        .into_iter()
        .map(|row| format!("{row:?}"))
        .chain(posts.into_iter().map(|row| format!("{row:?}")))
        .collect()
}

on_each_database! {
    fn seeding_writes_the_users_and_posts_asked_for_the_same_for_the_same_seed(db: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let seeded = support::db(dir.path(), &db.url_string(), &["seed", "--users", "7", "--posts", "40", "--seed", "3", "--batch", "16"]);
        assert_eq!(seeded.code, Some(0), "{seeded:?}");
        assert!(seeded.stdout.contains("\nSeeded 7 users and 40 posts in "), "{seeded:?}");
        let first = contents(db);
        assert_eq!(first.len(), 47);
        assert!(first[0].contains("\"user0001\"") && first[0].contains("user0001@example.com"), "{first:?}");

        let again = TestDb::new(db.dialect()).expect("a second database");
        let seeded = support::db(dir.path(), &again.url_string(), &["seed", "--users", "7", "--posts", "40", "--seed", "3"]);
        assert_eq!(seeded.code, Some(0), "{seeded:?}");
        assert_eq!(contents(&again), first, "same seed, same rows, whatever the batch");

        let other = TestDb::new(db.dialect()).expect("a third database");
        support::db(dir.path(), &other.url_string(), &["seed", "--users", "7", "--posts", "40", "--seed", "4"]);
        assert_ne!(contents(&other)[7..], first[7..], "another seed, other posts");
    }

    fn seeding_over_a_taken_username_writes_nothing(db: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let url = db.url_string();
        assert!(support::db(dir.path(), &url, &["seed", "--users", "2", "--posts", "5"]).code == Some(0));
        let before = contents(db);
        let refused = support::db(dir.path(), &url, &["seed", "--users", "3", "--posts", "5"]);
        assert_ne!(refused.code, Some(0));
        assert!(
            refused.stderr.contains("the database already has a user named user0001"),
            "{refused:?}"
        );
        assert_eq!(contents(db), before);
    }

    fn a_seeded_user_logs_in_with_the_seed_password(db: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let url = db.url_string();
        assert!(support::db(dir.path(), &url, &["seed", "--users", "1", "--posts", "3"]).code == Some(0));
        let server = Server::start(dir.path(), &url, &[]);
        let client = visitor(&server);
        client.log_in("user0001", microblog::seed::PASSWORD);
        let page = client.get("/index");
        assert!(page.body.contains("Hi, user0001!"), "{}", page.body);
        assert_eq!(page.body.matches("<article class=\"post\">").count(), 3);
    }
}

#[test]
fn posts_without_users_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let refused = db(
        dir.path(),
        "sqlite:///app.db",
        &["seed", "--users", "0", "--posts", "5"],
    );
    assert_ne!(refused.code, Some(0));
    assert!(refused.stderr.contains("posts need authors"), "{refused:?}");
}
