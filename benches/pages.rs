//! The hot paths of the site, in process (no sockets): the router answering the index and a
//! user page for a logged-in visitor (query, rendering, session), an anonymous visitor's
//! kept page, and posts written through the unit of work. On a SQLite database of 100
//! users and 10,000 posts made by `db seed`. `cargo bench --bench pages`.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

use microblog::config::Settings;
use microblog::database::Database;
use microblog::models::{NewPost, Post};
use microblog::seed::{SeedPlan, seed};
use microblog::web::{App, router};

fn main() {
    divan::main();
}

struct Site {
    _dir: tempfile::TempDir,
    url: dbmigrate::DatabaseUrl,
    /// Made once, as the server does; each request gets a clone (a few reference counts).
    router: axum::Router,
    cookie: String,
    runtime: tokio::runtime::Runtime,
}

fn site() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite:///{}", dir.path().join("bench.db").display());
        let settings = Settings::from_lookup(|name| match name {
            "DATABASE_URL" => Some(url.clone()),
            "SECRET_KEY" => Some("benchmark".into()),
            _ => None,
        })
        .expect("settings");
        let mut db = Database::connect(&settings.database_url).expect("database");
        let chosen = dbmigrate::cli::choose(
            None,
            &settings.context(),
            &microblog::migrations::APPLICATION,
        )
        .expect("migrations");
        db.prepare(&chosen, |_| {}).expect("migrated");
        db.share_between_readers_and_writers().expect("WAL");
        let plan = SeedPlan {
            users: 100,
            posts: 10_000,
            seed: 1,
            batch: 1_000,
        };
        seed(&mut db.session, &plan, |_| {}).expect("seeded");
        let app = Arc::new(App::new(&settings, None));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let router = router(app.clone());
        let cookie = runtime.block_on(log_in(&router));
        Site {
            _dir: dir,
            url: settings.database_url.clone(),
            router,
            cookie,
            runtime,
        }
    })
}

/// The session cookie of `user0001`, logged in through the login form.
async fn log_in(router: &axum::Router) -> String {
    let form = get(router, "/login", None).await;
    let set_cookie = form
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_string());
    let html = body_text(form).await;
    let token = html
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the login form has a CSRF token");
    let mut request =
        Request::post("/login").header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(cookie) = &set_cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let body = format!(
        "csrf_token={token}&username=user0001&password={}",
        microblog::seed::PASSWORD
    );
    let response = router
        .clone()
        .oneshot(request.body(Body::from(body)).expect("request"))
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "logged in");
    response
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string()
}

async fn get(router: &axum::Router, path: &str, cookie: Option<&str>) -> axum::response::Response {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    router
        .clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("answer")
}

async fn body_text(response: axum::response::Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

fn page(path: &str, logged_in: bool) -> usize {
    let site = site();
    let cookie = logged_in.then_some(site.cookie.as_str());
    site.runtime.block_on(async {
        let response = get(&site.router, path, cookie).await;
        assert_eq!(response.status(), StatusCode::OK);
        body_text(response).await.len()
    })
}

/// Query and rendering on every request.
#[divan::bench]
fn index_logged_in() -> usize {
    page("/index", true)
}

#[divan::bench]
fn user_page_logged_in() -> usize {
    page("/user/user0050", true)
}

/// A page kept for anonymous visitors: one `data_version` check and the stored bytes.
#[divan::bench]
fn index_anonymous_kept() -> usize {
    page("/index", false)
}

/// 1,000 posts through the unit of work, in one transaction.
#[divan::bench(sample_count = 20)]
fn insert_1000_posts(bencher: divan::Bencher) {
    let site = site();
    let mut db = Database::connect(&site.url).expect("database");
    bencher.bench_local(|| {
        for n in 0..1_000 {
            db.session.add(NewPost {
                user_id: Some(1),
                ..Post::new(&format!("post number {n}"))
            });
        }
        db.session.commit().expect("committed");
    });
}
