//! Registering, logging in and out. Passwords are kept only as Argon2id hashes, made and
//! checked on the bounded pool of `hashing.rs`.

use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use diesel::prelude::*;
use serde::Deserialize;

use super::client_address::ClientAddress;
use super::forms::{CheckedForm, carries_csrf_token};
use super::hashing::Busy;
use super::pages::{Errors, check_length, check_no_nul, current_user};
use super::templates::{Field, LoginPage, LogoutPage, RegisterPage};
use super::visit::Visit;
use super::{App, Page, SharedApp, WorkError, set_retry_after};
use crate::models::{
    User, lookalike_taken, max_length, normalized_username, user, username_refusal,
};
use dbmigrate::ConstraintViolation;
use dbmigrate::model::DbError;

#[derive(Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
}

impl NextQuery {
    /// Where to go after logging in: a path on this site only, never another site.
    fn target(&self) -> Option<&str> {
        let next = self.next.as_deref()?;
        let on_this_site = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\');
        // Browsers drop tabs and line breaks from a URL (`/\t/evil.example` is
        // `//evil.example` to them), and a header cannot carry them: such a value leads
        // nowhere.
        let plain = !next.chars().any(|c| c.is_control() || c.is_whitespace());
        let a_path = next.parse::<axum::http::uri::PathAndQuery>().is_ok();
        (on_this_site && plain && a_path).then_some(next)
    }

    /// The target as a `Location` header carries it: characters outside ASCII
    /// percent-encoded, as a browser would send them.
    fn location(&self) -> Option<String> {
        let target = self.target()?;
        Some(percent_encoding::utf8_percent_encode(target, percent_encoding::CONTROLS).to_string())
    }
}

#[derive(Deserialize, Default)]
pub struct LoginForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    remember_me: Option<String>,
}

carries_csrf_token!(LoginForm, RegisterForm, LogoutForm);

#[derive(Deserialize, Default)]
pub struct LogoutForm {
    #[serde(default)]
    csrf_token: String,
}

#[derive(Deserialize, Default)]
pub struct RegisterForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
}

/// Redirects a visitor who is already logged in.
async fn logged_in(app: &App, visit: &Visit) -> bool {
    matches!(current_user(app, visit).await, Ok(Some(_)))
}

pub async fn login_form(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Query(next): Query<NextQuery>,
) -> Response {
    let visit = app.visit(&headers);
    if logged_in(&app, &visit).await {
        return app.redirect(visit, "/index");
    }
    show_login(&app, visit, &next, &LoginForm::default(), Errors::new())
}

fn show_login(
    app: &App,
    mut visit: Visit,
    next: &NextQuery,
    form: &LoginForm,
    errors: Errors,
) -> Response {
    let action = match next.target() {
        Some(target) => format!(
            "/login?next={}",
            percent_encoding::utf8_percent_encode(target, percent_encoding::NON_ALPHANUMERIC)
        ),
        None => "/login".to_string(),
    };
    let content = LoginPage {
        action: &action,
        csrf_token: visit.csrf_token(),
        fields: vec![
            Field::new("username", "Username", &errors)
                .value(&form.username)
                .autocomplete("username"),
            Field::new("password", "Password", &errors)
                .kind("password")
                .autocomplete("current-password"),
        ],
        remember_me: form.remember_me.is_some(),
    };
    app.page(visit, Page::new(Some("Sign In"), None, &content))
}

fn required(errors: &mut Errors, field: &'static str, value: &str) {
    if value.trim().is_empty() {
        errors
            .entry(field)
            .or_default()
            .push("This field is required.".into());
    }
}

