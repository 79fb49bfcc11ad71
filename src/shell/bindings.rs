//! What the shell binds: `db` (with `db.session`), the `User` and `Post` classes, their
//! queries, and model objects that stay one object while the session writes them.

use std::cell::RefCell;
use std::rc::Rc;

use diesel::prelude::*;
use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};

use crate::models::tables::{post, user};
use crate::models::{NewPost, NewUser, Post, User};
use crate::session::{Pending, Session};
use dbmigrate::{AnyBackend, DatabaseUrl};

type Fallible<T> = Result<T, Box<EvalAltResult>>;

fn fail<T>(message: impl Into<String>) -> Fallible<T> {
    Err(message.into().into())
}

/// The session and what the shell tracks around it.
pub struct State {
    pub url: DatabaseUrl,
    pub session: RefCell<Session>,
    /// Objects added since the last commit, to give them their ids after it.
    added: RefCell<Vec<Model>>,
    /// Stored objects whose attributes were assigned since the last commit.
    changed: RefCell<Vec<Model>>,
}

impl State {
    pub fn new(url: DatabaseUrl, session: Session) -> Rc<State> {
        Rc::new(State {
            url,
            session: RefCell::new(session),
            added: RefCell::default(),
            changed: RefCell::default(),
        })
    }

    pub fn has_changes(&self) -> bool {
        self.session.borrow().has_changes() || !self.changed.borrow().is_empty()
    }

    pub fn rollback(&self) {
        self.session.borrow_mut().rollback();
        self.added.borrow_mut().clear();
        self.changed.borrow_mut().clear();
    }

    fn commit(&self) -> Fallible<()> {
        let mut session = self.session.borrow_mut();
        for model in self.changed.borrow().iter() {
            match &*model.0.borrow() {
                Object::StoredUser(u) => session.update(u),
                Object::StoredPost(p) => session.update(p),
                _ => {}
            }
        }
        session.commit().map_err(|e| e.to_string())?;
        self.changed.borrow_mut().clear();
        for model in self.added.borrow_mut().drain(..) {
            let stored = match &*model.0.borrow() {
                Object::NewUser(_, Some(pending)) => session
                    .id_of(*pending)
                    .map(|id| session.get::<User>(id).map(|u| u.map(Object::StoredUser))),
                Object::NewPost(_, Some(pending)) => session
                    .id_of(*pending)
                    .map(|id| session.get::<Post>(id).map(|p| p.map(Object::StoredPost))),
                _ => None,
            };
            if let Some(Some(object)) = stored.transpose().map_err(|e| e.to_string())? {
                *model.0.borrow_mut() = object;
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    User,
    Post,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Post => "Post",
        }
    }

    fn columns(self) -> &'static [&'static str] {
        match self {
            Kind::User => &["id", "username", "email", "password_hash"],
            Kind::Post => &["id", "body", "timestamp", "user_id"],
        }
    }
}

#[derive(Clone)]
pub struct Db(pub Rc<State>);
#[derive(Clone)]
pub struct SessionHandle(Rc<State>);
#[derive(Clone)]
pub struct Class(Kind, Rc<State>);
#[derive(Clone)]
pub struct ColumnRef {
    kind: Kind,
    name: &'static str,
    descending: bool,
}

#[derive(Clone)]
pub struct Query {
    kind: Kind,
    state: Rc<State>,
    equal: Vec<(&'static str, Dynamic)>,
    order: Vec<ColumnRef>,
    limit: Option<i64>,
    offset: Option<i64>,
}

enum Object {
    NewUser(NewUser, Option<Pending<User>>),
    NewPost(NewPost, Option<Pending<Post>>),
    StoredUser(User),
    StoredPost(Post),
}

/// A model object. Cloning it in a script gives the same object, as in Python.
#[derive(Clone)]
pub struct Model(Rc<RefCell<Object>>);

impl Model {
    fn new(object: Object) -> Model {
        Model(Rc::new(RefCell::new(object)))
    }
}

impl std::fmt::Display for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.0.borrow() {
            Object::NewUser(u, _) => write!(f, "{u}"),
            Object::NewPost(p, _) => write!(f, "{p}"),
            Object::StoredUser(u) => write!(f, "{u}"),
            Object::StoredPost(p) => write!(f, "{p}"),
        }
    }
}

