//! The read pages, `/index` (with its form to write a post) and `/user/<username>`.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use diesel::prelude::*;
use serde::Deserialize;

use super::forms::{CheckedForm, carries_csrf_token};
use super::local_reads::{self, ListedPost};
use super::pool::DataVersion;
use super::templates::{FormRefusedPage, IndexPage, PostView, UserPage};
use super::visit::{Login, Visit};
use super::{App, Page, SharedApp, WorkError, user_url};
use crate::models::{Post, User};
use crate::models::{max_length, posts_of, user_named};
use dbmigrate::AnyConnection;
use dbmigrate::model::DbError;

/// Field name to the messages shown next to it.
pub type Errors = BTreeMap<&'static str, Vec<String>>;

/// Refuses the NUL character, which PostgreSQL cannot store in text (and nobody types).
pub fn check_no_nul(errors: &mut Errors, field: &'static str, value: &str) {
    if value.contains('\0') {
        errors
            .entry(field)
            .or_default()
            .push("This field cannot hold the NUL character.".into());
    }
}

/// Refuses a value longer than its column holds, as the database would.
pub fn check_length(errors: &mut Errors, field: &'static str, value: &str, max: usize) {
    if value.chars().count() > max {
        errors.entry(field).or_default().push(format!(
            "Field must be between 1 and {max} characters long."
        ));
    }
}

#[derive(Deserialize, Default)]
pub struct PageQuery {
    page: Option<String>,
}

impl PageQuery {
    /// The page asked for; anything that is not a page number is page 1, as in the tutorial.
    fn number(&self) -> i64 {
        self.page
            .as_deref()
            .and_then(|p| p.parse::<i64>().ok())
            .filter(|n| (1..=1_000_000).contains(n))
            .unwrap_or(1)
    }
}

impl PostView {
    fn new(post: Post, author: Option<String>) -> PostView {
        PostView::listed((post.body, post.timestamp, author))
    }

    fn listed((body, timestamp, author): ListedPost) -> PostView {
        let author = author.unwrap_or_else(|| "(deleted)".to_string());
        let (time, iso_time) = match timestamp {
            Some(t) => readable_times(t),
            None => (String::new(), String::new()),
        };
        PostView {
            author_url: user_url(&author),
            author,
            body: body.unwrap_or_default(),
            time,
            iso_time,
        }
    }
}

/// `2025-03-04 12:30 UTC` for people and `2025-03-04T12:30:05Z` for machines. Written
/// digit by digit: a page has 40 of them, and formatting machinery (chrono's patterns, or
/// `format!`) was a tenth of a logged-in index page's CPU.
fn readable_times(t: chrono::NaiveDateTime) -> (String, String) {
    use chrono::{Datelike, Timelike};
    let year = match u32::try_from(t.year()) {
        Ok(year) if year <= 9999 => year,
        _ => {
            return (
                t.format("%Y-%m-%d %H:%M UTC").to_string(),
                t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            );
        }
    };
    let mut date = String::with_capacity(32);
    push_digits(&mut date, year, 4);
    date.push('-');
    push_digits(&mut date, t.month(), 2);
    date.push('-');
    push_digits(&mut date, t.day(), 2);
    let mut readable = date.clone();
    let mut iso = date;
    readable.push(' ');
    iso.push('T');
    for text in [&mut readable, &mut iso] {
        push_digits(text, t.hour(), 2);
        text.push(':');
        push_digits(text, t.minute(), 2);
    }
    readable.push_str(" UTC");
    iso.push(':');
    push_digits(&mut iso, t.second(), 2);
    iso.push('Z');
    (readable, iso)
}

/// `number`'s last `width` decimal digits, zero-padded.
fn push_digits(text: &mut String, number: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = (number / 10u32.pow(place)) % 10;
        text.push(char::from(b'0' + digit as u8));
    }
}

