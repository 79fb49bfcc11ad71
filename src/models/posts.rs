use diesel::prelude::*;

use super::{NewPost, Post, post, user};
use dbmigrate::AnyConnection;

impl Post {
    /// `Post(body=…)`; give it an author with [`NewPost::author`].
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

    /// The newest posts with their authors' names, in one query: what the index page shows.
    pub fn newest_with_authors(
        conn: &mut AnyConnection,
        limit: i64,
        offset: i64,
    ) -> QueryResult<Vec<(Post, Option<String>)>> {
        post::table
            .left_join(user::table)
            .order((post::timestamp.desc(), post::id.desc()))
            .limit(limit)
            .offset(offset)
            .select((Post::as_select(), user::username.nullable()))
            .load(conn)
    }
}
