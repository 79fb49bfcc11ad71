//! The chapter's models: `User` and `Post`, one user to many posts.
//!
//! Each model is declared once, in `declared` below: its columns (type, length,
//! nullability, index, uniqueness, defaults, foreign keys) and relationships. The Diesel
//! tables (`user`, `post`), the insert structs (`NewUser`, `NewPost`), the engine's schema
//! (`schema()`), the column descriptors the unit of work, the shell and the forms use, and
//! the relationship methods (`user.posts()`, `post.author(conn)`, `NewPost::author`) are
//! all generated from it. `users.rs` and `posts.rs` hold behaviour only.

mod posts;
mod users;

use dbmigrate::model::Model;

#[dbmigrate::models]
mod declared {
    use super::utc_now;
    use chrono::NaiveDateTime;

    #[model(table = "user", repr = "<User {username}>")]
    pub struct User {
        #[column(primary_key)]
        pub id: i32,
        #[column(length = 64, index, unique)]
        pub username: Option<String>,
        #[column(length = 120, index, unique)]
        pub email: Option<String>,
        #[column(length = 128)]
        pub password_hash: Option<String>,
        /// Raised when the user logs out or changes password: a session cookie carrying an
        /// earlier one is no longer honoured, wherever it was copied to.
        #[column(server_default = "0")]
        pub session_generation: i32,
        /// The confusable skeleton of `username` (see `users.rs`): names that look alike
        /// share it, so a registration can refuse a lookalike of a name already taken.
        #[column(length = 255, index)]
        pub username_key: Option<String>,
    }

    /// A user's page reads their newest posts from `ix_post_user_id_timestamp` in order;
    /// it serves the foreign key as well.
    #[model(
        table = "post",
        repr = "<Post {body}>",
        index(columns("user_id", "timestamp"), name = "ix_post_user_id_timestamp")
    )]
    pub struct Post {
        #[column(primary_key)]
        pub id: i32,
        #[column(length = 140)]
        pub body: Option<String>,
        /// UTC, to the microsecond.
        #[column(index, default = utc_now)]
        pub timestamp: Option<NaiveDateTime>,
        #[column(foreign_key = User, relationship = author, backref = posts)]
        pub user_id: Option<i32>,
    }
}

pub use declared::*;
pub use posts::{newest_with_authors, posts_of};
pub use users::{
    fill_username_keys, lookalike_taken, normalized_username, user_named, user_with_id,
    username_key, username_refusal,
};

/// Now, in UTC, to the microsecond: the precision all three databases keep, so that a
/// timestamp reads back as the instant that was written.
pub fn utc_now() -> chrono::NaiveDateTime {
    use chrono::{SubsecRound, Utc};
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// The most characters a column of `M` holds, for forms that must refuse what the database
/// would.
pub fn max_length<M: Model>(column: &str) -> usize {
    M::column(column)
        .and_then(|c| c.info.max_length())
        .unwrap_or(usize::MAX)
}