/// One page of posts, and the links to the pages around it.
struct Listing {
    posts: Vec<PostView>,
    newer_url: Option<String>,
    older_url: Option<String>,
}

impl Listing {
    /// `rows` holds one more post than a page when there is an older page.
    fn new(mut rows: Vec<PostView>, page: i64, per_page: i64, base: &str) -> Listing {
        let has_older = rows.len() as i64 > per_page;
        rows.truncate(per_page as usize);
        let link = |n: i64| {
            if n == 1 {
                base.to_string()
            } else {
                format!("{base}?page={n}")
            }
        };
        Listing {
            posts: rows,
            newer_url: (page > 1).then(|| link(page - 1)),
            older_url: has_older.then(|| link(page + 1)),
        }
    }
}

/// The logged-in visitor's user, if any (a session whose user is gone counts as none).
pub async fn current_user(app: &App, visit: &Visit) -> Result<Option<User>, WorkError> {
    let viewer = Viewer::of(app, visit);
    let Some(login) = viewer.to_read() else {
        return Ok(viewer.resolve(app, None));
    };
    let read = match app.db.pipelined() {
        Some(pipelined) => pipelined.visitor(login).await?,
        None => {
            let users = app.users.clone();
            app.db
                .run(move |s| match s.conn() {
                    AnyConnection::Sqlite(conn) => Ok(local_reads::in_one_read(conn, |conn| {
                        local_reads::visitor(conn, Some(login), &users)
                    })?),
                    _ => login.user(s),
                })
                .await?
        }
    };
    Ok(viewer.resolve(app, read))
}

/// The index page's rows: the visitor's user when `login` asks for it, and the views of
/// `limit` posts from `offset` with their authors' names.
async fn index_rows(
    app: &App,
    login: Option<Login>,
    limit: i64,
    offset: i64,
) -> Result<(Option<User>, Vec<PostView>), WorkError> {
    if let Some(pipelined) = app.db.pipelined() {
        let (user, rows) = pipelined.index(login, limit, offset).await?;
        let views = rows
            .into_iter()
            .map(|(post, author)| PostView::new(post, author))
            .collect();
        return Ok((user, views));
    }
    let users = app.users.clone();
    app.db
        .run(move |s| -> Result<_, DbError> {
            if let AnyConnection::Sqlite(conn) = s.conn() {
                let (user, rows) = local_reads::in_one_read(conn, |conn| {
                    let user = local_reads::visitor(conn, login, &users)?;
                    Ok((user, local_reads::newest_posts(conn, limit, offset)?))
                })?;
                return Ok((user, rows.into_iter().map(PostView::listed).collect()));
            }
            let user = login.map_or(Ok(None), |login| login.user(s))?;
            let rows = Post::newest_with_authors(s.conn(), limit, offset)?;
            let views = rows
                .into_iter()
                .map(|(post, author)| PostView::new(post, author))
                .collect();
            Ok((user, views))
        })
        .await
}

/// A user's page's rows: the visitor's user when `login` asks for it, the user shown and
/// the views of `limit` of their posts from `offset` (none when there is no such user).
async fn user_page_rows(
    app: &App,
    login: Option<Login>,
    username: String,
    limit: i64,
    offset: i64,
) -> Result<(Option<User>, Option<(User, Vec<PostView>)>), WorkError> {
    let views_of = |shown: &User, posts: Vec<Post>| -> Vec<PostView> {
        posts
            .into_iter()
            .map(|post| PostView::new(post, shown.username.clone()))
            .collect()
    };
    if let Some(pipelined) = app.db.pipelined() {
        let (viewer, shown, posts) = pipelined.user_page(login, &username, limit, offset).await?;
        let shown = shown.map(|shown| {
            let views = views_of(&shown, posts);
            (shown, views)
        });
        return Ok((viewer, shown));
    }
    let users = app.users.clone();
    app.db
        .run(move |s| -> Result<_, DbError> {
            if let AnyConnection::Sqlite(conn) = s.conn() {
                let (viewer, shown) = local_reads::in_one_read(conn, |conn| {
                    let viewer = local_reads::visitor(conn, login, &users)?;
                    let shown = local_reads::user_and_posts(conn, &username, limit, offset)?;
                    Ok((viewer, shown))
                })?;
                let shown = shown
                    .map(|(shown, rows)| (shown, rows.into_iter().map(PostView::listed).collect()));
                return Ok((viewer, shown));
            }
            let viewer = login.map_or(Ok(None), |login| login.user(s))?;
            let shown: Option<User> = user_named(&username).first(s.conn()).optional()?;
            let shown = match shown {
                Some(shown) => {
                    let posts = posts_of(shown.id, limit, offset).load::<Post>(s.conn())?;
                    let views = views_of(&shown, posts);
                    Some((shown, views))
                }
                None => None,
            };
            Ok((viewer, shown))
        })
        .await
}

