//! The pages' reads on PostgreSQL, over tokio-postgres: a fixed set of connections, each
//! shared by every request that reaches it, so that the queries of concurrent requests
//! travel together on one connection (pipelined) and PostgreSQL wakes once for several.
//! No request waits for a connection to be free, none crosses to a blocking thread, and the
//! number of connections is a hard cap: there is nothing to check out or give back.
//!
//! The SQL is the site's Diesel queries (`models::newest_with_authors`, …) written out for
//! PostgreSQL once, and prepared once per connection. Rows are read into the same model
//! structs through their column descriptors, so a model's new column needs nothing here.
//!
//! A connection that failed, or did not answer within `DB_TIMEOUT`, is dropped and opened
//! again by the next request that reaches its place, so the site recovers by itself when
//! the database comes back. Writes, logins and registrations stay on the Diesel pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use dbmigrate::model::{Model, Value};
use diesel::pg::{Pg, PgQueryBuilder};
use diesel::query_builder::{QueryBuilder, QueryFragment};
use tokio_postgres::config::SslMode;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Config, NoTls, Row, Statement};

use super::pool::{ONE_PLAN_PER_STATEMENT, WorkError, prepared_before_a_schema_change};
use super::visit::Login;
use crate::models::{self, Post, User};
use dbmigrate::dialect::postgres;

/// The index page: posts with their authors' names, and the visitor's user when asked.
pub type IndexRows = (Option<User>, Vec<(Post, Option<String>)>);

/// A user's page: the visitor's user, the user shown, their posts.
pub type UserPageRows = (Option<User>, Option<User>, Vec<Post>);

pub struct Pipelined {
    places: Box<[Place]>,
    next: AtomicUsize,
    config: Config,
    timeout: Duration,
    session_setup: Option<String>,
    statements: StatementsSql,
    on_unreachable: Box<dyn Fn() + Send + Sync>,
}

/// One connection's place: empty until a request needs it, and again after it failed.
struct Place(tokio::sync::Mutex<Option<Arc<Prepared>>>);

struct Prepared {
    client: Client,
    index: Statement,
    user_with_id: Statement,
    user_named: Statement,
    posts_of: Statement,
}

/// The statements' text, written once from the Diesel queries.
struct StatementsSql {
    index: String,
    user_with_id: String,
    user_named: String,
    posts_of: String,
}

impl StatementsSql {
    fn written() -> StatementsSql {
        StatementsSql {
            index: postgres_sql(models::newest_with_authors(0, 0)),
            user_with_id: postgres_sql(models::user_with_id(0)),
            user_named: postgres_sql(models::user_named("")),
            posts_of: postgres_sql(models::posts_of(0, 0, 0)),
        }
    }
}

/// A Diesel query as PostgreSQL's SQL, its values as `$1`, `$2`, … in the order given.
fn postgres_sql(query: impl QueryFragment<Pg>) -> String {
    let mut sql = PgQueryBuilder::new();
    query
        .to_sql(&mut sql, &Pg)
        .expect("the site's queries are written out without values");
    sql.finish()
}

/// The connections' settings from the URL; `None` when it asks for what they do not do
/// (TLS, or a libpq parameter tokio-postgres does not know): the pages then read through
/// the pool.
pub fn config(url: &str) -> Option<Config> {
    let mut config: Config = url.parse().ok()?;
    if config.get_ssl_mode() == SslMode::Require {
        return None;
    }
    config.ssl_mode(SslMode::Disable);
    if config.get_application_name().is_none() {
        config.application_name("microblog");
    }
    Some(config)
}

impl Pipelined {
    /// `connections` to the database `config` describes; `on_unreachable` is called when one
    /// is found cut.
    pub fn new(
        config: Config,
        connections: usize,
        timeout: Duration,
        session_setup: Option<String>,
        on_unreachable: Box<dyn Fn() + Send + Sync>,
    ) -> Pipelined {
        let mut config = config;
        config.connect_timeout(timeout);
        Pipelined {
            places: (0..connections.max(1))
                .map(|_| Place(tokio::sync::Mutex::new(None)))
                .collect(),
            next: AtomicUsize::new(0),
            config,
            timeout,
            session_setup,
            statements: StatementsSql::written(),
            on_unreachable,
        }
    }

    /// How many connections the pages read through.
    pub fn size(&self) -> usize {
        self.places.len()
    }