pub async fn login(
    State(app): State<SharedApp>,
    ClientAddress(client): ClientAddress,
    Query(next): Query<NextQuery>,
    CheckedForm { form, mut visit }: CheckedForm<LoginForm>,
) -> Result<Response, WorkError> {
    let mut errors = Errors::new();
    required(&mut errors, "username", &form.username);
    required(&mut errors, "password", &form.password);
    check_no_nul(&mut errors, "username", &form.username);
    check_no_nul(&mut errors, "password", &form.password);
    if !errors.is_empty() {
        return Ok(show_login(&app, visit, &next, &form, errors));
    }
    let typed = form.username.trim().to_string();
    let attempt = match app.throttle.begin(&typed, client) {
        Ok(attempt) => attempt,
        Err(wait) => return Ok(too_many_logins(&app, visit, &next, &form, wait)),
    };
    // Names are stored normalised; one stored before that was done is found as typed.
    let normalized = normalized_username(&typed);
    let found = app
        .db
        .run(move |s| {
            let mut found = user::table
                .filter(user::username.eq_any([&typed, &normalized]))
                .load::<User>(s.conn())?;
            found.sort_by_key(|u| u.username.as_deref() != Some(typed.as_str()));
            Ok::<_, DbError>(found.into_iter().next())
        })
        .await?;
    let stored = found.as_ref().and_then(|u| u.password_hash.clone());
    let verified = match app.hashing.verify(stored, form.password.clone()).await {
        Ok(verified) => verified,
        Err(Busy) => return Ok(too_busy(&app, visit)),
    };
    match found {
        Some(user) if verified => {
            app.throttle.succeeded(attempt);
            visit.log_in(&user, form.remember_me.is_some());
            let to = next.location();
            Ok(app.redirect(visit, to.as_deref().unwrap_or("/index")))
        }
        _ => {
            visit.flash("Invalid username or password");
            let back = match next.target() {
                Some(_) => format!("/login?{}", query_of(&next)),
                None => "/login".into(),
            };
            Ok(app.redirect(visit, &back))
        }
    }
}

/// Every turn of the password hashing pool is taken and stays taken: try again soon.
fn too_busy(app: &App, visit: Visit) -> Response {
    app.refusal(
        visit,
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "Busy",
        "The site is checking too many passwords at once. Try again in a minute.",
        Some(Duration::from_secs(60)),
    )
}

/// The same answer whether the username exists or not: the limit is on guessing.
fn too_many_logins(
    app: &App,
    mut visit: Visit,
    next: &NextQuery,
    form: &LoginForm,
    wait: Duration,
) -> Response {
    visit.flash(format!(
        "Too many failed logins. Try again in {}.",
        in_minutes(wait)
    ));
    let mut response = show_login(app, visit, next, form, Errors::new());
    *response.status_mut() = axum::http::StatusCode::TOO_MANY_REQUESTS;
    set_retry_after(&mut response, wait);
    response
}

/// `wait` as a person reads it: whole minutes, at least one.
fn in_minutes(wait: Duration) -> String {
    let minutes = wait.as_secs().div_ceil(60).max(1);
    format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
}

fn query_of(next: &NextQuery) -> String {
    format!(
        "next={}",
        percent_encoding::utf8_percent_encode(
            next.target().unwrap_or("/index"),
            percent_encoding::NON_ALPHANUMERIC
        )
    )
}

/// Logging out asks first: a link cannot do it, only this site's own form (with its
/// token), so that another site cannot log a visitor out.
pub async fn logout_form(State(app): State<SharedApp>, headers: HeaderMap) -> Response {
    let mut visit = app.visit(&headers);
    let Ok(Some(user)) = current_user(&app, &visit).await else {
        return app.redirect(visit, "/index");
    };
    let content = LogoutPage {
        csrf_token: visit.csrf_token(),
    };
    app.page(visit, Page::new(Some("Log out"), Some(user), &content))
}

pub async fn logout(
    State(app): State<SharedApp>,
    CheckedForm { form: _, mut visit }: CheckedForm<LogoutForm>,
) -> Result<Response, WorkError> {
    if let Some(login) = visit.login() {
        app.db.write(move |s| login.end_everywhere(s)).await?;
        app.db.note_write();
    }
    visit.log_out();
    Ok(app.redirect(visit, "/index"))
}

