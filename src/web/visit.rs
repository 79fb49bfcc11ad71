//! One visitor's session, kept in a cookie signed with SECRET_KEY (HMAC-SHA256): who is
//! logged in, the CSRF token of their forms, and the messages to flash on the next page.
//! Nothing is stored on the server, so any number of instances can serve the same visitor.

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use cookie::time::Duration;
use cookie::{Cookie, CookieJar, Key, SameSite};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha512};

const COOKIE_NAME: &str = "session";
/// The most messages a session keeps for the next page.
const MAX_FLASHES: usize = 3;
const REMEMBER_DAYS: i64 = 30;

/// The signing key, derived from SECRET_KEY of any length.
pub fn signing_key(secret: &str) -> Key {
    Key::from(Sha512::digest(secret.as_bytes()).as_slice())
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Data {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_id: Option<i32>,
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
        let data = jar
            .signed(key)
            .get(COOKIE_NAME)
            .and_then(|c| serde_json::from_str(c.value()).ok())
            .unwrap_or_default();
        Visit {
            data,
            changed: false,
        }
    }

    pub fn user_id(&self) -> Option<i32> {
        self.data.user_id
    }

    pub fn log_in(&mut self, user_id: i32, remember: bool) {
        self.data.user_id = Some(user_id);
        self.data.remember = remember;
        // A new token after logging in, so that one seen before cannot be replayed.
        self.data.csrf = new_token();
        self.changed = true;
    }

    pub fn log_out(&mut self) {
        self.data.user_id = None;
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
            cookie.set_max_age(Duration::days(REMEMBER_DAYS));
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

fn new_token() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the operating system gives random bytes");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

    #[test]
    fn a_signed_session_comes_back_and_a_forged_one_does_not() {
        let key = signing_key("test key");
        let mut visit = Visit::from_headers(&HeaderMap::new(), &key);
        visit.log_in(7, false);
        let token = visit.csrf_token();
        let back = round_trip(visit, &key, &key);
        assert_eq!(back.user_id(), Some(7));
        assert!(back.csrf_holds(&token));
        assert!(!back.csrf_holds("nope"));

        let mut forged = HeaderMap::new();
        forged.insert(
            COOKIE,
            HeaderValue::from_static("session=xyz{\"user_id\":1}"),
        );
        assert_eq!(Visit::from_headers(&forged, &key).user_id(), None);
        let other_key = signing_key("another key");
        let mut visit = Visit::from_headers(&HeaderMap::new(), &key);
        visit.log_in(7, false);
        assert_eq!(round_trip(visit, &key, &other_key).user_id(), None);
    }

    #[test]
    fn an_unchanged_session_sets_no_cookie() {
        let key = signing_key("k");
        let visit = Visit::from_headers(&HeaderMap::new(), &key);
        let response = visit.finish(Response::new(axum::body::Body::empty()), &key);
        assert!(response.headers().get(SET_COOKIE).is_none());
    }
}
