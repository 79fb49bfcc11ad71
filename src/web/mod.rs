//! The web site: axum routes over the models, templates compiled in, sessions in a signed cookie.

mod accounts;
mod changes;
mod client_address;
mod forms;
mod hashing;
mod local_reads;
mod page_cache;
mod pages;
mod pipelined;
mod pool;
mod refusals;
mod server;
mod templates;
mod throttle;
mod user_cache;
mod visit;

use std::sync::Arc;
use std::time::Instant;

use askama::Template;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;

pub use changes::COUNTER_TABLE;
pub use hashing::hash_password;
use page_cache::PageCache;
pub use pool::{DataVersion, DbPool, WorkError};
pub use server::{Limits, serve};
use templates::{FailurePage, Layout, NotFoundPage, RejectedPage};
use visit::Visit;

use crate::config::Settings;
use crate::models::User;

const STYLESHEET: &str = include_str!("../../static/style.css");

pub struct App {
    pub db: DbPool,
    pages: PageCache,
    key: cookie::Key,
    posts_per_page: i64,
    request_timeout: std::time::Duration,
    trusted_proxies: Vec<std::net::IpAddr>,
    session_cookie_secure: Option<bool>,
    throttle: throttle::Throttle,
    hashing: hashing::Hashing,
    users: Arc<user_cache::UserCache>,
}

pub type SharedApp = Arc<App>;

impl App {
    /// `session_setup`: what each connection to a database server runs first.
    pub fn new(settings: &Settings, session_setup: Option<String>) -> App {
        App {
            db: DbPool::new(
                &settings.database_url,
                settings.db_pool_size,
                settings.db_timeout,
                session_setup,
            ),
            pages: PageCache::default(),
            key: visit::signing_key(&settings.secret_key),
            posts_per_page: i64::from(settings.posts_per_page),
            request_timeout: settings.request_timeout,
            trusted_proxies: settings.trusted_proxies.clone(),
            session_cookie_secure: settings.session_cookie_secure,
            throttle: throttle::Throttle::default(),
            // Half the request's time at most waiting for a turn, half for the rest.
            hashing: hashing::Hashing::for_this_machine(settings.request_timeout / 2),
            users: Arc::default(),
        }
    }

    pub fn visit(&self, headers: &HeaderMap) -> Visit {
        Visit::from_headers(headers, &self.key)
    }

    /// A page in the site's layout, with the visitor's session cookie if it changed.
    fn page(&self, visit: Visit, page: Page) -> Response {
        self.page_kept(visit, page, None)
    }

    /// The same, kept under `key` for as long as the data `version` describes lasts.
    fn page_kept(
        &self,
        mut visit: Visit,
        page: Page,
        keep: Option<(&str, DataVersion)>,
    ) -> Response {
        let messages = visit.take_flashes();
        // The layout's logout button posts this visitor's token, as every form does.
        let logout_token = match page.current_user {
            Some(_) => visit.csrf_token(),
            None => String::new(),
        };
        let rendered = page.content.and_then(|content| {
            Layout {
                title: page.title.as_deref(),
                profile_url: page
                    .current_user
                    .as_ref()
                    .map(|user| user_url(user.username.as_deref().unwrap_or_default())),
                logout_token,
                messages,
                content: &content,
            }
            .render()
        });
        let response = match rendered {
            Ok(html) => {
                let html = axum::body::Bytes::from(html);
                if let Some((key, version)) = keep {
                    self.pages.put(key, version, html.clone());
                }
                (page.status, Html(html)).into_response()
            }
            Err(error) => {
                tracing::error!("cannot render a page: {error:#}");
                internal_error_text()
            }
        };
        visit.finish(response, &self.key)
    }

    /// A page an anonymous visitor may be shown from the cache: its version of the data,
    /// and the page itself if it is there.
    async fn kept_page(&self, visit: &Visit, key: &str) -> (Option<DataVersion>, Option<Response>) {
        if visit.login().is_some() || visit.has_flashes() {
            return (None, None);
        }
        let Some(version) = self.db.data_version().await else {
            return (None, None);
        };
        // `X-Cache: hit`, as caching proxies say it: the page was served as kept.
        let hit = self.pages.get(key, version).map(|html| {
            let mut response = Html(html).into_response();
            let hit = header::HeaderValue::from_static("hit");
            response.headers_mut().insert("x-cache", hit);
            response
        });
        (Some(version), hit)
    }