/// The visitor's user as far as this process knows it without asking the database.
pub enum Viewer {
    /// No login; or a user whose row was read since the data last changed (`None` when the
    /// session no longer holds for it).
    Known(Option<User>),
    /// To be read with the page's database work, then kept under the version taken before.
    ToRead(Login, Option<DataVersion>),
}

impl Viewer {
    pub fn of(app: &App, visit: &Visit) -> Viewer {
        let Some(login) = visit.login() else {
            return Viewer::Known(None);
        };
        let version = app.db.heard_version();
        match version.and_then(|version| app.users.get(login.user_id(), version)) {
            Some(user) => Viewer::Known(Some(user).filter(|user| login.holds_for(user))),
            None => Viewer::ToRead(login, version),
        }
    }

    /// The session the page's database work must check, if the process cannot.
    pub fn to_read(&self) -> Option<Login> {
        match self {
            Viewer::ToRead(login, _) => Some(*login),
            Viewer::Known(_) => None,
        }
    }

    /// The user, given what the database work read for [`Viewer::to_read`].
    pub fn resolve(self, app: &App, read: Option<User>) -> Option<User> {
        match self {
            Viewer::Known(user) => user,
            Viewer::ToRead(_, version) => {
                if let (Some(version), Some(user)) = (version, &read) {
                    app.users.put(version, user);
                }
                read
            }
        }
    }
}

carries_csrf_token!(PostForm);

#[derive(Deserialize, Default)]
pub struct PostForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    post: String,
}

