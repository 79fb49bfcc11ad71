//! `db`: the database the URL names, with its session.

use diesel::prelude::*;

use crate::migrations;
use crate::models::{self, post, user};
use dbmigrate::migrate::{self, Event, MigrateError, UpgradeTarget};
use dbmigrate::model::{DbError, Session};
use dbmigrate::{ConnectError, DatabaseUrl, RepositoryError, connect, history, inspect};

/// Why the application will not start on a database.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(
        "the database is at revision {at}, but this microblog needs {head}; run `microblog db upgrade`"
    )]
    Behind { at: String, head: String },
    #[error(
        "the database is at revision {0}, which this microblog does not know: it was migrated by a newer version"
    )]
    Newer(String),
    #[error(
        "the database has tables but no migration history; if they are microblog's, record them with `microblog db stamp head`"
    )]
    NoHistory,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
    #[error(transparent)]
    Migrate(Box<MigrateError>),
    #[error("{0}")]
    Database(#[from] diesel::result::Error),
}

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

impl From<MigrateError> for SchemaError {
    fn from(error: MigrateError) -> Self {
        SchemaError::Migrate(Box::new(error))
    }
}

impl Database {
    pub fn connect(url: &DatabaseUrl) -> Result<Self, ConnectError> {
        Ok(Database {
            url: url.clone(),
            session: Session::new(connect(url)?, models::schema()),
        })
    }

    /// The session, to keep using the connection after the rest is gone (an in-memory
    /// SQLite database lives only as long as its one connection).
    pub fn into_session(self) -> Session {
        self.session
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Makes sure the schema is the one this binary's models need: a database with no
    /// tables gets the built-in migrations; any other must already be at their head, since
    /// changing a database that holds data is for `db upgrade` to do, on purpose. Returns the
    /// revisions it applied.
    pub fn prepare_schema(&mut self, on: impl FnMut(Event)) -> Result<Vec<String>, SchemaError> {
        let repo = migrations::built_in()?;
        let conn = self.session.conn();
        let status = migrate::status(conn, &repo)?;
        if status.is_at_head(&repo) {
            return Ok(Vec::new());
        }
        let untouched = status.applied.is_empty()
            && status.unknown.is_empty()
            && inspect::table_names(conn)?
                .iter()
                .all(|t| inspect::ENGINE_TABLES.contains(&t.as_str()));
        if untouched {
            return Ok(migrate::upgrade(
                conn,
                &self.url,
                &repo,
                &UpgradeTarget::Head,
                on,
            )?);
        }
        if !status.unknown.is_empty() {
            return Err(SchemaError::Newer(status.position()));
        }
        if status.applied.is_empty() && !history::exists(conn).map_err(MigrateError::from)? {
            return Err(SchemaError::NoHistory);
        }
        let heads = repo.graph().heads().join(", ");
        Err(SchemaError::Behind {
            at: status.position(),
            head: heads,
        })
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
