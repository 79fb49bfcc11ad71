//! Pages kept for anonymous visitors (answered with `X-Cache: hit`) are never older than
//! the data: on SQLite a change made by anyone shows at once; on PostgreSQL a change made
//! anywhere (another instance, another program) shows on every instance within the bound
//! `STALE_AT_MOST` (1 s), and an instance that cannot tell renders pages afresh. MySQL keeps
//! no pages. Logged-in visitors' users, kept on PostgreSQL under the same versions, follow
//! the same bound: a logout on one instance ends the session's copies on the others.

mod support;

use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;

use dbmigrate::testing::{TestDb, on};
use dbmigrate::{Dialect, on_each_database};

use support::site::{Client, signed_up, start, visitor};

/// The staleness bound PostgreSQL's instances keep to.
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
        if db.dialect() == Dialect::Mysql {
            assert!(!comes_to_be_kept(&reader), "MySQL has no marker of change: nothing is kept");
            return;
        }
        assert!(comes_to_be_kept(&reader));
        written_elsewhere(db, "written by another program");
        if db.dialect() == Dialect::Postgres {
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
}

fn listener_lost(db: &TestDb) {
    let (server, _dir) = start(db, &[]);
    let reader = visitor(&server);
    assert!(comes_to_be_kept(&reader));
    let mut conn = dbmigrate::connect(&db.url).unwrap();
    // The notification of the post below is lost: nobody listens when it is sent.
    conn.batch_execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'microblog page changes' AND datname = current_database()",
    )
    .unwrap();
    written_elsewhere(db, "written while nobody listened");
    shown_after_the_bound(&reader, "written while nobody listened");
}

#[test]
fn a_lost_listener_on_postgresql_means_pages_rendered_afresh_not_stale_ones() {
    on(Dialect::Postgres, listener_lost);
}

fn without_triggers(db: &TestDb) {
    let (server, _dir) = start(db, &[]);
    let reader = visitor(&server);
    assert!(comes_to_be_kept(&reader));
    let mut conn = dbmigrate::connect(&db.url).unwrap();
    conn.batch_execute("ALTER TABLE post DISABLE TRIGGER post_data_changed")
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
fn a_postgresql_database_without_the_triggers_keeps_no_pages() {
    on(Dialect::Postgres, without_triggers);
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
    on(Dialect::Postgres, logout_elsewhere);
}