pub async fn register_form(State(app): State<SharedApp>, headers: HeaderMap) -> Response {
    let visit = app.visit(&headers);
    if logged_in(&app, &visit).await {
        return app.redirect(visit, "/index");
    }
    show_register(&app, visit, &RegisterForm::default(), Errors::new())
}

fn show_register(app: &App, mut visit: Visit, form: &RegisterForm, errors: Errors) -> Response {
    let content = RegisterPage {
        csrf_token: visit.csrf_token(),
        fields: vec![
            Field::new("username", "Username", &errors)
                .value(&form.username)
                .autocomplete("username"),
            Field::new("email", "Email", &errors)
                .value(&form.email)
                .kind("email")
                .autocomplete("email"),
            Field::new("password", "Password", &errors)
                .kind("password")
                .autocomplete("new-password"),
            Field::new("password2", "Repeat Password", &errors)
                .kind("password")
                .autocomplete("new-password"),
        ],
    };
    app.page(visit, Page::new(Some("Register"), None, &content))
}

/// The checks a form can make on its own, before the database is asked.
fn check_registration(form: &RegisterForm) -> Errors {
    let mut errors = Errors::new();
    let username = normalized_username(&form.username);
    let username = username.as_str();
    let email = form.email.trim();
    required(&mut errors, "username", username);
    required(&mut errors, "email", email);
    required(&mut errors, "password", &form.password);
    required(&mut errors, "password2", &form.password2);
    for (field, value) in [
        ("username", username),
        ("email", email),
        ("password", form.password.as_str()),
        ("password2", form.password2.as_str()),
    ] {
        check_no_nul(&mut errors, field, value);
    }
    check_length(
        &mut errors,
        "username",
        username,
        max_length::<User>("username"),
    );
    if let Some(refusal) = username_refusal(username) {
        errors.entry("username").or_default().push(refusal.into());
    }
    if !email.is_empty() && !is_valid_email(email) {
        errors
            .entry("email")
            .or_default()
            .push("Invalid email address.".into());
    } else {
        check_length(&mut errors, "email", email, max_length::<User>("email"));
    }
    if !form.password2.is_empty() && form.password != form.password2 {
        errors
            .entry("password2")
            .or_default()
            .push("Field must be equal to password.".into());
    }
    errors
}

