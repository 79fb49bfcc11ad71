//! One visitor's session, kept in a cookie signed with SECRET_KEY (HMAC-SHA256): who is
//! logged in, the CSRF token of their forms, and the messages to flash on the next page.
//! Nothing is stored on the server, so any number of instances can serve the same visitor.

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use cookie::time::Duration;
use cookie::{Cookie, CookieJar, Key, SameSite};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};

use crate::models::{User, user};
use dbmigrate::model::{DbError, Session};
use diesel::prelude::*;

const COOKIE_NAME: &str = "session";
/// The most messages a session keeps for the next page.
const MAX_FLASHES: usize = 3;
/// How long a login lasts, whatever the browser does with its cookie.
const REMEMBERED_FOR: Duration = Duration::days(30);
const NOT_REMEMBERED_FOR: Duration = Duration::hours(24);

/// The signing key, derived from SECRET_KEY of any length.
pub fn signing_key(secret: &str) -> Key {
    Key::from(Sha512::digest(secret.as_bytes()).as_slice())
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Data {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_id: Option<i32>,
    /// The user's session generation at login; see [`Login`].
    #[serde(default)]
    generation: i32,
    /// When the login ends, in seconds since the Unix epoch.
    #[serde(default)]
    expires: i64,
    /// [`password_tag`] of the user's password hash at login.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    password: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    csrf: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    flashes: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    remember: bool,
}

pub struct Visit {
    data: Data,
    changed: bool,
}

impl Visit {
    /// The session the request's cookie carries; an empty one if it has none, or one whose
    /// signature does not hold.
    pub fn from_headers(headers: &HeaderMap, key: &Key) -> Visit {
        let mut jar = CookieJar::new();
        for value in headers.get_all(COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            for cookie in Cookie::split_parse_encoded(text).flatten() {
                if cookie.name() == COOKIE_NAME {
                    jar.add_original(cookie.into_owned());
                }
            }
        }
        let data: Data = jar
            .signed(key)
            .get(COOKIE_NAME)
            .and_then(|c| serde_json::from_str(c.value()).ok())
            .unwrap_or_default();
        let mut visit = Visit {
            data,
            changed: false,
        };
        if visit.data.user_id.is_some() && visit.data.expires <= unix_now() {
            visit.log_out();
        }
        visit
    }

    /// Who this session says is logged in, until the database says otherwise.
    pub fn login(&self) -> Option<Login> {
        self.data.user_id.map(|user_id| Login {
            user_id,
            generation: self.data.generation,
            password: password_tag_from_hex(&self.data.password),
        })
    }

    pub fn log_in(&mut self, user: &User, remember: bool) {
        self.data.user_id = Some(user.id);
        self.data.generation = user.session_generation;
        self.data.password = hex(&password_tag(user));
        let lasts = if remember {
            REMEMBERED_FOR
        } else {
            NOT_REMEMBERED_FOR
        };
        self.data.expires = unix_now() + lasts.whole_seconds();
        self.data.remember = remember;
        // A new token after logging in, so that one seen before cannot be replayed.
        self.data.csrf = new_token();
        self.changed = true;
    }

    pub fn log_out(&mut self) {
        self.data.user_id = None;
        self.data.generation = 0;
        self.data.expires = 0;
        self.data.password.clear();
        self.data.remember = false;
        self.data.csrf.clear();
        self.changed = true;
    }

    /// The token this visitor's forms carry, made on first use.
    pub fn csrf_token(&mut self) -> String {
        if self.data.csrf.is_empty() {
            self.data.csrf = new_token();
            self.changed = true;
        }
        self.data.csrf.clone()
    }

    /// Whether a submitted token is this visitor's (compared in constant time).
    pub fn csrf_holds(&self, submitted: &str) -> bool {
        let expected = self.data.csrf.as_bytes();
        !expected.is_empty()
            && expected.len() == submitted.len()
            && expected
                .iter()
                .zip(submitted.as_bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    /// Keeps a message for the next page shown. A client that never asks for one (a script
    /// that does not follow redirects) keeps only the last few, so the cookie stays small.
    pub fn flash(&mut self, message: impl Into<String>) {
        let message = message.into();
        let flashes = &mut self.data.flashes;
        flashes.retain(|m| *m != message);
        flashes.push(message);
        let excess = flashes.len().saturating_sub(MAX_FLASHES);
        flashes.drain(..excess);
        self.changed = true;
    }

    pub fn has_flashes(&self) -> bool {
        !self.data.flashes.is_empty()
    }

    /// The messages to show now; they are then gone.
    pub fn take_flashes(&mut self) -> Vec<String> {
        if self.data.flashes.is_empty() {
            return Vec::new();
        }
        self.changed = true;
        std::mem::take(&mut self.data.flashes)
    }

    /// Adds the cookie to `response` when the session changed.
    pub fn finish(self, mut response: Response, key: &Key) -> Response {
        if !self.changed {
            return response;
        }
        let mut cookie = Cookie::new(
            COOKIE_NAME,
            serde_json::to_string(&self.data).expect("session data serializes"),
        );
        cookie.set_path("/");
        cookie.set_http_only(true);
        cookie.set_same_site(SameSite::Lax);
        if self.data.remember {
            cookie.set_max_age(REMEMBERED_FOR);
        }
        let mut jar = CookieJar::new();
        jar.signed_mut(key).add(cookie);
        for cookie in jar.delta() {
            if let Ok(value) = HeaderValue::from_str(&cookie.encoded().to_string()) {
                response.headers_mut().append(SET_COOKIE, value);
            }
        }
        response
    }
}

/// A logged-in session as its cookie states it. It holds only while the user's session
/// generation and password are still those it was issued with: logging out raises the
/// generation, which ends every copy of every session the user had, and so does a new
/// password, however it was set.
#[derive(Debug, Clone, Copy)]
pub struct Login {
    user_id: i32,
    generation: i32,
    password: Option<PasswordTag>,
}

/// A short digest of a password hash: enough to notice that the hash changed.
type PasswordTag = [u8; 8];

fn password_tag(user: &User) -> PasswordTag {
    let digest = Sha256::digest(user.password_hash.as_deref().unwrap_or("").as_bytes());
    digest[..8]
        .try_into()
        .expect("a SHA-256 digest is longer than 8 bytes")
}

fn password_tag_from_hex(text: &str) -> Option<PasswordTag> {
    let mut tag = PasswordTag::default();
    if text.len() != 2 * tag.len() {
        return None;
    }
    for (byte, pair) in tag.iter_mut().zip(text.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(tag)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Login {
    /// The user, if they exist and this session has not been ended since.
    pub fn user(self, session: &mut Session) -> Result<Option<User>, DbError> {
        Ok(session
            .get::<User>(self.user_id)?
            .filter(|user| self.holds_for(user)))
    }

    /// Whether this session still holds for `user`'s row as it is.
    pub fn holds_for(&self, user: &User) -> bool {
        user.id == self.user_id
            && user.session_generation == self.generation
            && self.password == Some(password_tag(user))
    }

    pub fn user_id(&self) -> i32 {
        self.user_id
    }

    /// Ends this session and every other the user has, on every device.
    pub fn end_everywhere(self, session: &mut Session) -> Result<(), DbError> {
        let dialect = session.conn().dialect();
        diesel::update(
            user::table
                .filter(user::id.eq(self.user_id))
                .filter(user::session_generation.eq(self.generation)),
        )
        .set(user::session_generation.eq(user::session_generation + 1))
        .execute(session.conn())
        .map_err(|e| DbError::from_database(e, dialect, session.schema()))?;
        Ok(())
    }
}

fn unix_now() -> i64 {
    cookie::time::OffsetDateTime::now_utc().unix_timestamp()
}

fn new_token() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the operating system gives random bytes");
    hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The visit as the next request brings it back, signed with `key`, read with `reader`.
    fn round_trip(visit: Visit, key: &Key, reader: &Key) -> Visit {
        let response = visit.finish(Response::new(axum::body::Body::empty()), key);
        let set_cookie = response
            .headers()
            .get(SET_COOKIE)
            .unwrap()
            .to_str()
            .unwrap();
        let pair = set_cookie.split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(pair).unwrap());
        Visit::from_headers(&headers, reader)
    }

    fn user_seven() -> User {
        User {
            id: 7,
            username: Some("seven".into()),
            email: None,
            password_hash: None,
            session_generation: 3,
            username_key: None,
        }
    }

    fn logged_in_user(visit: &Visit) -> Option<i32> {
        visit.login().map(|login| login.user_id)
    }

    #[test]
    fn a_signed_session_comes_back_and_a_forged_one_does_not() {
        let key = signing_key("test key");
        let mut visit = Visit::from_headers(&HeaderMap::new(), &key);
        visit.log_in(&user_seven(), false);
        let token = visit.csrf_token();
        let back = round_trip(visit, &key, &key);
        assert_eq!(logged_in_user(&back), Some(7));
        assert_eq!(back.login().unwrap().generation, 3);
        assert!(back.csrf_holds(&token));
        assert!(!back.csrf_holds("nope"));

        let mut forged = HeaderMap::new();
        forged.insert(
            COOKIE,
            HeaderValue::from_static("session=xyz{\"user_id\":1}"),
        );
        assert_eq!(logged_in_user(&Visit::from_headers(&forged, &key)), None);
        let other_key = signing_key("another key");
        let mut visit = Visit::from_headers(&HeaderMap::new(), &key);
        visit.log_in(&user_seven(), false);
        assert_eq!(logged_in_user(&round_trip(visit, &key, &other_key)), None);
    }

    #[test]
    fn an_unchanged_session_sets_no_cookie() {
        let key = signing_key("k");
        let visit = Visit::from_headers(&HeaderMap::new(), &key);
        let response = visit.finish(Response::new(axum::body::Body::empty()), &key);
        assert!(response.headers().get(SET_COOKIE).is_none());
    }

    #[test]
    fn a_login_past_its_expiry_is_over_though_its_signature_holds() {
        let key = signing_key("k");
        let mut visit = Visit::from_headers(&HeaderMap::new(), &key);
        visit.log_in(&user_seven(), true);
        assert!(logged_in_user(&round_trip(visit, &key, &key)).is_some());

        let mut visit = Visit::from_headers(&HeaderMap::new(), &key);
        visit.log_in(&user_seven(), true);
        visit.data.expires = unix_now() - 1;
        let back = round_trip(visit, &key, &key);
        assert_eq!(logged_in_user(&back), None);
        assert!(back.changed, "the expired login is cleared from the cookie");
    }

    #[test]
    fn a_session_cookie_from_before_logins_expired_is_not_a_login() {
        let key = signing_key("k");
        let mut jar = CookieJar::new();
        jar.signed_mut(&key)
            .add(Cookie::new(COOKIE_NAME, r#"{"user_id":7,"remember":true}"#));
        let mut headers = HeaderMap::new();
        let pair = jar.get(COOKIE_NAME).unwrap().encoded().to_string();
        headers.insert(COOKIE, HeaderValue::from_str(&pair).unwrap());
        assert_eq!(logged_in_user(&Visit::from_headers(&headers, &key)), None);
    }
}
