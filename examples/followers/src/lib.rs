//! The tutorial's models a few chapters on, on the same engine as microblog: chapter 6
//! gives `User` an `about_me` and a `last_seen`, chapter 8 lets users follow each other
//! through the `followers` association table. Each model is declared once; the `db`
//! commands, the relationships and the schema come from the declarations.

use diesel::prelude::*;

use dbmigrate::AnyConnection;
use dbmigrate::cli::Application;
use dbmigrate::model::{DbError, Session};

#[dbmigrate::models]
pub mod models {
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
        #[column(server_default = "0")]
        pub session_generation: i32,
        #[column(length = 255, index)]
        pub username_key: Option<String>,
        #[column(length = 140)]
        pub about_me: Option<String>,
        #[column(default = utc_now)]
        pub last_seen: Option<NaiveDateTime>,
    }

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
        #[column(index, default = utc_now)]
        pub timestamp: Option<NaiveDateTime>,
        #[column(foreign_key = User, relationship = author, backref = posts)]
        pub user_id: Option<i32>,
    }

    /// Who follows whom.
    #[model(
        table = "followers",
        many_to_many(from = follower_id, to = followed_id, forward = following, backward = followers)
    )]
    pub struct Follow {
        #[column(primary_key, foreign_key = User)]
        pub follower_id: i32,
        #[column(primary_key, foreign_key = User)]
        pub followed_id: i32,
    }
}

pub use models::{Follow, NewFollow, NewPost, NewUser, Post, User, schema};

mod files {
    include!(concat!(env!("OUT_DIR"), "/built_in_migrations.rs"));
}

/// What `followers db …` knows of this application.
pub const APPLICATION: Application = Application {
    name: "followers",
    schema: models::schema,
    built_in: files::FILES,
};

/// Now, in UTC, to the microsecond, the precision every database keeps.
pub fn utc_now() -> chrono::NaiveDateTime {
    use chrono::{SubsecRound, Utc};
    Utc::now().naive_utc().trunc_subsecs(6)
}

impl User {
    /// `User(username=…, email=…)`.
    #[allow(
        clippy::new_ret_no_self,
        reason = "the tutorial's constructor makes an unsaved object"
    )]
    pub fn new(username: &str, email: &str) -> NewUser {
        NewUser {
            username: Some(username.to_string()),
            email: Some(email.to_string()),
            ..NewUser::default()
        }
    }

    /// The user called `username`.
    pub fn named(conn: &mut AnyConnection, username: &str) -> QueryResult<Option<User>> {
        User::query()
            .filter(models::user::username.eq(username))
            .first(conn)
            .optional()
    }

    pub fn is_following(&self, conn: &mut AnyConnection, other: &User) -> QueryResult<bool> {
        self.following()
            .filter(models::user::id.eq(other.id))
            .count()
            .get_result::<i64>(conn)
            .map(|n| n > 0)
    }

    /// Follows `other` at the next commit, unless already following.
    pub fn follow(&self, session: &mut Session, other: &User) -> Result<(), DbError> {
        if !self.is_following(session.conn(), other)? {
            session.add(NewFollow {
                follower_id: Some(self.id),
                followed_id: Some(other.id),
            });
        }
        Ok(())
    }

    /// Stops following `other` at the next commit.
    pub fn unfollow(&self, session: &mut Session, other: &User) -> Result<(), DbError> {
        if self.is_following(session.conn(), other)? {
            session.delete(&Follow {
                follower_id: self.id,
                followed_id: other.id,
            });
        }
        Ok(())
    }
}
