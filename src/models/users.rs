//! What a username may be, and when two names look alike.
//!
//! A name is normalised (NFKC, spaces trimmed) before it is stored, so that `ｊｏｈｎ`
//! (fullwidth) is `john`. Characters that cannot be seen or that turn text around (zero
//! width spaces, bidirectional controls, other default-ignorable code points) are refused.
//! Two names whose confusable skeletons (Unicode TR39: `аlice` with a Cyrillic `а`, `alіce`
//! with a Ukrainian `і`, `a1ice`) are equal cannot both be taken: each user keeps the
//! skeleton of their name in `username_key`, indexed, and a registration looks it up.

use diesel::prelude::*;
use unicode_normalization::UnicodeNormalization;
use unicode_security::GeneralSecurityProfile;
use unicode_security::general_security_profile::IdentifierType;

use super::{NewUser, User, user};

impl User {
    /// `User(username=…, email=…)`.
    #[allow(
        clippy::new_ret_no_self,
        reason = "the chapter's constructor makes an unsaved object"
    )]
    pub fn new(username: &str, email: &str) -> NewUser {
        NewUser {
            username: Some(username.to_string()),
            username_key: Some(username_key(username)),
            email: Some(email.to_string()),
            ..NewUser::default()
        }
    }
}

/// The user whose key is `id`; its columns in declaration order.
#[diesel::dsl::auto_type(no_type_alias)]
pub fn user_with_id(id: i32) -> _ {
    user::table.filter(user::id.eq(id))
}

/// The user named `name` (a name is unique); its columns in declaration order.
#[diesel::dsl::auto_type(no_type_alias)]
pub fn user_named<'a>(name: &'a str) -> _ {
    user::table.filter(user::username.eq(name))
}

/// The name as it is stored: NFKC, without spaces around it.
pub fn normalized_username(name: &str) -> String {
    name.trim().nfkc().collect()
}

/// Why a (normalised) name cannot be a username, if it cannot.
pub fn username_refusal(name: &str) -> Option<&'static str> {
    if name.chars().any(char::is_control) {
        return Some("A username cannot hold control characters.");
    }
    if name.chars().any(|c| c.is_whitespace() && c != ' ') {
        return Some("A username cannot hold tabs, line breaks or unusual spaces.");
    }
    let unseen = name.chars().any(|c| {
        c.identifier_type().is_some_and(|kind| {
            matches!(
                kind,
                IdentifierType::Default_Ignorable | IdentifierType::Not_Character
            )
        })
    });
    if unseen {
        return Some(
            "A username cannot hold invisible characters or characters that change the direction of text.",
        );
    }
    if name.contains("  ") {
        return Some("A username cannot hold two spaces in a row.");
    }
    None
}

/// The most characters of a skeleton kept (the column's length): longer ones, rare, are
/// compared on that much.
const KEY_LENGTH: usize = 255;

/// The confusable skeleton of a name (Unicode TR39): names that look alike have the same.
pub fn username_key(name: &str) -> String {
    unicode_security::skeleton(&normalized_username(name))
        .take(KEY_LENGTH)
        .collect()
}

/// How many users without a key are given one at a time.
const KEY_BATCH: i64 = 500;

/// Gives up to `KEY_BATCH` (500) users made before keys were kept (or by another program)
/// their key, in one transaction; how many were given one.
pub fn fill_username_keys(conn: &mut dbmigrate::AnyConnection) -> QueryResult<usize> {
    conn.transaction(|conn| {
        let keyless: Vec<(i32, Option<String>)> = user::table
            .filter(user::username_key.is_null())
            .select((user::id, user::username))
            .order(user::id)
            .limit(KEY_BATCH)
            .load(conn)?;
        for (id, username) in &keyless {
            let key = username_key(username.as_deref().unwrap_or(""));
            diesel::update(user::table.filter(user::id.eq(id)))
                .set(user::username_key.eq(key))
                .execute(conn)?;
        }
        Ok(keyless.len())
    })
}

/// Whether a user other than one named exactly `name` has a name that looks like it.
/// Users without a key yet are given theirs first (the server does so in the background
/// when it starts, so that there are few left by then).
pub fn lookalike_taken(conn: &mut dbmigrate::AnyConnection, name: &str) -> QueryResult<bool> {
    while fill_username_keys(conn)? > 0 {}
    let others: i64 = user::table
        .filter(user::username_key.eq(username_key(name)))
        .filter(user::username.ne(name))
        .count()
        .get_result(conn)?;
    Ok(others > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_look_alike_have_the_same_key() {
        let alice = username_key("alice");
        for lookalike in [
            "\u{430}lice",
            "al\u{456}ce",
            "a1ice",
            "ａｌｉｃｅ",
            " alice ",
        ] {
            assert_eq!(username_key(lookalike), alice, "{lookalike:?}");
        }
        assert_ne!(username_key("alicia"), alice);
        assert_ne!(username_key("bob"), alice);
    }

    #[test]
    fn a_name_is_stored_in_its_compatibility_form() {
        assert_eq!(normalized_username(" ｊｏｈｎ "), "john");
        assert_eq!(normalized_username("ﬁona"), "fiona");
        assert_eq!(normalized_username("Zoë"), "Zoë");
    }

    #[test]
    fn invisible_and_direction_changing_characters_are_refused() {
        for bad in [
            "ali\u{200b}ce",
            "ali\u{200d}ce",
            "\u{202e}ecila",
            "bob\u{2066}",
            "al\u{ad}ice",
            "ann\tlee",
            "ann  lee",
        ] {
            assert!(
                username_refusal(&normalized_username(bad)).is_some(),
                "{bad:?}"
            );
        }
        for good in ["alice", "Ann Lee", "Zoë", "李小龙", "o'brien"] {
            assert_eq!(
                username_refusal(&normalized_username(good)),
                None,
                "{good:?}"
            );
        }
    }
}