    /// A refusal in the site's layout: what happened and what to do, with how long to wait
    /// when that is known.
    fn refusal(
        &self,
        visit: Visit,
        status: StatusCode,
        title: &str,
        explanation: &str,
        retry_after: Option<std::time::Duration>,
    ) -> Response {
        let content = RejectedPage { title, explanation };
        let mut response = self.page(
            visit,
            Page {
                status,
                ..Page::new(Some(title), None, &content)
            },
        );
        if let Some(wait) = retry_after {
            set_retry_after(&mut response, wait);
        }
        response
    }

    fn redirect(&self, visit: Visit, to: &str) -> Response {
        visit.finish(Redirect::to(to).into_response(), &self.key)
    }

    /// The 500 page: logs what happened, shows nothing of it.
    /// The page for work that failed: 503 when the database could not be reached (try
    /// again later), 500 otherwise. Neither says more than that; the log does.
    fn failure(&self, visit: Visit, error: WorkError) -> Response {
        tracing::error!("{error}");
        let (status, title) = match error {
            WorkError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "Unavailable"),
            WorkError::Failed(_) => (StatusCode::INTERNAL_SERVER_ERROR, "Error"),
        };
        let content = FailurePage {
            unavailable: status == StatusCode::SERVICE_UNAVAILABLE,
        };
        self.page(
            visit,
            Page {
                status,
                ..Page::new(Some(title), None, &content)
            },
        )
    }

    fn not_found(&self, visit: Visit, current_user: Option<User>) -> Response {
        self.page(
            visit,
            Page {
                status: StatusCode::NOT_FOUND,
                ..Page::new(Some("Not Found"), current_user, &NotFoundPage)
            },
        )
    }
}

/// `Retry-After`: the whole seconds to wait, at least one.
fn set_retry_after(response: &mut Response, wait: std::time::Duration) {
    let seconds = wait.as_secs().max(1);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, seconds.into());
}

/// What a handler renders: its content, to go in the layout.
pub struct Page {
    status: StatusCode,
    /// `None`: the site's own title alone.
    title: Option<String>,
    current_user: Option<User>,
    content: askama::Result<String>,
}

impl Page {
    fn new(title: Option<&str>, current_user: Option<User>, content: &impl Template) -> Page {
        Page {
            status: StatusCode::OK,
            title: title.map(str::to_string),
            current_user,
            content: content.render(),
        }
    }
}

/// `/user/<username>`, with the name escaped as a path segment.
pub fn user_url(username: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let mut url = String::with_capacity(6 + username.len());
    url.push_str("/user/");
    url.extend(utf8_percent_encode(username, SEGMENT));
    url
}

fn internal_error_text() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Html("<!doctype html><title>Error</title><h1>An unexpected error has occurred</h1>"),
    )
        .into_response()
}

pub fn router(app: SharedApp) -> Router {
    Router::new()
        .route("/", get(pages::index).post(pages::write_post))
        .route("/index", get(pages::index).post(pages::write_post))
        .route("/user/{username}", get(pages::user))
        .route("/login", get(accounts::login_form).post(accounts::login))
        .route("/logout", get(accounts::logout_form).post(accounts::logout))
        .route(
            "/register",
            get(accounts::register_form).post(accounts::register),
        )
        .route("/static/style.css", get(stylesheet))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            app.clone(),
            in_the_sites_layout,
        ))
        .layer(middleware::from_fn_with_state(
            app.clone(),
            head_within_limit,
        ))
        .layer(middleware::from_fn_with_state(app.clone(), secure_cookies))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn(log_request))
        .with_state(app)
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

async fn not_found(State(app): State<SharedApp>, headers: HeaderMap) -> Response {
    let visit = app.visit(&headers);
    let user = pages::current_user(&app, &visit).await.ok().flatten();
    app.not_found(visit, user)
}

/// What every response says to the browser: take nothing from elsewhere, do not guess
/// content types, do not show the site in a frame, send no referrer to other sites.
const SECURITY_HEADERS: [(header::HeaderName, &str); 4] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "same-origin"),
];

/// The security headers, set in one place for every response, the framework's own
/// rejections included.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, header::HeaderValue::from_static(value));
    }
    response
}