fn text(value: &Option<String>) -> Dynamic {
    value.clone().map_or(Dynamic::UNIT, Dynamic::from)
}

fn int(value: Option<i32>) -> Dynamic {
    value.map_or(Dynamic::UNIT, |v| Dynamic::from(i64::from(v)))
}

fn as_text(value: &Dynamic, what: &str) -> Fallible<Option<String>> {
    if value.is_unit() {
        return Ok(None);
    }
    value
        .clone()
        .into_string()
        .map(Some)
        .or_else(|_| fail(format!("{what} must be a string")))
}

fn as_id(value: &Dynamic, what: &str) -> Fallible<i32> {
    value
        .as_int()
        .ok()
        .and_then(|n| i32::try_from(n).ok())
        .map_or_else(|| fail(format!("{what} must be a whole number")), Ok)
}

fn attribute(model: &mut Model, name: &str) -> Fallible<Dynamic> {
    let object = model.0.borrow();
    Ok(match (&*object, name) {
        (Object::StoredUser(u), "id") => int(Some(u.id)),
        (Object::StoredPost(p), "id") => int(Some(p.id)),
        (Object::NewUser(..) | Object::NewPost(..), "id") => Dynamic::UNIT,
        (Object::StoredUser(u), "username") => text(&u.username),
        (Object::NewUser(u, _), "username") => text(&u.username),
        (Object::StoredUser(u), "email") => text(&u.email),
        (Object::NewUser(u, _), "email") => text(&u.email),
        (Object::StoredUser(u), "password_hash") => text(&u.password_hash),
        (Object::NewUser(u, _), "password_hash") => text(&u.password_hash),
        (Object::StoredPost(p), "body") => text(&p.body),
        (Object::NewPost(p, _), "body") => text(&p.body),
        (Object::StoredPost(p), "timestamp") => iso(p.timestamp),
        (Object::NewPost(p, _), "timestamp") => iso(p.timestamp),
        (Object::StoredPost(p), "user_id") => int(p.user_id),
        _ => return fail(format!("{} has no attribute '{name}'", model_kind(&object))),
    })
}

fn model_kind(object: &Object) -> &'static str {
    match object {
        Object::NewUser(..) | Object::StoredUser(_) => "User",
        Object::NewPost(..) | Object::StoredPost(_) => "Post",
    }
}

fn iso(timestamp: Option<chrono::NaiveDateTime>) -> Dynamic {
    timestamp.map_or(Dynamic::UNIT, |t| {
        Dynamic::from(t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
    })
}

fn assign(state: &Rc<State>, model: &mut Model, name: &str, value: Dynamic) -> Fallible<()> {
    let mut object = model.0.borrow_mut();
    let what = format!("{}.{name}", model_kind(&object));
    match (&mut *object, name) {
        (Object::StoredUser(u), "username") => u.username = as_text(&value, &what)?,
        (Object::NewUser(u, _), "username") => u.username = as_text(&value, &what)?,
        (Object::StoredUser(u), "email") => u.email = as_text(&value, &what)?,
        (Object::NewUser(u, _), "email") => u.email = as_text(&value, &what)?,
        (Object::StoredUser(u), "password_hash") => u.password_hash = as_text(&value, &what)?,
        (Object::NewUser(u, _), "password_hash") => u.password_hash = as_text(&value, &what)?,
        (Object::StoredPost(p), "body") => p.body = as_text(&value, &what)?,
        (Object::NewPost(p, _), "body") => p.body = as_text(&value, &what)?,
        _ => return fail(format!("{what} cannot be assigned")),
    }
    if matches!(&*object, Object::StoredUser(_) | Object::StoredPost(_)) {
        drop(object);
        state.changed.borrow_mut().push(model.clone());
    }
    Ok(())
}

impl Query {
    fn new(kind: Kind, state: Rc<State>) -> Query {
        Query {
            kind,
            state,
            equal: Vec::new(),
            order: Vec::new(),
            limit: None,
            offset: None,
        }
    }

    fn column(&self, name: &str) -> Fallible<&'static str> {
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
        Ok(self.paged_users(query))
    }

    fn paged_users(
        &self,
        mut query: user::BoxedQuery<'static, AnyBackend>,
    ) -> user::BoxedQuery<'static, AnyBackend> {
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
        if let Some(limit) = self.limit {
            query = query.limit(limit);
        }
        if let Some(offset) = self.offset {
            query = query.offset(offset).limit(self.limit.unwrap_or(i64::MAX));
        }
        Ok(query)
    }

    fn all(&mut self) -> Fallible<Array> {
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

    fn count(&mut self) -> Fallible<i64> {
        let mut session = self.state.session.borrow_mut();
        let conn = session.conn();
        let counted = match self.kind {
            Kind::User => self.user_rows()?.count().get_result(conn),
            Kind::Post => self.post_rows()?.count().get_result(conn),
        };
        counted.or_else(|e| fail(e.to_string()))
    }
}

