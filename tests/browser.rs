//! End to end in a real browser: headless Chromium (Debian's, driven through chromedriver's
//! WebDriver protocol) registers, logs in, posts, and reads the index and the user page,
//! saving a screenshot of each step under target/screenshots/.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

mod support;
use support::Server;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    process: Child,
    agent: ureq::Agent,
    session: String,
    base: String,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Driver {
    fn start() -> Driver {
        let port = free_port();
        let process = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while agent.get(&format!("{base}/status")).call().is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver never answered"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let mut driver = Driver {
            process,
            agent,
            session: String::new(),
            base,
            _profile: profile,
        };
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-background-networking".into(),
            "--no-first-run".into(),
            "--window-size=1000,760".into(),
            format!("--user-data-dir={}", driver._profile.path().display()),
        ];
        let created = driver.call(
            "POST",
            "/session",
            json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": CHROMIUM, "args": args}
            }}}),
        );
        driver.session = created["sessionId"]
            .as_str()
            .expect("a session")
            .to_string();
        driver
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|error| panic!("{method} {path}: {error}"))
    }

    /// A WebDriver command; its error (a stale element while a page loads, say) as text.
    fn try_call(&self, method: &str, path: &str, body: Value) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let response = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            _ => self
                .agent
                .post(&url)
                .header("content-type", "application/json")
                .send(body.to_string()),
        };
        let text = response
            .map_err(|e| e.to_string())?
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        let value: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        match value["value"].get("error") {
            Some(_) => Err(text),
            None => Ok(value["value"].clone()),
        }
    }

    fn session_call(&self, method: &str, path: &str, body: Value) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    fn open(&self, url: &str) {
        self.session_call("POST", "/url", json!({ "url": url }));
    }

    fn find(&self, css: &str) -> String {
        let found = self.session_call(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.session_call(
            "POST",
            &format!("/element/{id}/value"),
            json!({ "text": text }),
        );
    }

    fn click(&self, css: &str) {
        let id = self.find(css);
        self.session_call("POST", &format!("/element/{id}/click"), json!({}));
    }

    /// The text of the page, or nothing while a new page replaces the old one.
    fn page_text(&self) -> Option<String> {
        let path = format!("/session/{}/element", self.session);
        let body = self
            .try_call(
                "POST",
                &path,
                json!({"using": "css selector", "value": "body"}),
            )
            .ok()?;
        let id = body[ELEMENT].as_str()?;
        let text = self
            .try_call("GET", &format!("{path}/{id}/text"), json!({}))
            .ok()?;
        text.as_str().map(str::to_string)
    }

    /// Waits for the page (after a click, the next page) to show `text`; returns its text.
    fn wait_for_text(&self, text: &str) -> String {
        let started = Instant::now();
        loop {
            let shown = self.page_text().unwrap_or_default();
            if shown.contains(text) {
                return shown;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "never showed {text:?}: {shown}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn current_path(&self) -> String {
        let url = self.session_call("GET", "/url", json!({}));
        let url = url.as_str().unwrap();
        url.splitn(4, '/')
            .nth(3)
            .map_or("/".into(), |p| format!("/{p}"))
    }

    fn screenshot(&self, dir: &Path, name: &str) {
        let encoded = self.session_call("GET", "/screenshot", json!({}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap())
            .unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .agent
                .delete(&format!("{}/session/{}", self.base, self.session))
                .call();
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn screenshots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_visitor_clicks_through_register_login_post_index_and_user_page() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        assert!(
            !dbmigrate::testing::under_ci(),
            "CI needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)"
        );
        eprintln!(
            "SKIPPED: no {CHROMIUM} or {CHROMEDRIVER}; apt-get install chromium chromium-driver"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "sqlite:///app.db", &[]);
    let shots = screenshots_dir();
    let browser = Driver::start();
    let site = &server.base;

    browser.open(&format!("{site}/register"));
    browser.type_into("#username", "susan");
    browser.type_into("#email", "susan@example.com");
    browser.type_into("#password", "correct horse");
    browser.type_into("#password2", "correct horse");
    browser.screenshot(&shots, "1-register");
    browser.click("main button[type=submit]");
    browser.wait_for_text("Congratulations, you are now a registered user!");
    assert_eq!(browser.current_path(), "/login");

    browser.type_into("#username", "susan");
    browser.type_into("#password", "correct horse");
    browser.click("input[name=remember_me]");
    browser.screenshot(&shots, "2-login");
    browser.click("main button[type=submit]");
    browser.wait_for_text("Hi, susan!");
    assert_eq!(browser.current_path(), "/index");

    browser.type_into("#post", "Hello from a real browser <b>not bold</b>");
    browser.click("main button[type=submit]");
    let text = browser.wait_for_text("Your post is now live!");
    assert!(
        text.contains("says:\nHello from a real browser <b>not bold</b>\n"),
        "shown as text, exactly as typed: {text}"
    );
    browser.screenshot(&shots, "3-index");

    browser.click("a.author");
    browser.wait_for_text("User: susan");
    assert_eq!(browser.current_path(), "/user/susan");
    browser.screenshot(&shots, "4-user");

    browser.click("form.logout button");
    browser.wait_for_text("Register");
}
