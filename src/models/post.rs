use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::tables::{post, user};
use super::{User, or_none};
use crate::session::Pending;
use dbmigrate::{AnyBackend, AnyConnection};

#[derive(
    Queryable, Selectable, Identifiable, Associations, AsChangeset, Debug, Clone, PartialEq, Eq,
)]
#[diesel(table_name = post, belongs_to(User), treat_none_as_null = true)]
pub struct Post {
    pub id: i32,
    pub body: Option<String>,
    /// UTC, to the microsecond.
    pub timestamp: Option<NaiveDateTime>,
    pub user_id: Option<i32>,
}

/// Who wrote a new post: a user already in the database, or one added to the same unit of
/// work whose id is not known until it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorRef {
    Stored(i32),
    Pending(Pending<User>),
}

impl From<&User> for AuthorRef {
    fn from(user: &User) -> Self {
        AuthorRef::Stored(user.id)
    }
}

impl From<Pending<User>> for AuthorRef {
    fn from(pending: Pending<User>) -> Self {
        AuthorRef::Pending(pending)
    }
}

/// A post not yet written. Without a timestamp it gets the current UTC time when written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewPost {
    pub body: Option<String>,
    pub timestamp: Option<NaiveDateTime>,
    pub author: Option<AuthorRef>,
}

/// The row as written, once the author's id is known.
#[derive(Insertable)]
#[diesel(table_name = post)]
pub(crate) struct PostRow<'a> {
    pub body: Option<&'a str>,
    pub timestamp: Option<NaiveDateTime>,
    pub user_id: Option<i32>,
}

impl Post {
    /// `Post(body=…)`; give it an author with [`NewPost::by`].
    #[allow(
        clippy::new_ret_no_self,
        reason = "the chapter's constructor makes an unsaved object"
    )]
    pub fn new(body: &str) -> NewPost {
        NewPost {
            body: Some(body.to_string()),
            ..NewPost::default()
        }
    }

    /// `Post.query`: every post, to refine.
    pub fn query() -> post::BoxedQuery<'static, AnyBackend> {
        post::table.into_boxed()
    }

    /// `post.author`: the user who wrote it, if any.
    pub fn author(&self, conn: &mut AnyConnection) -> QueryResult<Option<User>> {
        let Some(id) = self.user_id else {
            return Ok(None);
        };
        user::table.find(id).first(conn).optional()
    }

    /// The newest posts with their authors, in one query: what the index page shows.
    pub fn newest_with_authors(
        conn: &mut AnyConnection,
        limit: i64,
        offset: i64,
    ) -> QueryResult<Vec<(Post, Option<User>)>> {
        post::table
            .left_join(user::table)
            .order((post::timestamp.desc(), post::id.desc()))
            .limit(limit)
            .offset(offset)
            .select((Post::as_select(), Option::<User>::as_select()))
            .load(conn)
    }
}

impl NewPost {
    /// `Post(body=…, author=u)`.
    pub fn by(mut self, author: impl Into<AuthorRef>) -> Self {
        self.author = Some(author.into());
        self
    }
}

impl std::fmt::Display for Post {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<Post {}>", or_none(&self.body))
    }
}

impl std::fmt::Display for NewPost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<Post {}>", or_none(&self.body))
    }
}
