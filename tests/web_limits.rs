//! Clients that do not behave: silent, slow, too many at once. The server stays reachable
//! for everyone else.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use dbmigrate::testing::TestDb;

use support::Server;
use support::site::{start, visitor};

fn connect(base: &str) -> TcpStream {
    let stream = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// Reads until the server closes the connection; what it sent, and how long that took.
fn until_closed(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    (
        String::from_utf8_lossy(&received).into_owned(),
        started.elapsed(),
    )
}

#[test]
fn a_client_that_sends_nothing_is_disconnected_after_the_client_timeout() {
    let db = TestDb::new(dbmigrate::Dialect::Sqlite).unwrap();
    let (server, _dir) = start(&db, &[("CLIENT_TIMEOUT", "1")]);
    let mut silent = connect(&server.base);
    let (_, waited) = until_closed(&mut silent);
    assert!(
        waited < Duration::from_secs(15),
        "still open after {waited:?}"
    );

    let mut half_a_head = connect(&server.base);
    half_a_head
        .write_all(b"GET /index HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let (_, waited) = until_closed(&mut half_a_head);
    assert!(
        waited < Duration::from_secs(15),
        "still open after {waited:?}"
    );
}

#[test]
fn silent_connections_beyond_what_the_process_may_open_do_not_lock_out_other_visitors() {
    let db = TestDb::new(dbmigrate::Dialect::Sqlite).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_file_limit(
        dir.path(),
        &db.url_string(),
        &[("CLIENT_TIMEOUT", "1")],
        128,
    );
    let squatters: Vec<TcpStream> = (0..200).map(|_| connect(&server.base)).collect();
    let page = visitor(&server).get("/index");
    assert_eq!(page.status, 200, "{}", page.body);
    drop(squatters);
}

#[test]
fn a_form_sent_too_slowly_is_dropped_with_a_page_in_the_sites_layout() {
    let db = TestDb::new(dbmigrate::Dialect::Sqlite).unwrap();
    let (server, _dir) = start(&db, &[("REQUEST_TIMEOUT", "1")]);
    let mut slow = connect(&server.base);
    slow.write_all(
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nusername=a",
    )
    .unwrap();
    let (answer, _) = until_closed(&mut slow);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.contains("<title>") && answer.contains("Too slow"),
        "{answer}"
    );
}

#[test]
fn idle_connections_at_the_cap_make_room_for_a_visitor_at_once() {
    let db = TestDb::new(dbmigrate::Dialect::Sqlite).unwrap();
    let (server, _dir) = start(&db, &[("MAX_CONNECTIONS", "20"), ("CLIENT_TIMEOUT", "60")]);
    // Three times the cap: sockets that connect and send nothing, as an attacker's do,
    // each held open for as long as the client timeout allows.
    let idle: Vec<TcpStream> = (0..60).map(|_| connect(&server.base)).collect();
    let started = Instant::now();
    let page = visitor(&server).get("/index");
    let waited = started.elapsed();
    assert_eq!(page.status, 200);
    assert!(
        waited < Duration::from_secs(10),
        "the visitor waited {waited:?} behind idle connections (the client timeout is 60 s)"
    );
    drop(idle);
}