/// A request whose head (request line and headers) is larger than the documented limit is
/// refused in the site's layout, whatever hyper's buffer let through.
async fn head_within_limit(State(app): State<SharedApp>, request: Request, next: Next) -> Response {
    let head = request.method().as_str().len()
        + request.uri().to_string().len()
        + request
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum::<usize>();
    if head <= server::MAX_HEAD_BYTES {
        return next.run(request).await;
    }
    let visit = app.visit(&cookies_of(request.headers()));
    app.refusal(
        visit,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "Too much sent",
        "The request's headers are larger than this site accepts, so nothing was done. Clearing this site's cookies may help.",
        None,
    )
}

/// The session cookie is marked `Secure` where the visitor came over HTTPS, as a trusted
/// proxy says (or always, or never, as `SESSION_COOKIE_SECURE` says).
async fn secure_cookies(State(app): State<SharedApp>, request: Request, next: Next) -> Response {
    let secure = app.session_cookie_secure.unwrap_or_else(|| {
        let peer = client_address::peer_of(request.extensions());
        client_address::forwarded_https(peer, request.headers(), &app.trusted_proxies)
    });
    let mut response = next.run(request).await;
    if secure {
        let headers = response.headers_mut();
        let cookies: Vec<header::HeaderValue> = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .cloned()
            .collect();
        headers.remove(header::SET_COOKIE);
        for cookie in cookies {
            let marked = [cookie.as_bytes(), b"; Secure"].concat();
            let lowered = cookie.as_bytes().to_ascii_lowercase();
            let already = lowered.windows(8).any(|w| w == b"; secure");
            let cookie = match header::HeaderValue::from_bytes(&marked) {
                Ok(marked) if !already => marked,
                _ => cookie,
            };
            headers.append(header::SET_COOKIE, cookie);
        }
    }
    response
}

/// What is answered without a handler's say is shown in the site's layout too: the
/// framework's plain-text refusals (a body too large, a form it cannot read), and a request
/// that took longer than `REQUEST_TIMEOUT` (a client sending its form slowly, a database
/// that does not answer), whose work is then dropped.
async fn in_the_sites_layout(
    State(app): State<SharedApp>,
    request: Request,
    next: Next,
) -> Response {
    let cookies = cookies_of(request.headers());
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let (status, title, explanation) = match tokio::time::timeout(
        app.request_timeout,
        next.run(request),
    )
    .await
    {
        Err(_) => {
            tracing::warn!(
                "{method} {path}: no answer within REQUEST_TIMEOUT ({} s); dropped",
                app.request_timeout.as_secs()
            );
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "Too slow",
                "The request took too long and was dropped. Try again in a moment.",
            )
        }
        Ok(mut response) => {
            if let Some(error) = response.extensions_mut().remove::<WorkError>() {
                return app.failure(app.visit(&cookies), error);
            }
            if response.status() == StatusCode::METHOD_NOT_ALLOWED {
                let allow = response.headers().get(header::ALLOW).cloned();
                let mut page = app.refusal(
                    app.visit(&cookies),
                    StatusCode::METHOD_NOT_ALLOWED,
                    "Not allowed",
                    "This page cannot be asked for that way, so nothing was done.",
                    None,
                );
                page.headers_mut()
                    .extend(allow.map(|allow| (header::ALLOW, allow)));
                return page;
            }
            let plain_text = response
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|t| t.as_bytes().starts_with(b"text/plain"));
            match response.status() {
                _ if !plain_text => return response,
                StatusCode::PAYLOAD_TOO_LARGE => (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Too much sent",
                    "The form sent more than this site accepts, so nothing was done.",
                ),
                status @ (StatusCode::BAD_REQUEST
                | StatusCode::UNSUPPORTED_MEDIA_TYPE
                | StatusCode::UNPROCESSABLE_ENTITY) => (
                    status,
                    "Request not understood",
                    "What was sent is not a form this site can read, so nothing was done. Go back, reload the page and send it again.",
                ),
                _ => return response,
            }
        }
    };
    app.refusal(app.visit(&cookies), status, title, explanation, None)
}

/// A handler's failure: an empty response with the error attached, which
/// `in_the_sites_layout` turns into the error page, with the visitor's cookies.
impl IntoResponse for WorkError {
    fn into_response(self) -> Response {
        let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// Only the cookies of `headers`: all a page drawn outside a handler needs.
fn cookies_of(headers: &HeaderMap) -> HeaderMap {
    let mut cookies = HeaderMap::new();
    for value in headers.get_all(header::COOKIE) {
        cookies.append(header::COOKIE, value.clone());
    }
    cookies
}

/// One line per request: method, path, status, time taken.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    tracing::info!(
        "{method} {path} {} {:.2}ms",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    response
}
