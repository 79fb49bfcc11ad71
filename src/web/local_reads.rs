//! The pages' reads on SQLite, through Diesel's own SQLite connection rather than the
//! three-database wrapper, and without building model structs for the listed posts.
//!
//! In a call-graph profile of the logged-in index page, the reads through the wrapper were
//! 46% of the page's CPU, of which SQLite itself executing the statements was 18%: the
//! wrapper's statements are cached by their SQL, which Diesel wrote out again for every
//! request (10%), and Diesel reads a timestamp by trying chrono's format parser on the
//! stored text (7%). Here the statements are cached by their type, a post is read as the
//! three columns the page shows, and a timestamp in the form this application stores is
//! read digit by digit (anything else goes to Diesel's reader, unchanged).
//!
//! A page's reads run in one read transaction, which takes the write-ahead log's locks once
//! for all of them, and the visitor's user is kept between requests as on PostgreSQL
//! (`user_cache.rs`), under the version of the data the connection sees (`PRAGMA
//! data_version`, read in that same transaction): a write by any other connection, of this
//! process or another, changes it, and this process's own writes are counted beside it.
//!
//! The queries are the site's (`models::posts_of`, `models::user_named`, and the columns of
//! `models::newest_with_authors` the page shows), so the pages read the same rows on every
//! database.

use std::marker::PhantomData;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::Timestamp;
use diesel::sqlite::{Sqlite, SqliteConnection, SqliteType};

use super::pool::sqlite_data_version;
use super::user_cache::UserCache;
use super::visit::Login;
use crate::models::{User, post, posts_of, user, user_named};

/// A post as a page lists it: its text, when it was written, its author's name.
pub type ListedPost = (Option<String>, Option<NaiveDateTime>, Option<String>);

/// Runs `reads` in one read transaction (`BEGIN` is deferred: it takes no lock until the
/// first read, and never the write lock for reads).
pub fn in_one_read<T>(
    conn: &mut SqliteConnection,
    reads: impl FnOnce(&mut SqliteConnection) -> QueryResult<T>,
) -> QueryResult<T> {
    FixedSql::<()>::new("BEGIN").execute(conn)?;
    match reads(conn) {
        Ok(read) => {
            FixedSql::<()>::new("COMMIT").execute(conn)?;
            Ok(read)
        }
        Err(e) => {
            // What failed is the error to report; a rollback that fails too adds nothing.
            let _ = FixedSql::<()>::new("ROLLBACK").execute(conn);
            Err(e)
        }
    }
}

/// The visitor's user, if there is a login and the session still holds for it: kept from
/// an earlier request while the data this connection sees is unchanged, read otherwise.
pub fn visitor(
    conn: &mut SqliteConnection,
    login: Option<Login>,
    users: &UserCache,
) -> QueryResult<Option<User>> {
    let Some(login) = login else {
        return Ok(None);
    };
    let version = sqlite_data_version(conn)?;
    let user = match users.get(login.user_id(), version) {
        Some(user) => Some(user),
        None => {
            let read = user::table
                .find(login.user_id())
                .first::<User>(conn)
                .optional()?;
            if let Some(user) = &read {
                users.put(version, user);
            }
            read
        }
    };
    Ok(user.filter(|user| login.holds_for(user)))
}