fn first(query: &mut Query) -> Fallible<Dynamic> {
    let mut one = query.clone();
    one.limit = Some(1);
    Ok(one.all()?.into_iter().next().unwrap_or(Dynamic::UNIT))
}

fn get_by_id(state: &Rc<State>, kind: Kind, id: i64) -> Fallible<Dynamic> {
    let mut query = Query::new(kind, state.clone());
    query.equal.push(("id", Dynamic::from(id)));
    first(&mut query)
}

fn new_user(state: &Rc<State>, fields: Map) -> Fallible<Model> {
    let mut model = Model::new(Object::NewUser(NewUser::default(), None));
    for (name, value) in fields {
        if !["username", "email", "password_hash"].contains(&name.as_str()) {
            return fail(format!("User has no attribute '{name}'"));
        }
        assign(state, &mut model, &name, value)?;
    }
    Ok(model)
}

fn new_post(fields: Map) -> Fallible<Model> {
    let mut post = Post::new("");
    post.body = None;
    for (name, value) in fields {
        match name.as_str() {
            "body" => post.body = as_text(&value, "Post.body")?,
            "author" => {
                let Some(author) = value.try_cast::<Model>() else {
                    return fail("Post.author must be a User");
                };
                let object = author.0.borrow();
                post = match &*object {
                    Object::StoredUser(u) => post.by(u),
                    Object::NewUser(_, Some(pending)) => post.by(*pending),
                    Object::NewUser(_, None) => {
                        return fail("add the author to the session before the post");
                    }
                    _ => return fail("Post.author must be a User"),
                };
            }
            "user_id" => {
                let id = as_id(&value, "Post.user_id")?;
                post = post.by(crate::models::AuthorRef::Stored(id));
            }
            _ => return fail(format!("Post has no attribute '{name}'")),
        }
    }
    Ok(Model::new(Object::NewPost(post, None)))
}

fn author(state: &Rc<State>, model: &mut Model) -> Fallible<Dynamic> {
    let object = model.0.borrow();
    let id = match &*object {
        Object::StoredPost(p) => p.user_id,
        Object::NewPost(p, _) => match &p.author {
            Some(crate::models::AuthorRef::Stored(id)) => Some(*id),
            _ => None,
        },
        _ => return fail("User has no attribute 'author'"),
    };
    drop(object);
    match id {
        Some(id) => get_by_id(state, Kind::User, i64::from(id)),
        None => Ok(Dynamic::UNIT),
    }
}

fn posts_of(state: &Rc<State>, model: &mut Model) -> Fallible<Query> {
    let id = match &*model.0.borrow() {
        Object::StoredUser(u) => u.id,
        Object::NewUser(..) => return fail("this user is not committed yet: it has no posts"),
        _ => return fail("Post has no attribute 'posts'"),
    };
    let mut query = Query::new(Kind::Post, state.clone());
    query.equal.push(("user_id", Dynamic::from(i64::from(id))));
    Ok(query)
}

