//! Bad input, table by table: malformed and hostile HTTP requests, and command lines a user
//! gets wrong. Each gets a precise answer (never a 500, a panic or a backtrace) and changes
//! nothing; the server goes on serving after all of them.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use dbmigrate::testing::TestDb;

use support::site::{rows, signed_up, start};

/// Sends `raw` as it is, and reads the answer's head and as much of its body as comes.
fn send(base: &str, raw: &[u8]) -> String {
    let mut stream = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(raw).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").into_bytes()
}

fn post(path: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut raw = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    raw
}

const FORM: &str = "application/x-www-form-urlencoded";

/// How a request must be answered: its status, and whether the answer is a page in the
/// site's layout (what the server itself refuses before any page is involved is not).
struct Case {
    what: &'static str,
    request: Vec<u8>,
    status: u16,
    in_layout: bool,
}

fn case(what: &'static str, request: Vec<u8>, status: u16, in_layout: bool) -> Case {
    Case {
        what,
        request,
        status,
        in_layout,
    }
}

fn http_cases() -> Vec<Case> {
    let with = |head: &str| format!("{head}\r\n\r\n").into_bytes();
    vec![
        case("a path that climbs out of /static", get("/static/../Cargo.toml"), 404, true),
        case("an encoded path that climbs", get("/user/..%2F..%2Fetc%2Fpasswd"), 404, true),
        case("a NUL in a path", get("/user/a%00b"), 404, true),
        case("a path that is not UTF-8", get("/user/%FF%FE"), 400, true),
        case("markup as a username", get("/user/%3Cscript%3Ealert(1)%3C%2Fscript%3E"), 404, true),
        case("SQL as a username", get("/user/'%20OR%201=1--"), 404, true),
        case("a negative page", get("/index?page=-1"), 200, true),
        case("a page that is not a number", get("/index?page=abc"), 200, true),
        case("a page past any number", get("/index?page=99999999999999999999999"), 200, true),
        case("the largest page", get("/index?page=9223372036854775807"), 200, true),
        case("next leading to another site", get("/login?next=//evil.example"), 200, true),
        case("next carrying a header", get("/login?next=/%0d%0aSet-Cookie:x=y"), 200, true),
        case("a URL of 100,000 characters", get(&format!("/user/{}", "a".repeat(100_000))), 414, false),
        case("a request line that is not one", with("GARBAGE"), 400, false),
        case("a header line without a colon", with("GET /index HTTP/1.1\r\nHost: x\r\nBroken header"), 400, false),
        case(
            "a header of 200,000 bytes",
            with(&format!("GET /index HTTP/1.1\r\nHost: x\r\nX-Big: {}", "a".repeat(200_000))),
            431,
            false,
        ),
        case(
            "headers of 80,000 bytes",
            with(&format!("GET /index HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: {}", "a".repeat(80_000))),
            431,
            true,
        ),
        case("a method nobody knows", with("BREW /index HTTP/1.1\r\nHost: x\r\nConnection: close"), 405, true),
        case("a method the page does not take", with("DELETE /user/john HTTP/1.1\r\nHost: x\r\nConnection: close"), 405, true),
        case("logging out without the CSRF token", post("/logout", FORM, b""), 400, true),
        case("HTTP/1.0", with("GET /index HTTP/1.0"), 200, true),
        case("no Host header", with("GET /index HTTP/1.1\r\nConnection: close"), 200, true),
        case("a forged session cookie", with("GET /index HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: session=garbage%FF"), 200, true),
        case("a cookie of raw bytes", [&b"GET /index HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: session=\xff\xfe"[..], b"\r\n\r\n"].concat(), 200, true),
        case("JSON instead of a form", post("/login", "application/json", b"{}"), 415, true),
        case("a form without a content type", [&b"POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 10\r\n\r\n"[..], b"username=a"].concat(), 415, true),
        case("a form that is not UTF-8", post("/login", FORM, b"username=%FF%FE"), 400, true),
        case("a field given twice", post("/login", FORM, b"username=a&username=b"), 422, true),
        case("a form without its CSRF token", post("/register", FORM, b"username=eve&email=e%40x.io&password=p&password2=p"), 400, true),
        case("a chunked body that is not", with("POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0"), 400, false),
        case("a Content-Length that is not a number", with("POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: abc"), 400, false),
    ]
}

