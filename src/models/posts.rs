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
        newest_with_authors(limit, offset).load(conn)
    }
}

/// The index page's query: `limit` posts from `offset`, newest first, each with its author's
/// name. Its columns are the post's in declaration order, then the name.
#[diesel::dsl::auto_type(no_type_alias)]
pub fn newest_with_authors(limit: i64, offset: i64) -> _ {
    let post_columns: <post::table as Table>::AllColumns = post::all_columns;
    post::table
        .left_join(user::table)
        .order((post::timestamp.desc(), post::id.desc()))
        .limit(limit)
        .offset(offset)
        .select((post_columns, user::username.nullable()))
}

/// A user's page's query: `limit` of the user's posts from `offset`, newest first.
#[diesel::dsl::auto_type(no_type_alias)]
pub fn posts_of(user_id: i32, limit: i64, offset: i64) -> _ {
    post::table
        .filter(post::user_id.eq(user_id))
        .order((post::timestamp.desc(), post::id.desc()))
        .limit(limit)
        .offset(offset)
}
