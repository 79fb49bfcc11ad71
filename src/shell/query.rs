//! Queries at the prompt: `User.query`, `u.posts`, refined with `filter_by`, `order_by`,
//! `limit` and `offset`, and run with `all`, `first`, `count` or `get`.

use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, Map};

use super::bindings::{ColumnRef, Fallible, Object, State, fail, failed, from_dynamic, get_by_key};
use dbmigrate::model::{ModelClass, Predicate, QuerySpec, RelationKind, Value};

#[derive(Clone)]
pub struct Query {
    pub class: &'static dyn ModelClass,
    pub state: Rc<State>,
    pub spec: QuerySpec,
}

impl Query {
    pub fn new(class: &'static dyn ModelClass, state: Rc<State>) -> Query {
        Query {
            class,
            state,
            spec: QuerySpec::default(),
        }
    }

    pub fn with(mut self, predicate: Predicate) -> Query {
        self.spec.filters.push(predicate);
        self
    }

    fn all(self) -> Fallible<Array> {
        let mut session = self.state.session.borrow_mut();
        let rows = self
            .class
            .select(session.conn(), &self.spec)
            .or_else(failed)?;
        Ok(rows
            .into_iter()
            .map(|r| Dynamic::from(Object::new(r)))
            .collect())
    }

    fn count(self) -> Fallible<i64> {
        let mut session = self.state.session.borrow_mut();
        self.class.count(session.conn(), &self.spec).or_else(failed)
    }

    fn first(self) -> Fallible<Dynamic> {
        let mut one = self;
        one.spec.limit = Some(1);
        Ok(one.all()?.into_iter().next().unwrap_or(Dynamic::UNIT))
    }

    /// `filter_by(#{username: "john"})`, or a many-to-one relationship: `#{author: u}`.
    fn filter_by(self, fields: Map) -> Fallible<Query> {
        let mut filtered = self.clone();
        for (name, value) in fields {
            let name = name.as_str();
            if self.class.columns().iter().any(|c| c.name == name) {
                let value = from_dynamic(&value, &format!("{}.{name}", self.class.name()))?;
                filtered
                    .spec
                    .filters
                    .push(Predicate::Equals(name.to_string(), value));
                continue;
            }
            let column = self.class.relations().iter().find_map(|r| match r.kind {
                RelationKind::ToOne { column } if r.name == name => Some(column),
                _ => None,
            });
            let Some(column) = column else {
                return fail(format!(
                    "{} has no column '{name}'; its columns are {}",
                    self.class.name(),
                    self.class.column_names().join(", ")
                ));
            };
            let Some(other) = value.try_cast::<Object>() else {
                return fail(format!("{name} takes a model object"));
            };
            let key = other.0.borrow().key();
            let Some(key) = key else {
                return fail(format!("the {name} given is not committed yet"));
            };
            filtered.spec.filters.push(Predicate::Equals(
                column.to_string(),
                key.into_iter().next().unwrap_or(Value::Null),
            ));
        }
        Ok(filtered)
    }

    fn order_by(self, column: ColumnRef) -> Fallible<Query> {
        if column.class != self.class.name() {
            return fail(format!(
                "cannot order {} by a {} column",
                self.class.name(),
                column.class
            ));
        }
        let mut ordered = self.clone();
        ordered
            .spec
            .order
            .push((column.name.to_string(), column.descending));
        Ok(ordered)
    }
}

pub(super) fn register(engine: &mut Engine) {
    engine.register_fn("all", Query::all);
    engine.register_fn("count", Query::count);
    engine.register_fn("first", Query::first);
    engine.register_fn("get", |q: Query, key: Dynamic| {
        get_by_key(&q.state, q.class, &key)
    });
    engine.register_fn("limit", |mut q: Query, n: i64| {
        q.spec.limit = Some(n);
        q
    });
    engine.register_fn("offset", |mut q: Query, n: i64| {
        q.spec.offset = Some(n);
        q
    });
    engine.register_fn("order_by", Query::order_by);
    engine.register_fn("filter_by", Query::filter_by);
    let text = |q: &mut Query| format!("<Query {}>", q.class.name());
    engine.register_fn("to_string", text);
    engine.register_fn("to_debug", text);
}
