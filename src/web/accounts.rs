//! Registering, logging in and out. Passwords are kept only as Argon2id hashes.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, PasswordHash};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use diesel::prelude::*;
use minijinja::Value;
use minijinja::value::Serde;
use serde::Deserialize;

use super::client_address::ClientAddress;
use super::forms::{CheckedForm, carries_csrf_token};
use super::pages::{Errors, check_length, check_no_nul, current_user};
use super::visit::Visit;
use super::{App, Page, SharedApp, WorkError};
use crate::models::{User, max_length, user};
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

carries_csrf_token!(LoginForm, RegisterForm);

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
    let csrf_token = visit.csrf_token();
    app.page(
        visit,
        Page::new(
            "login.html",
            None,
            minijinja::context! {
                title => "Sign In",
                action => action,
                csrf_token => csrf_token,
                form => minijinja::context! {
                    username => form.username.clone(),
                    remember_me => form.remember_me.is_some(),
                },
                errors => Value::from(Serde(&errors)),
            },
        ),
    )
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
    let username = form.username.trim().to_string();
    let attempt = match app.logins.begin(&username, client) {
        Ok(attempt) => attempt,
        Err(wait) => return Ok(too_many_logins(&app, visit, &next, &form, wait)),
    };
    let found = app
        .db
        .run(move |s| {
            user::table
                .filter(user::username.eq(&username))
                .first::<User>(s.conn())
                .optional()
        })
        .await?;
    let password = form.password.clone();
    let stored = found.as_ref().and_then(|u| u.password_hash.clone());
    let verified =
        tokio::task::spawn_blocking(move || verify_password(stored.as_deref(), &password))
            .await
            .unwrap_or(false);
    match found {
        Some(user) if verified => {
            app.logins.succeeded(attempt);
            visit.log_in(&user, form.remember_me.is_some());
            Ok(app.redirect(visit, next.target().unwrap_or("/index")))
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

/// The same answer whether the username exists or not: the limit is on guessing.
fn too_many_logins(
    app: &App,
    mut visit: Visit,
    next: &NextQuery,
    form: &LoginForm,
    wait: std::time::Duration,
) -> Response {
    let minutes = wait.as_secs().div_ceil(60).max(1);
    visit.flash(format!(
        "Too many failed logins. Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    ));
    let mut response = show_login(app, visit, next, form, Errors::new());
    *response.status_mut() = axum::http::StatusCode::TOO_MANY_REQUESTS;
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        wait.as_secs().max(1).into(),
    );
    response
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

pub async fn logout(
    State(app): State<SharedApp>,
    headers: HeaderMap,
) -> Result<Response, WorkError> {
    let mut visit = app.visit(&headers);
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
    let csrf_token = visit.csrf_token();
    app.page(
        visit,
        Page::new(
            "register.html",
            None,
            minijinja::context! {
                title => "Register",
                csrf_token => csrf_token,
                form => minijinja::context! { username => form.username.clone(), email => form.email.clone() },
                errors => Value::from(Serde(&errors)),
            },
        ),
    )
}

/// The checks a form can make on its own, before the database is asked.
fn check_registration(form: &RegisterForm) -> Errors {
    let mut errors = Errors::new();
    let username = form.username.trim();
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

/// An address of the form `local@domain.tld`, with no spaces: what email-validator's
/// syntax check lets through, near enough for a sign-up form.
pub fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let labels: Vec<&str> = domain.split('.').collect();
    !local.is_empty()
        && local.len() <= 64
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && !local.contains('@')
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

const USERNAME_TAKEN: &str = "Please use a different username.";
const EMAIL_TAKEN: &str = "Please use a different email address.";

pub async fn register(
    State(app): State<SharedApp>,
    CheckedForm { form, mut visit }: CheckedForm<RegisterForm>,
) -> Result<Response, WorkError> {
    let mut errors = check_registration(&form);
    if !errors.is_empty() {
        return Ok(show_register(&app, visit, &form, errors));
    }
    let (username, email) = (
        form.username.trim().to_string(),
        form.email.trim().to_string(),
    );
    let password = form.password.clone();
    let Ok(Ok(hash)) = tokio::task::spawn_blocking(move || hash_password(&password)).await else {
        return Err(WorkError::Failed("cannot hash a password".into()));
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

pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    Ok(Argon2::default()
        .hash_password(password.as_bytes())?
        .to_string())
}

/// Whether `password` is the one `stored` was made from. Without a stored hash (no such
/// user, or one without a password) a hash is checked all the same, so that the answer
/// takes as long and says nothing of which usernames exist.
fn verify_password(stored: Option<&str>, password: &str) -> bool {
    static STAND_IN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    match stored {
        Some(hash) => password_matches(hash, password),
        None => {
            let stand_in = STAND_IN.get_or_init(|| {
                hash_password("a password nobody has").expect("hashing a constant works")
            });
            let _ = password_matches(stand_in, password);
            false
        }
    }
}

pub fn password_matches(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_kept_as_a_salted_hash_that_verifies() {
        let hash = hash_password("cat").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains("cat"));
        assert_ne!(hash, hash_password("cat").unwrap(), "salted");
        assert!(password_matches(&hash, "cat"));
        assert!(!password_matches(&hash, "dog"));
        assert!(!password_matches("not a hash", "cat"));
    }

    #[test]
    fn email_addresses_are_checked_for_their_shape() {
        for good in ["john@example.com", "a.b+c@mail.example.org", "ü@exämple.de"] {
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
    }
}
