//! `db`: the database the URL names, with its session.

use diesel::prelude::*;

use crate::models::schema;
use crate::models::tables::{post, user};
use crate::session::{DbError, Session};
use dbmigrate::{ConnectError, DatabaseUrl, Schema, apply, connect, inspect};

pub struct Database {
    url: DatabaseUrl,
    pub session: Session,
}

/// Row counts, for a one-line summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub users: i64,
    pub posts: i64,
}

impl Database {
    pub fn connect(url: &DatabaseUrl) -> Result<Self, ConnectError> {
        Ok(Database {
            url: url.clone(),
            session: Session::new(connect(url)?),
        })
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Creates the model's tables in a database that has none, and says whether it did.
    /// A database that already has tables is left as it is.
    pub fn create_tables_if_empty(&mut self) -> Result<bool, DbError> {
        let conn = self.session.conn();
        if !inspect::table_names(conn)?.is_empty() {
            return Ok(false);
        }
        apply::apply(conn, &schema().creation_ops(), &Schema::default(), |_| {
            Ok(())
        })?;
        Ok(true)
    }

    pub fn counts(&mut self) -> Result<Counts, DbError> {
        let conn = self.session.conn();
        Ok(Counts {
            users: user::table.count().get_result(conn)?,
            posts: post::table.count().get_result(conn)?,
        })
    }
}

impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<Database {}>", self.url)
    }
}
