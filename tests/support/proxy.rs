//! A TCP proxy in front of a database server, to make the database misbehave on purpose:
//! go away (every connection cut, new ones refused) and come back, or freeze (connections
//! stay open and nothing more passes, as with a stopped server or a black-holing network).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Forwarding,
    Down,
    Frozen,
}

struct State {
    mode: Mutex<Mode>,
    changed: Condvar,
    /// Both ends of every connection, to cut them all at once.
    streams: Mutex<Vec<TcpStream>>,
}

pub struct Proxy {
    pub port: u16,
    state: Arc<State>,
}

impl Proxy {
    /// A proxy on a free local port to `target`.
    pub fn to(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State {
            mode: Mutex::new(Mode::Forwarding),
            changed: Condvar::new(),
            streams: Mutex::new(Vec::new()),
        });
        let accepting = state.clone();
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if *accepting.mode.lock().unwrap() == Mode::Down {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                {
                    let mut streams = accepting.streams.lock().unwrap();
                    streams.push(client.try_clone().unwrap());
                    streams.push(server.try_clone().unwrap());
                }
                pump(
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    accepting.clone(),
                );
                pump(server, client, accepting.clone());
            }
        });
        Proxy { port, state }
    }

    /// Cuts every connection and refuses new ones, as a server that stopped does.
    pub fn go_down(&self) {
        self.set(Mode::Down);
        for stream in self.state.streams.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Lets nothing more through, on open connections and new ones, without closing any.
    pub fn freeze(&self) {
        self.set(Mode::Frozen);
    }

    /// Forwards again; connections cut while down stay cut.
    pub fn come_back(&self) {
        self.set(Mode::Forwarding);
    }

    fn set(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
        self.state.changed.notify_all();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.go_down();
    }
}

/// Copies `from` to `to` while forwarding; holds what it read while frozen.
fn pump(mut from: TcpStream, mut to: TcpStream, state: Arc<State>) {
    thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buffer) {
            if n == 0 {
                break;
            }
            let mut mode = state.mode.lock().unwrap();
            while *mode == Mode::Frozen {
                mode = state
                    .changed
                    .wait_timeout(mode, Duration::from_millis(100))
                    .unwrap()
                    .0;
            }
            if *mode == Mode::Down {
                break;
            }
            drop(mode);
            if to.write_all(&buffer[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}