fn add(state: &Rc<State>, model: Model) -> Fallible<()> {
    let mut object = model.0.borrow_mut();
    let mut session = state.session.borrow_mut();
    match &mut *object {
        Object::NewUser(u, pending @ None) => *pending = Some(session.add(u.clone())),
        Object::NewPost(p, pending @ None) => *pending = Some(session.add(p.clone())),
        Object::NewUser(..) | Object::NewPost(..) => return Ok(()),
        Object::StoredUser(u) => session.update(u),
        Object::StoredPost(p) => session.update(p),
    }
    drop(object);
    state.added.borrow_mut().push(model);
    Ok(())
}

fn delete(state: &Rc<State>, model: Model) -> Fallible<()> {
    let object = model.0.borrow();
    let mut session = state.session.borrow_mut();
    match &*object {
        Object::StoredUser(u) => session.delete(u),
        Object::StoredPost(p) => session.delete(p),
        _ => return fail("this object was never committed, so there is nothing to delete"),
    }
    Ok(())
}

/// How the prompt shows a value: `<User john>`, `[<User john>, <User susan>]`, `"text"`.
pub fn describe(value: &Dynamic) -> String {
    if let Some(model) = value.clone().try_cast::<Model>() {
        return model.to_string();
    }
    if let Some(db) = value.clone().try_cast::<Db>() {
        return format!("<Database {}>", db.0.url);
    }
    if let Some(class) = value.clone().try_cast::<Class>() {
        return format!("<class {}>", class.0.name());
    }
    if let Some(query) = value.clone().try_cast::<Query>() {
        return format!("<Query {}>", query.kind.name());
    }
    if let Some(column) = value.clone().try_cast::<ColumnRef>() {
        return format!("{}.{}", column.kind.name(), column.name);
    }
    if value.is_array() {
        let items: Vec<String> = value
            .clone()
            .into_array()
            .unwrap_or_default()
            .iter()
            .map(describe)
            .collect();
        return format!("[{}]", items.join(", "));
    }
    if value.is_string() {
        return format!("{:?}", value.clone().into_string().unwrap_or_default());
    }
    value.to_string()
}

/// The class values bound as `User` and `Post`.
pub fn classes(state: &Rc<State>) -> (Class, Class) {
    (
        Class(Kind::User, state.clone()),
        Class(Kind::Post, state.clone()),
    )
}

