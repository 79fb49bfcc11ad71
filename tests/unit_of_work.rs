//! The session's guarantees: all or nothing, typed constraint errors, foreign keys enforced
//! and respected in the order of the statements, on each database.

use dbmigrate::ConstraintViolation;
use dbmigrate::on_each_database;
use dbmigrate::testing::TestDb;
use diesel::prelude::*;
use microblog::models::{post, user};
use microblog::{Database, DbError, Post, User};

fn fresh(db: &TestDb) -> Database {
    let mut database = Database::connect(&db.url).expect("connect");
    let built_in = microblog::migrations::built_in_chosen().expect("the built-in migrations");
    database.prepare(&built_in, |_| ()).expect("migrate");
    database
}

fn user_count(database: &mut Database) -> i64 {
    user::table
        .count()
        .get_result(database.session.conn())
        .unwrap()
}

fn stored_user(database: &mut Database, name: &str, email: &str) -> User {
    let pending = database.session.add(User::new(name, email));
    database.session.commit().unwrap();
    let id = database.session.id_of(pending).unwrap();
    database.session.get(id).unwrap().unwrap()
}

on_each_database! {
    fn a_commit_whose_second_insert_breaks_a_unique_username_writes_neither_row(db: &TestDb) {
        let mut database = fresh(db);
        stored_user(&mut database, "john", "john@example.com");

        database.session.add(User::new("amy", "amy@example.com"));
        database.session.add(User::new("john", "other@example.com"));
        let error = database.session.commit().unwrap_err();
        assert_eq!(
            error.violation(),
            Some(&ConstraintViolation::Unique {
                table: "user".into(),
                columns: vec!["username".into()],
                constraint: "ix_user_username".into(),
            }),
            "{error}"
        );
        assert_eq!(user_count(&mut database), 1, "amy must not have been written");

        database.session.rollback();
        assert!(!database.session.has_changes());
        let amy = database.session.add(User::new("amy", "amy@example.com"));
        database.session.commit().expect("the session works after rollback");
        assert!(database.session.id_of(amy).is_some());
        assert_eq!(user_count(&mut database), 2);
    }

    fn a_duplicate_email_names_the_email_constraint(db: &TestDb) {
        let mut database = fresh(db);
        stored_user(&mut database, "john", "john@example.com");
        database.session.add(User::new("johnny", "john@example.com"));
        let error = database.session.commit().unwrap_err();
        assert!(
            matches!(
                error.violation(),
                Some(ConstraintViolation::Unique { columns, constraint, .. })
                    if columns == &["email"] && constraint == "ix_user_email"
            ),
            "{error:?}"
        );
    }

    fn rollback_discards_what_was_not_committed(db: &TestDb) {
        let mut database = fresh(db);
        database.session.add(User::new("ghost", "ghost@example.com"));
        database.session.rollback();
        database.session.commit().unwrap();
        assert_eq!(user_count(&mut database), 0);
    }

    fn a_post_for_a_missing_author_is_refused_by_the_foreign_key(db: &TestDb) {
        let mut database = fresh(db);
        database.session.add(microblog::NewPost {
            user_id: Some(42),
            ..Post::new("nobody wrote this")
        });
        let error = database.session.commit().unwrap_err();
        assert!(
            matches!(error.violation(), Some(ConstraintViolation::ForeignKey { .. })),
            "{error:?}"
        );
        let posts: i64 = post::table.count().get_result(database.session.conn()).unwrap();
        assert_eq!(posts, 0);
    }

    fn deleting_an_author_who_still_has_posts_is_refused_and_keeps_both(db: &TestDb) {
        let mut database = fresh(db);
        let eve = stored_user(&mut database, "eve", "eve@example.com");
        database.session.add(Post::new("still here").author(&eve));
        database.session.commit().unwrap();
        database.session.delete(&eve);
        let error = database.session.commit().unwrap_err();
        assert!(
            matches!(error.violation(), Some(ConstraintViolation::ForeignKey { .. })),
            "{error:?}"
        );
        database.session.rollback();
        assert_eq!(user_count(&mut database), 1);
        assert_eq!(eve.posts().count().get_result::<i64>(database.session.conn()).unwrap(), 1);
    }

    fn an_update_is_written_at_commit(db: &TestDb) {
        let mut database = fresh(db);
        let mut fay = stored_user(&mut database, "fay", "fay@example.com");
        fay.email = Some("fay@example.org".into());
        database.session.update(&fay);
        database.session.commit().unwrap();
        let read: User = database.session.get(fay.id).unwrap().unwrap();
        assert_eq!(read.email.as_deref(), Some("fay@example.org"));
    }

    fn a_value_longer_than_its_column_is_refused_on_every_database(db: &TestDb) {
        let mut database = fresh(db);
        let gil = stored_user(&mut database, "gil", "gil@example.com");
        database.session.add(Post::new(&"x".repeat(141)).author(&gil));
        let error = database.session.commit().unwrap_err();
        assert!(
            matches!(error, DbError::TooLong { ref column, max: 140, actual: 141, .. } if column == &"body"),
            "{error:?}"
        );
        database.session.rollback();
        database.session.add(Post::new(&"é".repeat(140)).author(&gil));
        database.session.commit().expect("140 characters fit, even when they take 280 bytes");
    }
}
