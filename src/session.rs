//! The unit of work of the chapter's `db.session`: add, change and delete objects, then
//! `commit` writes all of it in one transaction, or none of it; `rollback` forgets it.
//!
//! As SQLAlchemy does, a commit orders its statements by the foreign keys between the
//! tables, whatever order the calls came in: rows are inserted parents first (an author
//! before the post that references it) and deleted children first (posts before their
//! author).

use std::collections::HashMap;
use std::marker::PhantomData;

use diesel::prelude::*;

use crate::models::post::PostRow;
use crate::models::tables::{post, user};
use crate::models::{AuthorRef, NewPost, NewUser, Post, User, schema, utc_now};
use dbmigrate::{AnyConnection, ConstraintViolation, constraint_violation};

/// An object added to the session, not yet written: after a commit, [`Session::id_of`]
/// gives its id.
pub struct Pending<M> {
    key: u64,
    model: PhantomData<fn() -> M>,
}

impl<M> Clone for Pending<M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M> Copy for Pending<M> {}
impl<M> PartialEq for Pending<M> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<M> Eq for Pending<M> {}
impl<M> std::fmt::Debug for Pending<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pending#{}", self.key)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    Constraint(ConstraintViolation),
    #[error("{table}.{column} holds at most {max} characters, and {actual} were given")]
    TooLong {
        table: &'static str,
        column: String,
        max: u32,
        actual: usize,
    },
    #[error(
        "the post's author was added to the session but is neither saved nor part of this commit"
    )]
    AuthorNotSaved,
    #[error("database error: {0}")]
    Database(diesel::result::Error),
    #[error("cannot change the schema: {0}")]
    Schema(#[from] dbmigrate::apply::ApplyError),
}

impl DbError {
    pub fn violation(&self) -> Option<&ConstraintViolation> {
        match self {
            DbError::Constraint(v) => Some(v),
            _ => None,
        }
    }
}

impl From<diesel::result::Error> for DbError {
    fn from(error: diesel::result::Error) -> Self {
        match constraint_violation(&error, schema()) {
            Some(violation) => DbError::Constraint(violation),
            None => DbError::Database(error),
        }
    }
}

/// Something a session can add: a new, not yet written object.
pub trait Add {
    type Model;
    #[doc(hidden)]
    fn into_change(self, key: u64) -> Change;
}

/// A model row that exists in the database and can be changed or deleted.
pub trait Stored: Sized {
    #[doc(hidden)]
    fn update_change(&self) -> Change;
    #[doc(hidden)]
    fn delete_change(&self) -> Change;
    #[doc(hidden)]
    fn find(conn: &mut AnyConnection, id: i32) -> QueryResult<Option<Self>>;
}

#[doc(hidden)]
#[derive(Debug, Clone)]
pub enum Change {
    AddUser(u64, NewUser),
    AddPost(u64, NewPost),
    UpdateUser(User),
    UpdatePost(Post),
    DeleteUser(i32),
    DeletePost(i32),
}

impl Change {
    fn table(&self) -> &'static str {
        match self {
            Change::AddUser(..) | Change::UpdateUser(_) | Change::DeleteUser(_) => "user",
            Change::AddPost(..) | Change::UpdatePost(_) | Change::DeletePost(_) => "post",
        }
    }

    /// Inserts parents first, then updates, then deletes children first.
    fn order_key(&self, rank: &HashMap<&str, usize>) -> (u8, isize) {
        let rank = rank[self.table()] as isize;
        match self {
            Change::AddUser(..) | Change::AddPost(..) => (0, rank),
            Change::UpdateUser(_) | Change::UpdatePost(_) => (1, rank),
            Change::DeleteUser(_) | Change::DeletePost(_) => (2, -rank),
        }
    }
}

impl Add for NewUser {
    type Model = User;
    fn into_change(self, key: u64) -> Change {
        Change::AddUser(key, self)
    }
}

impl Add for NewPost {
    type Model = Post;
    fn into_change(self, key: u64) -> Change {
        Change::AddPost(key, self)
    }
}

impl Stored for User {
    fn update_change(&self) -> Change {
        Change::UpdateUser(self.clone())
    }
    fn delete_change(&self) -> Change {
        Change::DeleteUser(self.id)
    }
    fn find(conn: &mut AnyConnection, id: i32) -> QueryResult<Option<Self>> {
        user::table.find(id).first(conn).optional()
    }
}

impl Stored for Post {
    fn update_change(&self) -> Change {
        Change::UpdatePost(self.clone())
    }
    fn delete_change(&self) -> Change {
        Change::DeletePost(self.id)
    }
    fn find(conn: &mut AnyConnection, id: i32) -> QueryResult<Option<Self>> {
        post::table.find(id).first(conn).optional()
    }
}

pub struct Session {
    conn: AnyConnection,
    changes: Vec<Change>,
    next_key: u64,
    assigned_ids: HashMap<u64, i32>,
}

impl Session {
    pub fn new(conn: AnyConnection) -> Self {
        Session {
            conn,
            changes: Vec::new(),
            next_key: 0,
            assigned_ids: HashMap::new(),
        }
    }

