//! The web site as a browser meets it: the binary serving a database of the test's own,
//! and a client that keeps cookies.

use dbmigrate::testing::TestDb;
use diesel::sql_types::BigInt;
use diesel::{QueryableByName, RunQueryDsl, sql_query};

use super::Server;

pub fn start(db: &TestDb, env: &[(&str, &str)]) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (Server::start(dir.path(), &db.url_string(), env), dir)
}

pub fn visitor(server: &Server) -> Client {
    visitor_with(server, Vec::new())
}

/// A visitor behind a proxy the server trusts, which says the client is at `address`.
pub fn visitor_from(server: &Server, address: &str) -> Client {
    visitor_with(server, vec![("x-forwarded-for".into(), address.into())])
}

/// A visitor whose every request carries `headers`, as a proxy in front would add them.
pub fn visitor_with(server: &Server, headers: Vec<(String, String)>) -> Client {
    let agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .build()
        .into();
    Client {
        agent,
        base: server.base.clone(),
        headers,
    }
}

pub struct Client {
    pub agent: ureq::Agent,
    pub base: String,
    headers: Vec<(String, String)>,
}

pub struct Reply {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookie: Vec<String>,
    pub headers: ureq::http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn csrf_token(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self.body.find(marker).expect("a form with a CSRF token") + marker.len();
        self.body[start..].split('"').next().unwrap().to_string()
    }
}

pub fn reply(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut response = response.unwrap();
    let header = |name: &str| -> Vec<String> {
        response
            .headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    };
    let location = header("location").into_iter().next();
    let set_cookie = header("set-cookie");
    Reply {
        status: response.status().as_u16(),
        location,
        set_cookie,
        headers: response.headers().clone(),
        body: response.body_mut().read_to_string().unwrap(),
    }
}

impl Client {
    /// The reply, or `None` when the server did not answer (it is gone).
    pub fn try_get(&self, path: &str) -> Option<Reply> {
        let response = self.sent_get(path).ok()?;
        Some(reply(Ok(response)))
    }

    pub fn try_post(&self, path: &str, fields: &[(&str, &str)]) -> Option<Reply> {
        let response = self.sent_post(path, fields).ok()?;
        Some(reply(Ok(response)))
    }

    pub fn get(&self, path: &str) -> Reply {
        reply(self.sent_get(path))
    }

    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        reply(self.sent_post(path, fields))
    }

    fn sent_get(&self, path: &str) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let mut request = self.agent.get(&format!("{}{path}", self.base));
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        request.call()
    }

    fn sent_post(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let mut request = self.agent.post(&format!("{}{path}", self.base));
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        request.send_form(fields.iter().copied())
    }

    /// Follows a redirect, as a browser would.
    pub fn follow(&self, reply: Reply) -> Reply {
        assert!(
            matches!(reply.status, 302 | 303),
            "not a redirect: {} {}",
            reply.status,
            reply.body
        );
        self.get(reply.location.as_deref().unwrap())
    }

    pub fn register(&self, username: &str, email: &str, password: &str) -> Reply {
        let token = self.get("/register").csrf_token();
        self.post(
            "/register",
            &[
                ("csrf_token", &token),
                ("username", username),
                ("email", email),
                ("password", password),
                ("password2", password),
            ],
        )
    }

    pub fn log_in(&self, username: &str, password: &str) -> Reply {
        let token = self.get("/login").csrf_token();
        self.post(
            "/login",
            &[
                ("csrf_token", &token),
                ("username", username),
                ("password", password),
            ],
        )
    }

    /// The layout's logout button, with the token of the page it is on.
    pub fn log_out(&self) -> Reply {
        let token = self.get("/index").csrf_token();
        self.post("/logout", &[("csrf_token", &token)])
    }

    pub fn write(&self, body: &str) -> Reply {
        let token = self.get("/index").csrf_token();
        self.post("/index", &[("csrf_token", &token), ("post", body)])
    }
}

#[derive(QueryableByName)]
pub struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

pub fn rows(db: &TestDb, table: &str) -> i64 {
    let mut conn = dbmigrate::connect(&db.url).unwrap();
    let sql = format!("SELECT COUNT(*) AS n FROM {}", db.dialect().quote(table));
    sql_query(sql).get_result::<Count>(&mut conn).unwrap().n
}

pub fn signed_up(server: &Server, name: &str) -> Client {
    let client = visitor(server);
    let registered = client.register(name, &format!("{name}@example.com"), "cat");
    assert_eq!(
        registered.location.as_deref(),
        Some("/login"),
        "{}",
        registered.body
    );
    let logged_in = client.log_in(name, "cat");
    assert_eq!(
        logged_in.location.as_deref(),
        Some("/index"),
        "{}",
        logged_in.body
    );
    client
}

/// Another client carrying a copy of `client`'s session cookie, as a thief would.
pub fn copy_of(client: &Client, server: &Server) -> Client {
    let copy = visitor(server);
    let uri: ureq::http::Uri = client.base.parse().unwrap();
    let value = client
        .agent
        .cookie_jar_lock()
        .iter()
        .find(|c| c.name() == "session")
        .map(|c| c.value().to_string())
        .expect("a session cookie");
    let cookie = ureq::Cookie::parse(format!("session={value}"), &uri).unwrap();
    copy.agent.cookie_jar_lock().insert(cookie, &uri).unwrap();
    copy
}

/// Sends a form body of `size` bytes over a plain socket: the server answers before it has
/// read everything, which an HTTP client library reports as a broken pipe, not a response.
pub fn post_raw(server: &Server, path: &str, size: usize) -> String {
    use std::io::{Read, Write};
    let address = server.base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let body = vec![b'x'; size];
        let _ = writer.write_all(&body);
    });
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let _ = stream.shutdown(std::net::Shutdown::Both);
    sender.join().unwrap();
    String::from_utf8_lossy(&response).into_owned()
}
