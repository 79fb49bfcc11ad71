//! `db`: the database the URL names, with its session.

use diesel::prelude::*;

use crate::migrations::APPLICATION;
use crate::models::{self, post, user};
use dbmigrate::cli::{Chosen, NotReady, Prepared, prepare_database};
use dbmigrate::migrate::Event;
use dbmigrate::model::{DbError, Session};
use dbmigrate::{ConnectError, DatabaseUrl, connect};

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

    /// Makes sure the schema is the one this binary's models need, from the chosen
    /// repository: a database with no tables is migrated; any other must already be at its
    /// head, since changing a database that holds data is for `db upgrade` to do, on purpose.
    pub fn prepare(
        &mut self,
        chosen: &Chosen,
        on: impl FnMut(Event),
    ) -> Result<Prepared, NotReady> {
        prepare_database(self.session.conn(), &self.url, &APPLICATION, chosen, on)
    }

    /// On a SQLite file, switches to write-ahead logging (it stays so, in the file):
    /// readers then never wait for a writer, nor a writer for readers, which is what a
    /// web server with many requests at once needs. Commits stay as durable as before.
    pub fn share_between_readers_and_writers(&mut self) -> QueryResult<()> {
        if matches!(
            self.url,
            DatabaseUrl::Sqlite(dbmigrate::SqliteLocation::File(_))
        ) {
            diesel::sql_query("PRAGMA journal_mode = WAL").execute(self.session.conn())?;
        }
        Ok(())
    }

    /// For many rows written at once (`db seed`): on SQLite, a page cache large enough to
    /// hold a batch's changes (up to 64 MiB, taken only as used). With the default 2 MiB, a
    /// transaction of 100,000 posts spills pages to the write-ahead log as it goes and then
    /// looks every page up there again: 55,000 posts a second, against 105,000 with the
    /// larger cache (`db seed --posts 100000 --batch 100000`, in either journal mode).
    pub fn prepare_for_bulk_writes(&mut self) -> QueryResult<()> {
        if self.url.dialect() == dbmigrate::Dialect::Sqlite {
            diesel::sql_query("PRAGMA cache_size = -65536").execute(self.session.conn())?;
        }
        Ok(())
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
