//! Connecting to a server that is not answering: the wait has an end, and the message says
//! what happened.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use dbmigrate::{ConnectFailure, DatabaseUrl, Timeouts, connect_with};

/// A port that accepts connections (the kernel completes the handshake) and never says a
/// word, as a frozen server or a black-holing firewall behaves.
fn silent_server() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

#[test]
fn a_server_that_never_answers_is_given_up_on_after_the_wait() {
    let (_listener, port) = silent_server();
    let timeouts = Timeouts {
        wait: Duration::from_secs(2),
        statement: None,
    };
    for scheme in ["postgresql", "mysql"] {
        let url =
            DatabaseUrl::parse(&format!("{scheme}://someone:secret@127.0.0.1:{port}/db")).unwrap();
        let started = Instant::now();
        let error = connect_with(&url, timeouts).err().expect("no connection");
        let waited = started.elapsed();
        assert!(
            waited < Duration::from_secs(10),
            "{scheme}: waited {waited:?}"
        );
        assert_eq!(
            error.failure,
            ConnectFailure::TimedOut(timeouts.wait),
            "{scheme}: {error}"
        );
        let message = error.to_string();
        assert!(message.contains("did not answer within 2 s"), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }
}
