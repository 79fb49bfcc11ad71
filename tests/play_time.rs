//! The chapter's "Play Time" session, against the library, on each database.

use dbmigrate::on_each_database;
use dbmigrate::testing::TestDb;
use diesel::prelude::*;
use microblog::models::{post, user};
use microblog::{Database, Post, User};

fn fresh(db: &TestDb) -> Database {
    let mut database = Database::connect(&db.url).expect("connect");
    let built_in = microblog::migrations::built_in_chosen().expect("the built-in migrations");
    database.prepare(&built_in, |_| ()).expect("migrate");
    database
}

fn shown<T: std::fmt::Display>(items: &[T]) -> String {
    let items: Vec<String> = items.iter().map(ToString::to_string).collect();
    format!("[{}]", items.join(", "))
}

on_each_database! {
    fn the_chapters_session_gives_the_chapters_answers(db: &TestDb) {
        let mut database = fresh(db);
        let s = &mut database.session;

        let john = s.add(User::new("john", "john@example.com"));
        s.commit().unwrap();
        let susan = s.add(User::new("susan", "susan@example.com"));
        s.commit().unwrap();
        assert_eq!((s.id_of(john), s.id_of(susan)), (Some(1), Some(2)));

        let users: Vec<User> = User::query().order(user::id).load(s.conn()).unwrap();
        assert_eq!(shown(&users), "[<User john>, <User susan>]");
        let listed: Vec<String> = users
            .iter()
            .map(|u| format!("{} {}", u.id, u.username.as_deref().unwrap()))
            .collect();
        assert_eq!(listed, ["1 john", "2 susan"]);

        let u: User = s.get(1).unwrap().expect("user 1");
        assert_eq!(u.to_string(), "<User john>");

        s.add(Post::new("my first post!").author(&u));
        s.commit().unwrap();

        let posts: Vec<Post> = u.posts().load(s.conn()).unwrap();
        assert_eq!(shown(&posts), "[<Post my first post!>]");
        let susan: User = s.get(2).unwrap().expect("user 2");
        assert_eq!(susan.posts().load::<Post>(s.conn()).unwrap(), vec![]);

        let mut lines = Vec::new();
        for p in Post::query().load::<Post>(s.conn()).unwrap() {
            let author = p.author(s.conn()).unwrap().expect("author");
            lines.push(format!(
                "{} {} {}",
                p.id,
                author.username.unwrap(),
                p.body.unwrap()
            ));
        }
        assert_eq!(lines, ["1 john my first post!"]);

        let reversed: Vec<User> = User::query().order(user::username.desc()).load(s.conn()).unwrap();
        assert_eq!(shown(&reversed), "[<User susan>, <User john>]");

        // The chapter deletes the users before the posts; the commit orders it the other way.
        for u in User::query().load::<User>(s.conn()).unwrap() {
            s.delete(&u);
        }
        for p in Post::query().load::<Post>(s.conn()).unwrap() {
            s.delete(&p);
        }
        s.commit().unwrap();
        assert_eq!(user::table.count().get_result::<i64>(s.conn()).unwrap(), 0);
        assert_eq!(post::table.count().get_result::<i64>(s.conn()).unwrap(), 0);
    }

    fn a_post_made_from_a_pending_author_is_written_after_it(db: &TestDb) {
        let mut database = fresh(db);
        let s = &mut database.session;
        // The post is added first, its author second: the commit still inserts the author first.
        let author = User::new("ann", "ann@example.com");
        let post_first = Post::new("hello");
        let ann = s.add(author);
        let post = s.add(post_first.author(ann));
        s.commit().unwrap();
        let stored: Post = s.get(s.id_of(post).unwrap()).unwrap().unwrap();
        assert_eq!(stored.user_id, s.id_of(ann));
    }

    fn a_users_posts_stay_a_query_that_can_be_refined(db: &TestDb) {
        let mut database = fresh(db);
        let s = &mut database.session;
        let bob = s.add(User::new("bob", "bob@example.com"));
        s.commit().unwrap();
        let bob: User = s.get(s.id_of(bob).unwrap()).unwrap().unwrap();
        for n in 1..=5 {
            s.add(Post::new(&format!("post {n}")).author(&bob));
        }
        s.commit().unwrap();
        assert_eq!(bob.posts().count().get_result::<i64>(s.conn()).unwrap(), 5);
        let page: Vec<Post> = bob
            .posts()
            .filter(post::body.ne("post 3"))
            .order(post::id.desc())
            .limit(2)
            .offset(1)
            .load(s.conn())
            .unwrap();
        assert_eq!(shown(&page), "[<Post post 4>, <Post post 2>]");
    }

    fn timestamps_default_to_now_and_read_back_as_the_same_utc_instant(db: &TestDb) {
        let mut database = fresh(db);
        let s = &mut database.session;
        let before = microblog::models::utc_now();
        let cal = s.add(User::new("cal", "cal@example.com"));
        s.commit().unwrap();
        let cal: User = s.get(s.id_of(cal).unwrap()).unwrap().unwrap();
        let defaulted = s.add(Post::new("now").author(&cal));
        let exact = chrono::NaiveDate::from_ymd_opt(2025, 3, 1)
            .unwrap()
            .and_hms_micro_opt(12, 34, 56, 789_012)
            .unwrap();
        let explicit = s.add(microblog::NewPost {
            timestamp: Some(exact),
            ..Post::new("then").author(&cal)
        });
        s.commit().unwrap();
        let after = microblog::models::utc_now();
        let read: Post = s.get(s.id_of(defaulted).unwrap()).unwrap().unwrap();
        let stamp = read.timestamp.expect("a default timestamp");
        assert!(before <= stamp && stamp <= after, "{before} <= {stamp} <= {after}");
        let read: Post = s.get(s.id_of(explicit).unwrap()).unwrap().unwrap();
        assert_eq!(read.timestamp, Some(exact));
    }

    fn the_index_query_gives_the_newest_posts_with_their_authors(db: &TestDb) {
        let mut database = fresh(db);
        let s = &mut database.session;
        let dee = s.add(User::new("dee", "dee@example.com"));
        s.commit().unwrap();
        let dee: User = s.get(s.id_of(dee).unwrap()).unwrap().unwrap();
        let day = |d| chrono::NaiveDate::from_ymd_opt(2025, 1, d).unwrap().and_hms_opt(0, 0, 0).unwrap();
        for (body, d) in [("old", 1), ("newest", 3), ("middle", 2)] {
            s.add(microblog::NewPost { timestamp: Some(day(d)), ..Post::new(body).author(&dee) });
        }
        s.add(Post::new("orphan"));
        s.commit().unwrap();
        let rows = Post::newest_with_authors(s.conn(), 3, 0).unwrap();
        let shown: Vec<String> = rows
            .iter()
            .map(|(p, a)| format!("{} by {}", p, a.as_deref().unwrap_or("nobody")))
            .collect();
        assert_eq!(shown, ["<Post orphan> by nobody", "<Post newest> by dee", "<Post middle> by dee"]);
    }
}
