//! What the shell binds: `db` (with `db.session`), the `User` and `Post` classes, their
//! queries, and model objects that stay one object while the session writes them.

use std::cell::RefCell;
use std::rc::Rc;

use rhai::{Dynamic, Engine, EvalAltResult, Map};

use super::query::{Query, first, get_by_id};

use crate::models::{NewPost, NewUser, Post, User};
use crate::session::{Pending, Session};
use dbmigrate::DatabaseUrl;

pub(super) type Fallible<T> = Result<T, Box<EvalAltResult>>;

pub(super) fn fail<T>(message: impl Into<String>) -> Fallible<T> {
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

/// Every column of either model, for the property getters (each checks its model).
const ALL_COLUMNS: [&str; 7] = [
    "id",
    "username",
    "email",
    "password_hash",
    "body",
    "timestamp",
    "user_id",
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    User,
    Post,
}

impl Kind {
    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Post => "Post",
        }
    }

    pub(super) fn columns(self) -> &'static [&'static str] {
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
    pub(super) kind: Kind,
    pub(super) name: &'static str,
    pub(super) descending: bool,
}

pub(super) enum Object {
    NewUser(NewUser, Option<Pending<User>>),
    NewPost(NewPost, Option<Pending<Post>>),
    StoredUser(User),
    StoredPost(Post),
}

/// A model object. Cloning it in a script gives the same object, as in Python.
#[derive(Clone)]
pub struct Model(Rc<RefCell<Object>>);

impl Model {
    pub(super) fn new(object: Object) -> Model {
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

pub(super) fn as_text(value: &Dynamic, what: &str) -> Fallible<Option<String>> {
    if value.is_unit() {
        return Ok(None);
    }
    value
        .clone()
        .into_string()
        .map(Some)
        .or_else(|_| fail(format!("{what} must be a string")))
}

pub(super) fn as_id(value: &Dynamic, what: &str) -> Fallible<i32> {
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
    for column in ALL_COLUMNS {
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
    for name in ALL_COLUMNS {
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