/// An address a mail server would take: `local@domain.tld`, checked by `email_address`
/// (RFC 5321/5322), less what a sign-up form has no use for and a page could be fooled by:
/// quoted local parts, addresses at an IP literal, display names, a domain without a dot.
pub fn is_valid_email(email: &str) -> bool {
    use email_address::{EmailAddress, Options};
    let options = Options::default()
        .with_required_tld()
        .without_domain_literal()
        .without_display_text();
    let Ok(address) = EmailAddress::parse_with_options(email, options) else {
        return false;
    };
    let plain_local = !address.local_part().starts_with('"');
    let plain_domain = address
        .domain()
        .split('.')
        .all(|label| !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-'));
    plain_local && plain_domain
}

const USERNAME_TAKEN: &str = "Please use a different username.";
const EMAIL_TAKEN: &str = "Please use a different email address.";
const LOOKALIKE_TAKEN: &str =
    "Please use a different username: this one looks like a username already taken.";

pub async fn register(
    State(app): State<SharedApp>,
    ClientAddress(client): ClientAddress,
    CheckedForm { form, mut visit }: CheckedForm<RegisterForm>,
) -> Result<Response, WorkError> {
    let mut errors = check_registration(&form);
    if !errors.is_empty() {
        return Ok(show_register(&app, visit, &form, errors));
    }
    if let Err(wait) = app.throttle.begin_registration(client) {
        let explanation = format!(
            "Too many registrations from your address. Try again in {}.",
            in_minutes(wait)
        );
        let status = axum::http::StatusCode::TOO_MANY_REQUESTS;
        return Ok(app.refusal(
            visit,
            status,
            "Too many registrations",
            &explanation,
            Some(wait),
        ));
    }
    let (username, email) = (
        normalized_username(&form.username),
        form.email.trim().to_string(),
    );
    let hash = match app.hashing.hash(form.password.clone()).await {
        Ok(Some(hash)) => hash,
        Ok(None) => return Err(WorkError::Failed("cannot hash a password".into())),
        Err(Busy) => return Ok(too_busy(&app, visit)),
    };
    let db = app.db.clone();
    let registered = app
        .db
        .write(move |s| -> Result<Errors, DbError> {
            let mut errors = Errors::new();
            let taken = |column: &str, value: &str, s: &mut dbmigrate::model::Session| {
                let query = User::query();
                let query = match column {
                    "username" => query.filter(user::username.eq(value.to_string())),
                    _ => query.filter(user::email.eq(value.to_string())),
                };
                query.count().get_result::<i64>(s.conn()).map(|n| n > 0)
            };
            if taken("username", &username, s)? {
                errors.insert("username", vec![USERNAME_TAKEN.into()]);
            } else if lookalike_taken(s.conn(), &username)? {
                errors.insert("username", vec![LOOKALIKE_TAKEN.into()]);
            }
            if taken("email", &email, s)? {
                errors.insert("email", vec![EMAIL_TAKEN.into()]);
            }
            if !errors.is_empty() {
                return Ok(errors);
            }
            let mut new_user = User::new(&username, &email);
            new_user.password_hash = Some(hash);
            s.add(new_user);
            match s.commit() {
                // Another registration took the name between the check and the insert.
                Err(DbError::Constraint(ConstraintViolation::Unique { columns, .. })) => {
                    if columns.iter().any(|c| c == "email") {
                        errors.insert("email", vec![EMAIL_TAKEN.into()]);
                    } else {
                        errors.insert("username", vec![USERNAME_TAKEN.into()]);
                    }
                    Ok(errors)
                }
                other => other.map(|()| {
                    db.note_write();
                    errors
                }),
            }
        })
        .await?;
    if registered.is_empty() {
        visit.flash("Congratulations, you are now a registered user!");
        return Ok(app.redirect(visit, "/login"));
    }
    errors.extend(registered);
    Ok(show_register(&app, visit, &form, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses_are_checked_for_their_shape() {
        for good in [
            "john@example.com",
            "a.b+c@mail.example.org",
            "o'brien@example.ie",
            "ü@exämple.de",
        ] {
            assert!(is_valid_email(good), "{good}");
        }
        for bad in [
            "john",
            "john@",
            "@example.com",
            "john@example",
            "jo hn@example.com",
            "john@exa mple.com",
            "john@-x.com",
            "a@b@c.com",
            "a<b>@x.org",
            "\"><x>@x.org",
            "a..b@x.org",
            ".a@x.org",
            "a.@x.org",
            "a,b@x.org",
            "\"a b\"@x.org",
            "a@[127.0.0.1]",
            "John <john@example.com>",
            "a@x..org",
            "a@x_y.org",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn next_only_leads_inside_the_site() {
        let next = |n: &str| NextQuery {
            next: Some(n.into()),
        };
        assert_eq!(next("/user/john").target(), Some("/user/john"));
        assert_eq!(next("//evil.example").target(), None);
        assert_eq!(next("https://evil.example").target(), None);
        assert_eq!(next("/\\evil.example").target(), None);
        assert_eq!(
            next("/\t/evil.example").target(),
            None,
            "a tab is dropped by browsers"
        );
        assert_eq!(next("/\n/evil.example").target(), None);
        assert_eq!(next("/index\r\nSet-Cookie: x=1").target(), None);
        assert_eq!(next("/ /evil.example").target(), None);
        assert_eq!(
            next("/user/john?page=2").target(),
            Some("/user/john?page=2")
        );
        assert_eq!(
            next("/user/zoë").location().as_deref(),
            Some("/user/zo%C3%AB"),
            "written into Location as a browser sends it"
        );
    }
}