    /// The index page's rows, `limit` posts from `offset`.
    pub async fn index(
        &self,
        login: Option<Login>,
        limit: i64,
        offset: i64,
    ) -> Result<IndexRows, WorkError> {
        self.read(move |c| async move {
            let values: [&(dyn ToSql + Sync); 2] = [&limit, &offset];
            let posts = async { Ok(c.client.query(&c.index, &values).await?) };
            let (viewer, rows) = tokio::try_join!(visitor(&c, login), posts)?;
            let author = Post::columns().len();
            let rows = rows
                .iter()
                .map(|row| Ok((model_at::<Post>(row, 0)?, row.try_get(author)?)))
                .collect::<Result<_, ReadError>>()?;
            Ok((viewer, rows))
        })
        .await
    }

    /// A user's page's rows: `limit` of `username`'s posts from `offset`.
    pub async fn user_page(
        &self,
        login: Option<Login>,
        username: &str,
        limit: i64,
        offset: i64,
    ) -> Result<UserPageRows, WorkError> {
        let username = Arc::<str>::from(username);
        self.read(move |c| {
            let username = username.clone();
            async move {
                let name: &str = &username;
                let values: [&(dyn ToSql + Sync); 1] = [&name];
                let shown = async { Ok(c.client.query_opt(&c.user_named, &values).await?) };
                let (viewer, shown) = tokio::try_join!(visitor(&c, login), shown)?;
                let shown = shown.as_ref().map(|row| model_at::<User>(row, 0));
                let Some(shown) = shown.transpose()? else {
                    return Ok((viewer, None, Vec::new()));
                };
                let rows = c
                    .client
                    .query(&c.posts_of, &[&shown.id, &limit, &offset])
                    .await?;
                let posts = rows
                    .iter()
                    .map(|row| model_at::<Post>(row, 0))
                    .collect::<Result<_, _>>()?;
                Ok((viewer, Some(shown), posts))
            }
        })
        .await
    }

    /// The visitor's user, if the session still holds for it.
    pub async fn visitor(&self, login: Login) -> Result<Option<User>, WorkError> {
        self.read(move |c| async move { visitor(&c, Some(login)).await })
            .await
    }

    /// Runs `read` on the next connection in turn, within `DB_TIMEOUT`; once more on a new
    /// connection when the database had prepared a statement before a schema change.
    async fn read<T, F, Fut>(&self, read: F) -> Result<T, WorkError>
    where
        F: Fn(Arc<Prepared>) -> Fut,
        Fut: Future<Output = Result<T, ReadError>>,
    {
        let place = &self.places[self.next.fetch_add(1, Ordering::Relaxed) % self.places.len()];
        let outcome = tokio::time::timeout(self.timeout, async {
            let conn = self.connection(place).await?;
            match read(conn.clone()).await {
                Err(ReadError::Database(e)) if prepared_before_a_schema_change(&error_text(&e)) => {
                    place.forget(&conn).await;
                    let conn = self.connection(place).await?;
                    read(conn.clone()).await.map_err(|e| (e, Some(conn)))
                }
                result => result.map_err(|e| (e, Some(conn))),
            }
        })
        .await;
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err((ReadError::Row(why), _))) => Err(WorkError::Failed(why)),
            Ok(Err((ReadError::Database(e), conn))) => {
                if e.as_db_error().is_some() {
                    return Err(WorkError::Failed(error_text(&e)));
                }
                if let Some(conn) = conn {
                    place.forget(&conn).await;
                }
                (self.on_unreachable)();
                Err(WorkError::Unavailable(error_text(&e)))
            }
            Err(_) => {
                // A connection that does not answer is not asked again: the next request
                // here opens a new one.
                *place.0.lock().await = None;
                (self.on_unreachable)();
                Err(WorkError::Unavailable(format!(
                    "no answer within DB_TIMEOUT ({} s)",
                    self.timeout.as_secs_f64()
                )))
            }
        }
    }

    /// The place's connection, opened (and its statements prepared) if it has none.
    async fn connection(
        &self,
        place: &Place,
    ) -> Result<Arc<Prepared>, (ReadError, Option<Arc<Prepared>>)> {
        let mut held = place.0.lock().await;
        if let Some(conn) = held.as_ref().filter(|conn| !conn.client.is_closed()) {
            return Ok(conn.clone());
        }
        *held = None;
        let conn = Arc::new(
            self.open()
                .await
                .map_err(|e| (ReadError::Database(e), None))?,
        );
        *held = Some(conn.clone());
        Ok(conn)
    }

    async fn open(&self) -> Result<Prepared, tokio_postgres::Error> {
        let (client, connection) = self.config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(
                    "a PostgreSQL connection of the pages closed: {}",
                    error_text(&e)
                );
            }
        });
        // As the pool's connections are set up (`pool::for_the_site`): one generic plan
        // per statement, the server's own bound on a statement, the release's search path.
        let mut setup = format!(
            "{} {ONE_PLAN_PER_STATEMENT};",
            postgres::session_settings(Some(self.timeout))
        );
        if let Some(session_setup) = &self.session_setup {
            setup.push(' ');
            setup.push_str(session_setup);
        }
        client.batch_execute(&setup).await?;
        let sql = &self.statements;
        let (index, user_with_id, user_named, posts_of) = tokio::try_join!(
            client.prepare(&sql.index),
            client.prepare(&sql.user_with_id),
            client.prepare(&sql.user_named),
            client.prepare(&sql.posts_of),
        )?;
        Ok(Prepared {
            client,
            index,
            user_with_id,
            user_named,
            posts_of,
        })
    }
}