pub async fn index(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Result<Response, WorkError> {
    let visit = app.visit(&headers);
    show_index(&app, visit, query.number(), None, Errors::new()).await
}

async fn show_index(
    app: &App,
    mut visit: Visit,
    page: i64,
    form: Option<String>,
    errors: Errors,
) -> Result<Response, WorkError> {
    let per_page = app.posts_per_page;
    let viewer = Viewer::of(app, &visit);
    let login = viewer.to_read();
    let key = format!("/index?page={page}");
    let (version, kept) = if form.is_none() && errors.is_empty() {
        app.kept_page(&visit, &key).await
    } else {
        (None, None)
    };
    if let Some(kept) = kept {
        return Ok(kept);
    }
    let (user, views) = index_rows(app, login, per_page + 1, (page - 1) * per_page).await?;
    let user = viewer.resolve(app, user);
    let listing = Listing::new(views, page, per_page, "/index");
    let content = IndexPage {
        greeting: user.as_ref().and_then(|u| u.username.as_deref()),
        csrf_token: match user {
            Some(_) => visit.csrf_token(),
            None => String::new(),
        },
        form_post: form.as_deref().unwrap_or_default(),
        post_errors: errors.get("post").map_or(&[], Vec::as_slice),
        post_max_length: max_length::<Post>("body"),
        posts: &listing.posts,
        newer_url: listing.newer_url,
        older_url: listing.older_url,
    };
    let page = Page::new(Some("Home"), None, &content);
    Ok(app.page_kept(
        visit,
        Page {
            current_user: user,
            ..page
        },
        version.map(|v| (key.as_str(), v)),
    ))
}

pub async fn write_post(
    State(app): State<SharedApp>,
    CheckedForm { form, mut visit }: CheckedForm<PostForm>,
) -> Result<Response, WorkError> {
    let Some(login) = visit.login() else {
        visit.flash("Please log in to access this page.");
        return Ok(app.redirect(visit, "/login?next=%2Findex"));
    };
    let body = form.post.trim().to_string();
    let mut errors = Errors::new();
    if body.is_empty() {
        errors.insert("post", vec!["This field is required.".into()]);
    }
    check_no_nul(&mut errors, "post", &body);
    check_length(&mut errors, "post", &body, max_length::<Post>("body"));
    if !errors.is_empty() {
        return show_index(&app, visit, 1, Some(form.post), errors).await;
    }
    let db = app.db.clone();
    let written = app
        .db
        .write(move |s| -> Result<bool, DbError> {
            let Some(author) = login.user(s)? else {
                return Ok(false);
            };
            s.add(Post::new(&body).author(&author));
            s.commit()?;
            db.note_write();
            Ok(true)
        })
        .await?;
    if written {
        visit.flash("Your post is now live!");
        Ok(app.redirect(visit, "/index"))
    } else {
        visit.log_out();
        Ok(app.redirect(visit, "/login"))
    }
}

/// A form whose CSRF token is missing or not this visitor's: nothing is done.
pub fn refused_form(app: &App, visit: Visit) -> Response {
    app.page(
        visit,
        Page {
            status: StatusCode::BAD_REQUEST,
            ..Page::new(Some("Form refused"), None, &FormRefusedPage)
        },
    )
}

pub async fn user(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Path(username): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, WorkError> {
    let visit = app.visit(&headers);
    if username.contains('\0') {
        return Ok(app.not_found(visit, None));
    }
    let (page, per_page) = (query.number(), app.posts_per_page);
    let known = Viewer::of(&app, &visit);
    let login = known.to_read();
    let key = format!("{}?page={page}", user_url(&username));
    let (version, kept) = app.kept_page(&visit, &key).await;
    if let Some(kept) = kept {
        return Ok(kept);
    }
    let (viewer, shown) =
        user_page_rows(&app, login, username, per_page + 1, (page - 1) * per_page).await?;
    let viewer = known.resolve(&app, viewer);
    let Some((shown, views)) = shown else {
        return Ok(app.not_found(visit, viewer));
    };
    let name = shown.username.clone().unwrap_or_default();
    let listing = Listing::new(views, page, per_page, &user_url(&name));
    let content = UserPage {
        username: &name,
        posts: &listing.posts,
        newer_url: listing.newer_url,
        older_url: listing.older_url,
    };
    Ok(app.page_kept(
        visit,
        Page::new(Some(&name), viewer, &content),
        version.map(|v| (key.as_str(), v)),
    ))
}

#[cfg(test)]
mod tests {
    use super::readable_times;

    fn at(year: i32, month: u32, day: u32, h: u32, m: u32, s: u32) -> chrono::NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(year, month, day)
            .and_then(|d| d.and_hms_micro_opt(h, m, s, 123_456))
            .unwrap()
    }

    #[test]
    fn times_read_the_same_as_chronos_formats() {
        for t in [
            at(2025, 3, 4, 5, 6, 7),
            at(1999, 12, 31, 23, 59, 59),
            at(7, 1, 1, 0, 0, 0),
            at(12_345, 6, 7, 8, 9, 10),
        ] {
            assert_eq!(
                readable_times(t),
                (
                    t.format("%Y-%m-%d %H:%M UTC").to_string(),
                    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
                ),
                "{t}"
            );
        }
    }
}