#[test]
fn hostile_and_malformed_requests_get_a_precise_answer_and_change_nothing() {
    let db = TestDb::new(dbmigrate::Dialect::Sqlite).unwrap();
    let (server, _dir) = start(&db, &[]);
    signed_up(&server, "john");
    let mut wrong = Vec::new();
    for case in http_cases() {
        let answer = send(&server.base, &case.request);
        let status_line = answer.lines().next().unwrap_or("(no answer)");
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok());
        let shown_in_layout = answer.contains("<title>");
        let guarded = answer
            .to_ascii_lowercase()
            .contains("\r\nx-content-type-options: nosniff\r\n");
        if !guarded {
            wrong.push(format!(
                "{}: answered without the security headers",
                case.what
            ));
        }
        if status != Some(case.status) || (case.in_layout && !shown_in_layout) {
            wrong.push(format!(
                "{}: expected {}{}, got {status_line}",
                case.what,
                case.status,
                if case.in_layout {
                    " in the site's layout"
                } else {
                    ""
                }
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!((rows(&db, "user"), rows(&db, "post")), (1, 0));
    assert!(send(&server.base, &get("/index")).starts_with("HTTP/1.1 200"));
}

/// A command line a user gets wrong, and what the one error line must say.
struct Mistake {
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    says: &'static str,
}

fn mistakes() -> Vec<Mistake> {
    let m = |args, env, says| Mistake { args, env, says };
    vec![
        m(
            &["db", "upgrade", "nonsense"],
            &[],
            "no revision matches 'nonsense'",
        ),
        m(
            &["db", "downgrade", "+1"],
            &[],
            "use `microblog db upgrade +1`",
        ),
        m(
            &["db", "downgrade", "-9"],
            &[],
            "downgrade by 9 step(s) is not possible",
        ),
        m(
            &["db", "upgrade", "+9"],
            &[],
            "only 0 revision(s) to upgrade",
        ),
        m(
            &["db", "upgrade", "--sql", "head:base"],
            &[],
            "use `microblog db downgrade --sql head:base`",
        ),
        m(
            &["db", "downgrade", "--sql", "e517:head"],
            &[],
            "use `microblog db upgrade --sql e517:head`",
        ),
        m(&["db", "stamp", "zzz"], &[], "no revision matches 'zzz'"),
        m(&["db", "show", "nope"], &[], "no revision matches 'nope'"),
        m(
            &["db", "upgrade", "-d", "/nonexistent"],
            &[],
            "there is no migration repository at /nonexistent",
        ),
        m(
            &["db", "frobnicate"],
            &[],
            "unrecognized subcommand 'frobnicate'",
        ),
        m(
            &["db", "check", "--format", "xml"],
            &[],
            "invalid value 'xml'",
        ),
        m(
            &["db", "current", "extra"],
            &[],
            "unexpected argument 'extra'",
        ),
        m(
            &["run", "--port", "99999"],
            &[],
            "99999 is not in 0..=65535",
        ),
        m(
            &["run", "--host", "not-a-host"],
            &[],
            "invalid IP address syntax",
        ),
        m(
            &["config"],
            &[("DATABASE_URL", "")],
            "DATABASE_URL is set but empty",
        ),
        m(&["config"], &[("DATABASE_URL", "oracle://x/y")], "oracle"),
        m(
            &["config"],
            &[("POSTS_PER_PAGE", "0")],
            "POSTS_PER_PAGE must be a whole number",
        ),
        m(
            &["config"],
            &[("DB_TIMEOUT", "soon")],
            "DB_TIMEOUT must be a whole number",
        ),
        m(
            &["config"],
            &[("TRUSTED_PROXIES", "nginx")],
            "'nginx' is not one",
        ),
        m(
            &["db", "current"],
            &[("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")],
            "cannot reach the database server",
        ),
        m(
            &["shell", "-c", "User.query.filter_by(#{nickname: 1}).all()"],
            &[],
            "User has no column 'nickname'",
        ),
        m(&["shell", "-c", ")("], &[], "error:"),
    ]
}

#[test]
fn command_line_mistakes_get_one_error_line_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = "sqlite:///app.db";
    let upgraded = support::microblog(dir.path(), Some(url), &["db", "upgrade"]);
    assert!(upgraded.status.success());
    let database = dir.path().join("app.db");
    let before = std::fs::read(&database).unwrap();
    let mut wrong = Vec::new();
    for mistake in mistakes() {
        let mut command = support::command(dir.path(), Some(url), mistake.args);
        for (name, value) in mistake.env {
            command.env(name, value);
        }
        let output = command.output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let said = format!("{stdout}{stderr}");
        let code = output.status.code();
        let failed_cleanly = matches!(code, Some(1 | 2))
            && said.contains("error:")
            && said.contains(mistake.says)
            && !said.contains("panicked")
            && !said.contains("backtrace");
        if !failed_cleanly {
            wrong.push(format!(
                "{:?} {:?}: exit {code:?}\n{said}",
                mistake.args, mistake.env
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n---\n"));
    assert!(
        std::fs::read(&database).unwrap() == before,
        "the database is unchanged"
    );
}
