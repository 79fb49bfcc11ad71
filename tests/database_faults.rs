//! The database misbehaving under the site: it goes away and comes back, or stops
//! answering. Meanwhile every page answers within `DB_TIMEOUT` (503, in the site's
//! layout), the pages that need no database are served as usual, and the site recovers by
//! itself when the database is back, with the sessions it had.

mod support;

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use dbmigrate::Dialect;
use dbmigrate::testing::{TestDb, on};

use support::Server;
use support::proxy::Proxy;
use support::site::{Client, signed_up};

/// `url` with its host and port replaced by the proxy's; and the address it named.
fn through_proxy(url: &str, proxy: impl FnOnce(SocketAddr) -> Proxy) -> (String, Proxy) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (credentials, rest) = rest.rsplit_once('@').map_or(("", rest), |(c, r)| (c, r));
    let (host_port, path) = rest.split_once('/').unwrap();
    let target = host_port.to_socket_addrs().unwrap().next().unwrap();
    let proxy = proxy(target);
    let at = if credentials.is_empty() {
        String::new()
    } else {
        format!("{credentials}@")
    };
    (
        format!("{scheme}://{at}127.0.0.1:{}/{path}", proxy.port),
        proxy,
    )
}

fn site_through_proxy(db: &TestDb) -> (Server, Proxy, tempfile::TempDir) {
    let (url, proxy) = through_proxy(&db.url_string(), Proxy::to);
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &url,
        &[("DB_TIMEOUT", "2"), ("DB_POOL_SIZE", "4")],
    );
    (server, proxy, dir)
}

/// Several requests at once, so that the pool holds several connections.
fn fill_the_pool(client: &Client) {
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| assert_eq!(client.get("/index").status, 200));
        }
    });
}

/// Requests `/index` five times a second until one succeeds; how long that took.
fn time_to_recover(client: &Client) -> Duration {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if client.get("/index").status == 200 {
            return started.elapsed();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("the site did not recover within 30 s");
}

fn answered_in_time(client: &Client, path: &str) -> (u16, Duration) {
    let started = Instant::now();
    let status = client.get(path).status;
    (status, started.elapsed())
}

fn the_database_going_away_and_coming_back(db: &TestDb) {
    let (server, proxy, _dir) = site_through_proxy(db);
    let ann = signed_up(&server, "ann");
    fill_the_pool(&ann);

    proxy.go_down();
    for _ in 0..3 {
        let (status, took) = answered_in_time(&ann, "/index");
        assert_eq!(status, 503);
        assert!(took < Duration::from_secs(8), "{took:?}");
    }
    let page = ann.get("/user/ann");
    assert_eq!(page.status, 503);
    assert!(
        page.body.contains("<title>") && page.body.contains("cannot reach its database"),
        "{}",
        page.body
    );
    assert_eq!(ann.get("/static/style.css").status, 200);

    proxy.come_back();
    let recovered = time_to_recover(&ann);
    assert!(
        recovered < Duration::from_secs(5),
        "recovered after {recovered:?}"
    );
    for _ in 0..10 {
        let page = ann.get("/index");
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains("Hi, ann!"),
            "the session outlived the outage"
        );
    }
    assert_eq!(ann.write("after the outage").status, 303);
}

fn the_database_no_longer_answering(db: &TestDb) {
    let (server, proxy, _dir) = site_through_proxy(db);
    let ann = signed_up(&server, "ann");
    fill_the_pool(&ann);

    proxy.freeze();
    std::thread::scope(|scope| {
        for _ in 0..6 {
            scope.spawn(|| {
                let (status, took) = answered_in_time(&ann, "/index");
                assert_eq!(status, 503);
                assert!(took < Duration::from_secs(8), "{took:?}");
            });
        }
    });
    let (status, took) = answered_in_time(&ann, "/static/style.css");
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(1), "{took:?}");

    proxy.come_back();
    let recovered = time_to_recover(&ann);
    assert!(
        recovered < Duration::from_secs(5),
        "recovered after {recovered:?}"
    );
    assert_eq!(ann.write("after the freeze").status, 303);
}

