//! Pages kept for anonymous visitors (answered with `X-Cache: hit`) are never older than
//! the data: on SQLite a change made by anyone shows at once; on PostgreSQL and MySQL a
//! change made anywhere (another instance, another program) shows on every instance within
//! the bound `STALE_AT_MOST` (1 s), and an instance that cannot tell renders pages afresh.
//! Logged-in visitors' users, kept on PostgreSQL and MySQL under the same versions, follow
//! the same bound: a logout on one instance ends the session's copies on the others.

mod support;

use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;

use dbmigrate::testing::{TestDb, on};
use dbmigrate::{Dialect, on_each_database};

use support::site::{Client, signed_up, start, visitor};

/// The staleness bound PostgreSQL's and MySQL's instances keep to.
const STALE_AT_MOST: Duration = Duration::from_secs(1);

fn kept(client: &Client) -> bool {
    let page = client.get("/index");
    assert_eq!(page.status, 200);
    page.headers
        .get("x-cache")
        .is_some_and(|v| v.as_bytes() == b"hit")
}

/// Reads /index until it is answered from the kept pages, for at most a few seconds.
fn comes_to_be_kept(client: &Client) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if kept(client) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Once the staleness bound has passed since `text` was written, the next view shows it.
fn shown_after_the_bound(reader: &Client, text: &str) {
    std::thread::sleep(STALE_AT_MOST);
    let page = reader.get("/index");
    assert!(page.body.contains(text), "{}", page.body);
}

/// A post written by another program, straight into the database.
fn written_elsewhere(db: &TestDb, body: &str) {
    let mut conn = dbmigrate::connect(&db.url).unwrap();
    diesel::sql_query(format!("INSERT INTO post (body) VALUES ('{body}')"))
        .execute(&mut conn)
        .unwrap();
}

on_each_database! {
    fn an_anonymous_page_is_kept_until_the_data_changes_wherever_it_changes(db: &TestDb) {
        let (server, _dir) = start(db, &[]);
        let reader = visitor(&server);
        assert!(comes_to_be_kept(&reader));
        written_elsewhere(db, "written by another program");
        if db.dialect() != Dialect::Sqlite {
            std::thread::sleep(STALE_AT_MOST);
        }
        let page = reader.get("/index");
        assert!(page.body.contains("written by another program"), "{}", page.body);
        assert!(comes_to_be_kept(&reader), "kept again, with the change");
    }
}

fn two_instances(db: &TestDb) {
    let (first, _first_dir) = start(db, &[]);
    let (second, _second_dir) = start(db, &[]);
    let reader = visitor(&second);
    assert!(comes_to_be_kept(&reader));
    let writer = signed_up(&first, "ann");
    assert_eq!(
        writer.write("posted through the first instance").status,
        303
    );
    shown_after_the_bound(&reader, "posted through the first instance");
}

#[test]
fn a_post_through_one_instance_shows_on_anothers_next_anonymous_view_within_the_bound() {
    on(Dialect::Postgres, two_instances);
    on(Dialect::Mysql, two_instances);
}

fn listener_lost(db: &TestDb) {
    let (server, _dir) = start(db, &[]);
    let reader = visitor(&server);
    assert!(comes_to_be_kept(&reader));
    let mut conn = dbmigrate::connect(&db.url).unwrap();
    // The change below is missed: nobody watches when it is made.
    if db.dialect() == Dialect::Postgres {
        conn.batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = 'microblog page changes' AND datname = current_database()",
        )
        .unwrap();
    } else {
        // MySQL names no connection's program: every other connection to the database goes.
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            id: i64,
        }
        let others: Vec<Id> = diesel::sql_query(
            "SELECT CAST(ID AS SIGNED) AS id FROM information_schema.PROCESSLIST \
             WHERE DB = DATABASE() AND ID <> CONNECTION_ID()",
        )
        .load(&mut conn)
        .unwrap();
        for other in others {
            let _ = conn.batch_execute(&format!("KILL {}", other.id));
        }
    }
    written_elsewhere(db, "written while nobody listened");
    // On MySQL the site's own sessions were cut too: a page the database cannot answer is
    // an error page while the site reconnects, never a stale one.
    std::thread::sleep(STALE_AT_MOST);
    let mut served = 0;
    for _ in 0..50 {
        let page = reader.get("/index");
        if page.status == 200 {
            assert!(
                page.body.contains("written while nobody listened"),
                "{}",
                page.body
            );
            served += 1;
            if served == 3 {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the site did not answer again");
}

#[test]
fn a_lost_watcher_means_pages_rendered_afresh_not_stale_ones() {
    on(Dialect::Postgres, listener_lost);
    on(Dialect::Mysql, listener_lost);
}

fn without_triggers(db: &TestDb) {
    let (server, _dir) = start(db, &[]);
    let reader = visitor(&server);
    assert!(comes_to_be_kept(&reader));
    let mut conn = dbmigrate::connect(&db.url).unwrap();
    conn.batch_execute(match db.dialect() {
        Dialect::Postgres => "ALTER TABLE post DISABLE TRIGGER post_data_changed",
        _ => "DROP TRIGGER post_data_inserted",
    })
    .unwrap();
    std::thread::sleep(STALE_AT_MOST);
    assert!(
        !comes_to_be_kept(&reader),
        "without the trigger, changes go unheard"
    );
    written_elsewhere(db, "written without a notification");
    let page = reader.get("/index");
    assert!(
        page.body.contains("written without a notification"),
        "{}",
        page.body
    );
}

#[test]
fn a_database_without_the_triggers_keeps_no_pages() {
    on(Dialect::Postgres, without_triggers);
    on(Dialect::Mysql, without_triggers);
}

fn logout_elsewhere(db: &TestDb) {
    let (first, _first_dir) = start(db, &[]);
    let (second, _second_dir) = start(db, &[]);
    let laptop = signed_up(&first, "ann");
    let copy = support::site::copy_of(&laptop, &second);
    assert!(
        comes_to_be_kept(&visitor(&second)),
        "the second instance hears changes"
    );
    for _ in 0..3 {
        assert!(
            copy.get("/index").body.contains("Hi, ann!"),
            "the copy holds until logout"
        );
    }
    laptop.follow(laptop.log_out());
    std::thread::sleep(STALE_AT_MOST);
    let page = copy.get("/index");
    assert!(!page.body.contains("Hi, ann!"), "{}", page.body);
}

#[test]
fn a_logout_on_one_instance_ends_the_sessions_copies_on_another_within_the_bound() {
    on(Dialect::Sqlite, logout_elsewhere);
    on(Dialect::Postgres, logout_elsewhere);
    on(Dialect::Mysql, logout_elsewhere);
}