/// The engine with every binding; `state` is the session they share.
pub fn engine(state: &Rc<State>) -> Engine {
    let mut engine = Engine::new();
    engine.set_max_expr_depths(256, 256);
    engine
        .register_type_with_name::<Db>("Database")
        .register_type_with_name::<SessionHandle>("Session")
        .register_type_with_name::<Class>("Class")
        .register_type_with_name::<ColumnRef>("Column")
        .register_type_with_name::<Query>("Query")
        .register_type_with_name::<Model>("Model");

    engine.register_fn("to_string", |db: &mut Db| {
        format!("<Database {}>", db.0.url)
    });
    engine.register_fn("to_debug", |db: &mut Db| format!("<Database {}>", db.0.url));
    engine.register_get("session", |db: &mut Db| SessionHandle(db.0.clone()));
    engine.register_fn("to_string", |_: &mut SessionHandle| "<Session>".to_string());
    engine.register_fn("add", |s: &mut SessionHandle, m: Model| add(&s.0, m));
    engine.register_fn("delete", |s: &mut SessionHandle, m: Model| delete(&s.0, m));
    engine.register_fn("commit", |s: &mut SessionHandle| s.0.commit());
    engine.register_fn("rollback", |s: &mut SessionHandle| s.0.rollback());
    engine.register_fn("get", |s: &mut SessionHandle, c: Class, id: i64| {
        get_by_id(&s.0, c.0, id)
    });

    let class_text = |c: &mut Class| format!("<class {}>", c.0.name());
    engine.register_fn("to_string", class_text);
    engine.register_fn("to_debug", class_text);
    engine.register_get("query", |c: &mut Class| Query::new(c.0, c.1.clone()));
    for column in [
        "id",
        "username",
        "email",
        "password_hash",
        "body",
        "timestamp",
        "user_id",
    ] {
        engine.register_get(column, move |c: &mut Class| -> Fallible<ColumnRef> {
            let query = Query::new(c.0, c.1.clone());
            Ok(ColumnRef {
                kind: c.0,
                name: query.column(column)?,
                descending: false,
            })
        });
    }
    engine.register_fn("desc", |c: &mut ColumnRef| ColumnRef {
        descending: true,
        ..c.clone()
    });
    engine.register_fn("asc", |c: &mut ColumnRef| ColumnRef {
        descending: false,
        ..c.clone()
    });
    engine.register_fn("to_string", |c: &mut ColumnRef| {
        format!(
            "{}.{}{}",
            c.kind.name(),
            c.name,
            if c.descending { " DESC" } else { "" }
        )
    });

    engine.register_fn("all", Query::all);
    engine.register_fn("count", Query::count);
    engine.register_fn("first", first);
    engine.register_fn("get", |q: &mut Query, id: i64| {
        get_by_id(&q.state, q.kind, id)
    });
    engine.register_fn("limit", |q: &mut Query, n: i64| Query {
        limit: Some(n),
        ..q.clone()
    });
    engine.register_fn("offset", |q: &mut Query, n: i64| Query {
        offset: Some(n),
        ..q.clone()
    });
    engine.register_fn(
        "order_by",
        |q: &mut Query, c: ColumnRef| -> Fallible<Query> {
            if c.kind != q.kind {
                return fail(format!(
                    "cannot order {} by a {} column",
                    q.kind.name(),
                    c.kind.name()
                ));
            }
            let mut ordered = q.clone();
            ordered.order.push(c);
            Ok(ordered)
        },
    );
    engine.register_fn(
        "filter_by",
        |q: &mut Query, fields: Map| -> Fallible<Query> {
            let mut filtered = q.clone();
            for (name, value) in fields {
                let column = q.column(&name)?;
                filtered.equal.push((column, value));
            }
            Ok(filtered)
        },
    );
    engine.register_fn("to_string", |q: &mut Query| {
        format!("<Query {}>", q.kind.name())
    });

    let model_text = |m: &mut Model| m.to_string();
    engine.register_fn("to_string", model_text);
    engine.register_fn("to_debug", model_text);
    for name in [
        "id",
        "username",
        "email",
        "password_hash",
        "body",
        "timestamp",
        "user_id",
    ] {
        engine.register_get(name, move |m: &mut Model| attribute(m, name));
    }
    for name in ["username", "email", "password_hash", "body"] {
        let state = state.clone();
        engine.register_set(name, move |m: &mut Model, value: Dynamic| {
            assign(&state, m, name, value)
        });
    }
    let for_author = state.clone();
    engine.register_get("author", move |m: &mut Model| author(&for_author, m));
    let for_posts = state.clone();
    engine.register_get("posts", move |m: &mut Model| posts_of(&for_posts, m));

    let for_users = state.clone();
    engine.register_fn("User", move |fields: Map| new_user(&for_users, fields));
    engine.register_fn("Post", new_post);
    let kinds = engine_help();
    engine.register_fn("help", move || kinds.clone());
    engine
}

fn engine_help() -> String {
    "Bound: db (db.session: add, delete, commit, rollback, get(User, id)), User, Post.\n\
     User(#{username: \"…\", email: \"…\"}), Post(#{body: \"…\", author: u})\n\
     User.query / Post.query / u.posts: .all() .first() .count() .get(id) .filter_by(#{…})\n\
     .order_by(User.username.desc()) .limit(n) .offset(n)\n\
     Attributes: u.id u.username u.email u.password_hash; p.id p.body p.timestamp p.user_id p.author"
        .to_string()
}