#[test]
fn the_site_recovers_by_itself_when_postgresql_comes_back() {
    on(Dialect::Postgres, the_database_going_away_and_coming_back);
}

#[test]
fn the_site_recovers_by_itself_when_mariadb_comes_back() {
    on(Dialect::Mysql, the_database_going_away_and_coming_back);
}

#[test]
fn a_postgresql_server_that_stops_answering_costs_each_page_at_most_the_timeout() {
    on(Dialect::Postgres, the_database_no_longer_answering);
}

#[test]
fn a_mariadb_server_that_stops_answering_costs_each_page_at_most_the_timeout() {
    on(Dialect::Mysql, the_database_no_longer_answering);
}

/// Another process holding SQLite's write lock, for `held`.
fn hold_the_write_lock(db: &TestDb, held: Duration) -> std::thread::JoinHandle<()> {
    use diesel::connection::SimpleConnection;
    let mut other = dbmigrate::connect(&db.url).unwrap();
    other.batch_execute("BEGIN IMMEDIATE").unwrap();
    std::thread::spawn(move || {
        std::thread::sleep(held);
        other.batch_execute("COMMIT").unwrap();
    })
}

#[test]
fn writers_waiting_for_a_sqlite_lock_do_not_hold_up_other_requests() {
    let db = TestDb::new(Dialect::Sqlite).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &db.url_string(), &[("DB_TIMEOUT", "10")]);
    let writers: Vec<Client> = ["ann", "bob", "cid", "dee"]
        .iter()
        .map(|name| signed_up(&server, name))
        .collect();
    let reader = support::site::visitor(&server);

    let lock = hold_the_write_lock(&db, Duration::from_secs(2));
    std::thread::scope(|scope| {
        let posting: Vec<_> = writers
            .iter()
            .map(|writer| scope.spawn(move || writer.write("written while locked").status))
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        for path in ["/static/style.css", "/index", "/user/ann"] {
            let (status, took) = answered_in_time(&reader, path);
            assert_eq!(status, 200, "{path}");
            assert!(took < Duration::from_millis(1000), "{path} took {took:?}");
        }
        for posted in posting {
            assert_eq!(
                posted.join().unwrap(),
                303,
                "each post waits for the lock, then is written"
            );
        }
    });
    lock.join().unwrap();
    assert_eq!(support::site::rows(&db, "post"), 4);
}

#[test]
fn a_sqlite_lock_held_past_the_timeout_is_answered_503_and_nothing_is_half_written() {
    let db = TestDb::new(Dialect::Sqlite).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &db.url_string(), &[("DB_TIMEOUT", "1")]);
    let ann = signed_up(&server, "ann");
    let lock = hold_the_write_lock(&db, Duration::from_secs(4));
    let (status, took) = {
        let started = Instant::now();
        (ann.write("too late").status, started.elapsed())
    };
    assert_eq!(status, 503);
    assert!(took < Duration::from_secs(4), "{took:?}");
    lock.join().unwrap();
    assert_eq!(support::site::rows(&db, "post"), 0);
    assert_eq!(ann.write("in time").status, 303);
}

#[test]
fn writers_queued_behind_a_sqlite_lock_are_each_answered_within_the_timeout_of_their_arrival() {
    let db = TestDb::new(Dialect::Sqlite).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &db.url_string(), &[("DB_TIMEOUT", "2")]);
    let writers: Vec<Client> = ["ann", "bob", "cid"]
        .iter()
        .map(|name| signed_up(&server, name))
        .collect();
    let lock = hold_the_write_lock(&db, Duration::from_secs(8));
    std::thread::scope(|scope| {
        let posting: Vec<_> = writers
            .iter()
            .map(|writer| {
                scope.spawn(move || {
                    let started = Instant::now();
                    let status = writer.write("queued behind the lock").status;
                    (status, started.elapsed())
                })
            })
            .collect();
        for posted in posting {
            let (status, took) = posted.join().unwrap();
            assert_eq!(status, 503);
            assert!(
                took < Duration::from_secs(3),
                "answered {took:?} after it arrived, with DB_TIMEOUT at 2 s"
            );
        }
    });
    lock.join().unwrap();
    assert_eq!(support::site::rows(&db, "post"), 0);
}