impl Place {
    /// Drops `conn` if it is still this place's.
    async fn forget(&self, conn: &Arc<Prepared>) {
        let mut held = self.0.lock().await;
        if held
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(current, conn))
        {
            *held = None;
        }
    }
}

async fn visitor(c: &Prepared, login: Option<Login>) -> Result<Option<User>, ReadError> {
    let Some(login) = login else {
        return Ok(None);
    };
    let row = c
        .client
        .query_opt(&c.user_with_id, &[&login.user_id()])
        .await?;
    Ok(row
        .as_ref()
        .map(|row| model_at::<User>(row, 0))
        .transpose()?
        .filter(|user| login.holds_for(user)))
}

/// A model from its columns, in declaration order from column `at`: each read as the
/// type PostgreSQL says it has and given to the model through its column descriptors, so
/// that a column added to a model is read with no change here.
fn model_at<M: Model + Default>(row: &Row, at: usize) -> Result<M, ReadError> {
    let mut model = M::default();
    for (i, column) in M::columns().iter().enumerate() {
        let name = row.columns().get(at + i).map(|c| c.name());
        if name != Some(column.info.name) {
            return Err(ReadError::Row(format!(
                "column {} of the row is {name:?}, where {} has {}",
                at + i,
                M::NAME,
                column.info.name
            )));
        }
        let value = value_at(row, at + i)?;
        (column.set)(&mut model, value)
            .map_err(|e| ReadError::Row(format!("{}.{}: {e}", M::NAME, column.info.name)))?;
    }
    Ok(model)
}

/// Column `i` of `row` as a model value.
fn value_at(row: &Row, i: usize) -> Result<Value, ReadError> {
    let ty = row.columns()[i].type_();
    let value = match *ty {
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)?
            .map(|v| Value::Integer(v.into())),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)?
            .map(|v| Value::Integer(v.into())),
        Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Integer),
        Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map(Value::Boolean),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(i)?
            .map(|v| Value::Float(v.into())),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map(Value::Float),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
            row.try_get::<_, Option<String>>(i)?.map(Value::Text)
        }
        Type::TIMESTAMP => row
            .try_get::<_, Option<NaiveDateTime>>(i)?
            .map(Value::DateTime),
        Type::DATE => row.try_get::<_, Option<NaiveDate>>(i)?.map(Value::Date),
        Type::TIME => row.try_get::<_, Option<NaiveTime>>(i)?.map(Value::Time),
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Binary),
        _ => {
            return Err(ReadError::Row(format!(
                "column {} is of type {ty}, which the pages do not read",
                row.columns()[i].name()
            )));
        }
    };
    Ok(value.unwrap_or(Value::Null))
}

/// Why a read gave no rows: the database's error, or a row the model cannot take.
#[derive(Debug)]
enum ReadError {
    Database(tokio_postgres::Error),
    Row(String),
}

impl From<tokio_postgres::Error> for ReadError {
    fn from(e: tokio_postgres::Error) -> Self {
        ReadError::Database(e)
    }
}

/// The error with its cause: tokio-postgres' own text for a server's error is "db error".
fn error_text(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::StatementsSql;

    #[test]
    fn the_pages_statements_are_the_diesel_queries_written_for_postgresql() {
        let sql = StatementsSql::written();
        insta::assert_snapshot!(
            [sql.index, sql.user_with_id, sql.user_named, sql.posts_of].join("\n\n")
        );
    }
}