    /// The connection, for queries: `User::query().load::<User>(session.conn())`.
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }

    pub fn add<T: Add>(&mut self, object: T) -> Pending<T::Model> {
        self.next_key += 1;
        self.changes.push(object.into_change(self.next_key));
        Pending {
            key: self.next_key,
            model: PhantomData,
        }
    }

    /// Writes the object's current field values at the next commit.
    pub fn update<T: Stored>(&mut self, object: &T) {
        self.changes.push(object.update_change());
    }

    pub fn delete<T: Stored>(&mut self, object: &T) {
        self.changes.push(object.delete_change());
    }

    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// Forgets every change not yet committed.
    pub fn rollback(&mut self) {
        self.changes.clear();
    }

    /// The id the database gave an added object, once committed.
    pub fn id_of<M>(&self, pending: Pending<M>) -> Option<i32> {
        self.assigned_ids.get(&pending.key).copied()
    }

    /// `db.session.get(User, 1)`.
    pub fn get<M: Stored>(&mut self, id: i32) -> Result<Option<M>, DbError> {
        Ok(M::find(&mut self.conn, id)?)
    }

    /// Writes every change in one transaction. On failure nothing is written, the changes
    /// stay in the session (to inspect, or to drop with [`Session::rollback`]), and the
    /// session remains usable.
    pub fn commit(&mut self) -> Result<(), DbError> {
        if self.changes.is_empty() {
            return Ok(());
        }
        for change in &self.changes {
            check_lengths(change)?;
        }
        let rank: HashMap<&str, usize> = schema()
            .dependency_order()
            .into_iter()
            .enumerate()
            .map(|(i, name)| (name, i))
            .collect();
        let mut ordered: Vec<&Change> = self.changes.iter().collect();
        ordered.sort_by_key(|c| c.order_key(&rank));
        let known_ids = &self.assigned_ids;
        let new_ids = self.conn.transaction::<_, DbError, _>(|conn| {
            let mut new_ids: HashMap<u64, i32> = HashMap::new();
            for change in ordered {
                apply(conn, change, known_ids, &mut new_ids)?;
            }
            Ok(new_ids)
        })?;
        self.assigned_ids.extend(new_ids);
        self.changes.clear();
        Ok(())
    }
}

/// `INSERT … RETURNING id` where the database has it; MySQL reports the id afterwards.
macro_rules! insert_returning_id {
    ($conn:expr, $table:path, $id:path, $values:expr) => {
        match $conn {
            AnyConnection::Sqlite(c) => diesel::insert_into($table)
                .values($values)
                .returning($id)
                .get_result::<i32>(c),
            AnyConnection::Postgresql(c) => diesel::insert_into($table)
                .values($values)
                .returning($id)
                .get_result::<i32>(c),
            AnyConnection::Mysql(c) => {
                diesel::insert_into($table).values($values).execute(c)?;
                diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>(
                    "CAST(LAST_INSERT_ID() AS SIGNED)",
                ))
                .get_result::<i32>(c)
            }
        }
    };
}

fn apply(
    conn: &mut AnyConnection,
    change: &Change,
    known_ids: &HashMap<u64, i32>,
    new_ids: &mut HashMap<u64, i32>,
) -> Result<(), DbError> {
    match change {
        Change::AddUser(key, new_user) => {
            let id = insert_returning_id!(conn, user::table, user::id, new_user)?;
            new_ids.insert(*key, id);
        }
        Change::AddPost(key, new_post) => {
            let user_id = match new_post.author {
                None => None,
                Some(AuthorRef::Stored(id)) => Some(id),
                Some(AuthorRef::Pending(author)) => Some(
                    *new_ids
                        .get(&author.key)
                        .or_else(|| known_ids.get(&author.key))
                        .ok_or(DbError::AuthorNotSaved)?,
                ),
            };
            let row = PostRow {
                body: new_post.body.as_deref(),
                timestamp: Some(new_post.timestamp.unwrap_or_else(utc_now)),
                user_id,
            };
            let id = insert_returning_id!(conn, post::table, post::id, &row)?;
            new_ids.insert(*key, id);
        }
        Change::UpdateUser(row) => {
            diesel::update(user::table.find(row.id))
                .set(row)
                .execute(conn)?;
        }
        Change::UpdatePost(row) => {
            diesel::update(post::table.find(row.id))
                .set(row)
                .execute(conn)?;
        }
        Change::DeleteUser(id) => {
            diesel::delete(user::table.find(id)).execute(conn)?;
        }
        Change::DeletePost(id) => {
            diesel::delete(post::table.find(id)).execute(conn)?;
        }
    }
    Ok(())
}

/// SQLite does not enforce VARCHAR lengths and MySQL would refuse them only in strict
/// mode: check them here, so that every database keeps the same data.
fn check_lengths(change: &Change) -> Result<(), DbError> {
    let values: Vec<(&str, Option<&str>)> = match change {
        Change::AddUser(_, u) => vec![
            ("username", u.username.as_deref()),
            ("email", u.email.as_deref()),
            ("password_hash", u.password_hash.as_deref()),
        ],
        Change::UpdateUser(u) => vec![
            ("username", u.username.as_deref()),
            ("email", u.email.as_deref()),
            ("password_hash", u.password_hash.as_deref()),
        ],
        Change::AddPost(_, p) => vec![("body", p.body.as_deref())],
        Change::UpdatePost(p) => vec![("body", p.body.as_deref())],
        Change::DeleteUser(_) | Change::DeletePost(_) => vec![],
    };
    let table_name = change.table();
    let table = schema()
        .table(table_name)
        .expect("every change is on a schema table");
    for (column, value) in values {
        let Some(value) = value else { continue };
        if let Some(dbmigrate::ColumnType::String(Some(max))) =
            table.find_column(column).map(|c| &c.ty)
        {
            let actual = value.chars().count();
            if actual > *max as usize {
                return Err(DbError::TooLong {
                    table: table_name,
                    column: column.to_string(),
                    max: *max,
                    actual,
                });
            }
        }
    }
    Ok(())
}