/// The index page's posts: `limit` from `offset`, newest first, each with its author's name.
pub fn newest_posts(
    conn: &mut SqliteConnection,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<ListedPost>> {
    let rows: Vec<(Option<String>, Option<StoredTime>, Option<String>)> = post::table
        .left_join(user::table)
        .order((post::timestamp.desc(), post::id.desc()))
        .limit(limit)
        .offset(offset)
        .select((post::body, post::timestamp, user::username.nullable()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(body, time, author)| (body, time.map(|t| t.0), author))
        .collect())
}

/// The user named `username`, and `limit` of their posts from `offset`, newest first.
pub fn user_and_posts(
    conn: &mut SqliteConnection,
    username: &str,
    limit: i64,
    offset: i64,
) -> QueryResult<Option<(User, Vec<ListedPost>)>> {
    let Some(shown) = user_named(username).first::<User>(conn).optional()? else {
        return Ok(None);
    };
    let rows: Vec<(Option<String>, Option<StoredTime>)> = posts_of(shown.id, limit, offset)
        .select((post::body, post::timestamp))
        .load(conn)?;
    let posts = rows
        .into_iter()
        .map(|(body, time)| (body, time.map(|t| t.0), shown.username.clone()))
        .collect();
    Ok(Some((shown, posts)))
}

/// SQL text without parameters whose rows are of type `ST` (none for `()`), prepared once
/// per connection: Diesel's own transactions send `BEGIN` and `COMMIT` as text, parsed each
/// time, and SQLite's `pragma_data_version` function prepares its pragma again at every
/// read.
pub struct FixedSql<ST = ()>(&'static str, PhantomData<ST>);

impl<ST> FixedSql<ST> {
    pub const fn new(sql: &'static str) -> FixedSql<ST> {
        FixedSql(sql, PhantomData)
    }
}

impl<ST> QueryId for FixedSql<ST> {
    type QueryId = ();
    // Not one type per text: the cache would take one text for another.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST> Query for FixedSql<ST> {
    type SqlType = ST;
}

impl<ST> QueryFragment<Sqlite> for FixedSql<ST> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql(self.0);
        Ok(())
    }
}

impl<ST> RunQueryDsl<SqliteConnection> for FixedSql<ST> {}

/// A `Timestamp` column's value, read without a format parser when it is stored as this
/// application writes it.
#[derive(FromSqlRow)]
struct StoredTime(NaiveDateTime);

impl FromSql<Timestamp, Sqlite> for StoredTime {
    fn from_sql(mut value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        if value.value_type() == Some(SqliteType::Text)
            && let Some(time) = time_as_stored(value.read_text())
        {
            return Ok(StoredTime(time));
        }
        <NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(value).map(StoredTime)
    }
}

/// `YYYY-MM-DD HH:MM:SS`, then nothing or a fraction of up to nine digits: what Diesel (and
/// SQLAlchemy) write. `None` for anything else, which Diesel's reader then parses.
fn time_as_stored(text: &str) -> Option<NaiveDateTime> {
    let bytes = text.as_bytes();
    let separators = [(4, b'-'), (7, b'-'), (10, b' '), (13, b':'), (16, b':')];
    if bytes.len() < 19 || separators.iter().any(|&(at, sep)| bytes[at] != sep) {
        return None;
    }
    let number = |digits: &[u8]| -> Option<u32> {
        digits.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let nanos = match &bytes[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            number(fraction)? * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    let year = i32::try_from(number(&bytes[0..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, number(&bytes[5..7])?, number(&bytes[8..10])?)?.and_hms_nano_opt(
        number(&bytes[11..13])?,
        number(&bytes[14..16])?,
        number(&bytes[17..19])?,
        nanos,
    )
}

#[cfg(test)]
mod tests {
    use super::time_as_stored;
    use chrono::NaiveDateTime;

    #[test]
    fn a_stored_time_reads_as_chronos_parser_reads_it() {
        for text in [
            "2025-03-04 05:06:07.123456",
            "2025-03-04 05:06:07",
            "1999-12-31 23:59:59.9",
            "0001-01-01 00:00:00.000000001",
            "2024-02-29 12:00:00.5",
        ] {
            let expected = NaiveDateTime::parse_from_str(text, "%F %T%.f").unwrap();
            assert_eq!(time_as_stored(text), Some(expected), "{text}");
        }
    }

    #[test]
    fn any_other_text_is_left_to_diesels_reader() {
        for text in [
            "2023-02-29 12:00:00",
            "2025-03-04T05:06:07",
            "2025-03-04 05:06",
            "2025-03-04 24:00:00",
            "2025-03-04 23:59:60",
            "2025-03-04 05:06:07.",
            "2025-03-04 05:06:07.1234567890",
            "2025-03-04 05:06:07+01:00",
            "2025-03-04 05:06:07Z",
            "2025-3-04 05:06:07",
            "2025-03-04 05:06:0x",
            "2460000.5",
            "",
        ] {
            assert_eq!(time_as_stored(text), None, "{text}");
        }
    }
}
