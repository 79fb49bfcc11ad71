use diesel::prelude::*;

use super::tables::{post, user};
use super::{Post, or_none};
use dbmigrate::AnyBackend;

#[derive(Queryable, Selectable, Identifiable, AsChangeset, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = user, treat_none_as_null = true)]
pub struct User {
    pub id: i32,
    pub username: Option<String>,
    pub email: Option<String>,
    pub password_hash: Option<String>,
}

/// A user not yet written: the database assigns the id.
#[derive(Insertable, Debug, Clone, Default, PartialEq, Eq)]
#[diesel(table_name = user)]
pub struct NewUser {
    pub username: Option<String>,
    pub email: Option<String>,
    pub password_hash: Option<String>,
}

impl User {
    /// `User(username=…, email=…)`.
    #[allow(
        clippy::new_ret_no_self,
        reason = "the chapter's constructor makes an unsaved object"
    )]
    pub fn new(username: &str, email: &str) -> NewUser {
        NewUser {
            username: Some(username.to_string()),
            email: Some(email.to_string()),
            password_hash: None,
        }
    }

    /// `User.query`: every user, to refine with `filter`, `order`, `limit`, `offset`.
    pub fn query() -> user::BoxedQuery<'static, AnyBackend> {
        user::table.into_boxed()
    }

    /// `user.posts`: this user's posts as a query, not a loaded list (the chapter's
    /// `lazy='dynamic'`), so that callers can still order, page and count it.
    pub fn posts(&self) -> post::BoxedQuery<'static, AnyBackend> {
        Post::query().filter(post::user_id.eq(self.id))
    }
}

impl std::fmt::Display for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<User {}>", or_none(&self.username))
    }
}

impl std::fmt::Display for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<User {}>", or_none(&self.username))
    }
}
