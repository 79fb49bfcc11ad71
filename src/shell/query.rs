//! Queries at the prompt: `User.query`, `u.posts`, refined with `filter_by`, `order_by`,
//! `limit` and `offset`, and run with `all`, `first`, `count` or `get`.

use std::rc::Rc;

use diesel::prelude::*;
use diesel::query_dsl::methods::{LimitDsl, OffsetDsl};
use rhai::{Array, Dynamic};

use super::bindings::{ColumnRef, Fallible, Kind, Model, Object, State, as_id, as_text, fail};
use crate::models::tables::{post, user};
use crate::models::{Post, User};
use dbmigrate::AnyBackend;

#[derive(Clone)]
pub struct Query {
    pub kind: Kind,
    pub state: Rc<State>,
    pub equal: Vec<(&'static str, Dynamic)>,
    pub order: Vec<ColumnRef>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl Query {
    pub fn new(kind: Kind, state: Rc<State>) -> Query {
        Query {
            kind,
            state,
            equal: Vec::new(),
            order: Vec::new(),
            limit: None,
            offset: None,
        }
    }

    pub fn column(&self, name: &str) -> Fallible<&'static str> {
        self.kind
            .columns()
            .iter()
            .find(|c| **c == name)
            .copied()
            .map_or_else(
                || fail(format!("{} has no column '{name}'", self.kind.name())),
                Ok,
            )
    }

    /// The rows the filters select, in no particular order.
    fn user_rows(&self) -> Fallible<user::BoxedQuery<'static, AnyBackend>> {
        let mut query = User::query();
        for (name, value) in &self.equal {
            query = match *name {
                "id" => query.filter(user::id.eq(as_id(value, "id")?)),
                "username" => query.filter(user::username.eq(as_text(value, name)?)),
                "email" => query.filter(user::email.eq(as_text(value, name)?)),
                _ => query.filter(user::password_hash.eq(as_text(value, name)?)),
            };
        }
        Ok(query)
    }

    fn users(&self) -> Fallible<user::BoxedQuery<'static, AnyBackend>> {
        let mut query = self.user_rows()?;
        for column in &self.order {
            query = match (column.name, column.descending) {
                ("id", false) => query.then_order_by(user::id.asc()),
                ("id", true) => query.then_order_by(user::id.desc()),
                ("username", false) => query.then_order_by(user::username.asc()),
                ("username", true) => query.then_order_by(user::username.desc()),
                ("email", false) => query.then_order_by(user::email.asc()),
                ("email", true) => query.then_order_by(user::email.desc()),
                (_, false) => query.then_order_by(user::password_hash.asc()),
                (_, true) => query.then_order_by(user::password_hash.desc()),
            };
        }
        if self.order.is_empty() {
            query = query.order(user::id.asc());
        }
        Ok(self.paged(query))
    }

    /// `limit` and `offset` applied; an offset alone gets an unbounded limit, which SQLite
    /// and MySQL require.
    fn paged<Q>(&self, mut query: Q) -> Q
    where
        Q: LimitDsl<Output = Q> + OffsetDsl<Output = Q>,
    {
        if let Some(limit) = self.limit {
            query = query.limit(limit);
        }
        if let Some(offset) = self.offset {
            query = query.offset(offset).limit(self.limit.unwrap_or(i64::MAX));
        }
        query
    }

    /// The rows the filters select, in no particular order.
    fn post_rows(&self) -> Fallible<post::BoxedQuery<'static, AnyBackend>> {
        let mut query = Post::query();
        for (name, value) in &self.equal {
            query = match *name {
                "id" => query.filter(post::id.eq(as_id(value, "id")?)),
                "body" => query.filter(post::body.eq(as_text(value, name)?)),
                "user_id" => query.filter(post::user_id.eq(as_id(value, "user_id")?)),
                _ => return fail("filter_by on Post takes id, body or user_id"),
            };
        }
        Ok(query)
    }

    fn posts(&self) -> Fallible<post::BoxedQuery<'static, AnyBackend>> {
        let mut query = self.post_rows()?;
        for column in &self.order {
            query = match (column.name, column.descending) {
                ("id", false) => query.then_order_by(post::id.asc()),
                ("id", true) => query.then_order_by(post::id.desc()),
                ("body", false) => query.then_order_by(post::body.asc()),
                ("body", true) => query.then_order_by(post::body.desc()),
                ("timestamp", false) => query.then_order_by(post::timestamp.asc()),
                ("timestamp", true) => query.then_order_by(post::timestamp.desc()),
                (_, false) => query.then_order_by(post::user_id.asc()),
                (_, true) => query.then_order_by(post::user_id.desc()),
            };
        }
        if self.order.is_empty() {
            query = query.order(post::id.asc());
        }
        Ok(self.paged(query))
    }

    pub fn all(&mut self) -> Fallible<Array> {
        let mut session = self.state.session.borrow_mut();
        let conn = session.conn();
        let found: Result<Array, diesel::result::Error> = match self.kind {
            Kind::User => self.users()?.load::<User>(conn).map(|rows| {
                rows.into_iter()
                    .map(|u| Dynamic::from(Model::new(Object::StoredUser(u))))
                    .collect()
            }),
            Kind::Post => self.posts()?.load::<Post>(conn).map(|rows| {
                rows.into_iter()
                    .map(|p| Dynamic::from(Model::new(Object::StoredPost(p))))
                    .collect()
            }),
        };
        found.or_else(|e| fail(e.to_string()))
    }

    pub fn count(&mut self) -> Fallible<i64> {
        let mut session = self.state.session.borrow_mut();
        let conn = session.conn();
        let counted = match self.kind {
            Kind::User => self.user_rows()?.count().get_result(conn),
            Kind::Post => self.post_rows()?.count().get_result(conn),
        };
        counted.or_else(|e| fail(e.to_string()))
    }
}

pub fn first(query: &mut Query) -> Fallible<Dynamic> {
    let mut one = query.clone();
    one.limit = Some(1);
    Ok(one.all()?.into_iter().next().unwrap_or(Dynamic::UNIT))
}

pub fn get_by_id(state: &Rc<State>, kind: Kind, id: i64) -> Fallible<Dynamic> {
    let mut query = Query::new(kind, state.clone());
    query.equal.push(("id", Dynamic::from(id)));
    first(&mut query)
}
