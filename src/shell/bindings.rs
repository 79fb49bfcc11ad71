//! What the shell binds: `db` (with `db.session`), a class for each declared model, their
//! queries, and model objects that stay one object while the session writes them.
//! Nothing here names a model or a column: classes, columns and relationships come from
//! the declarations, through `dbmigrate::model`.

use std::cell::RefCell;
use std::rc::Rc;

use rhai::{Array, Blob, Dynamic, Engine, EvalAltResult, Map};

use super::query::Query;
use dbmigrate::DatabaseUrl;
use dbmigrate::model::{
    DbError, ModelClass, Models, Predicate, Record, RelationKind, Session, Value,
};

pub(super) type Fallible<T> = Result<T, Box<EvalAltResult>>;

pub(super) fn fail<T>(message: impl Into<String>) -> Fallible<T> {
    Err(message.into().into())
}

pub(super) fn failed<T>(error: DbError) -> Fallible<T> {
    fail(error.to_string())
}

/// The session and what the shell tracks around it.
pub struct State {
    pub url: DatabaseUrl,
    pub models: &'static Models,
    pub session: RefCell<Session>,
    /// Objects added since the last commit, to give them their keys after it.
    added: RefCell<Vec<Object>>,
    /// Stored objects whose attributes were assigned since the last commit.
    changed: RefCell<Vec<Object>>,
}

impl State {
    pub fn new(url: DatabaseUrl, models: &'static Models, session: Session) -> Rc<State> {
        Rc::new(State {
            url,
            models,
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
        for object in self.changed.borrow().iter() {
            object.0.borrow_mut().add_to(&mut session);
        }
        session.commit().or_else(failed)?;
        self.changed.borrow_mut().clear();
        for object in self.added.borrow_mut().drain(..) {
            let (class, pending) = {
                let record = object.0.borrow();
                (record.class(), record.pending())
            };
            let Some(key) = pending.and_then(|p| session.key_of(p)) else {
                continue;
            };
            if let Some(stored) = class.get(session.conn(), &key).or_else(failed)? {
                *object.0.borrow_mut() = stored;
            }
        }
        Ok(())
    }
}

#[derive(Clone)]
pub struct Db(pub Rc<State>);
#[derive(Clone)]
pub struct SessionHandle(Rc<State>);
#[derive(Clone)]
pub struct Class(pub(super) &'static dyn ModelClass, pub(super) Rc<State>);
#[derive(Clone)]
pub struct ColumnRef {
    pub(super) class: &'static str,
    pub(super) name: &'static str,
    pub(super) descending: bool,
}

/// A model object. Cloning it in a script gives the same object, as in Python.
#[derive(Clone)]
pub struct Object(pub(super) Rc<RefCell<Box<dyn Record>>>);

impl Object {
    pub(super) fn new(record: Box<dyn Record>) -> Object {
        Object(Rc::new(RefCell::new(record)))
    }
}

/// A value as a script sees it: dates and times as ISO 8601 strings, NULL as `()`.
pub(super) fn to_dynamic(value: Value) -> Dynamic {
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Integer(n) => Dynamic::from(n),
        Value::Float(x) => Dynamic::from(x),
        Value::Boolean(b) => Dynamic::from(b),
        Value::Text(text) => Dynamic::from(text),
        Value::Binary(bytes) => Dynamic::from_blob(bytes),
        other => Dynamic::from(other.to_string()),
    }
}

pub(super) fn from_dynamic(value: &Dynamic, what: &str) -> Fallible<Value> {
    if value.is_unit() {
        Ok(Value::Null)
    } else if let Ok(n) = value.as_int() {
        Ok(Value::Integer(n))
    } else if let Ok(x) = value.as_float() {
        Ok(Value::Float(x))
    } else if let Ok(b) = value.as_bool() {
        Ok(Value::Boolean(b))
    } else if value.is_string() {
        Ok(Value::Text(value.clone().into_string().unwrap_or_default()))
    } else if value.is_blob() {
        Ok(Value::Binary(value.clone().cast::<Blob>()))
    } else {
        fail(format!(
            "{what} takes a number, a string, true/false or (), not {}",
            describe(value)
        ))
    }
}

/// `User has no attribute 'x'; its columns are …, its relationships …`.
fn no_attribute(class: &dyn ModelClass, name: &str) -> String {
    let relations: Vec<&str> = class.relations().iter().map(|r| r.name).collect();
    let mut message = format!(
        "{} has no attribute '{name}'; its columns are {}",
        class.name(),
        class.column_names().join(", ")
    );
    if !relations.is_empty() {
        message.push_str(&format!(" and its relationships {}", relations.join(", ")));
    }
    message
}

fn is_column(class: &dyn ModelClass, name: &str) -> bool {
    class.columns().iter().any(|c| c.name == name)
}

fn relation(class: &dyn ModelClass, name: &str) -> Option<&'static dbmigrate::model::Relation> {
    class.relations().iter().find(|r| r.name == name)
}

fn target_class(state: &State, name: &str) -> Fallible<&'static dyn ModelClass> {
    state
        .models
        .class(name)
        .map_or_else(|| fail(format!("no model named {name}")), Ok)
}

/// `u.username`, `p.author`, `u.posts`.
fn attribute(state: &Rc<State>, object: &mut Object, name: &str) -> Fallible<Dynamic> {
    let record = object.0.borrow();
    let class = record.class();
    if is_column(class, name) {
        return record.get(name).map(to_dynamic).or_else(failed);
    }
    let Some(relation) = relation(class, name) else {
        return fail(no_attribute(class, name));
    };
    let target = target_class(state, relation.target)?;
    match relation.kind {
        RelationKind::ToOne { column } => {
            let key = record.get(column).or_else(failed)?;
            drop(record);
            if key == Value::Null {
                return Ok(Dynamic::UNIT);
            }
            let mut session = state.session.borrow_mut();
            let found = target.get(session.conn(), &[key]).or_else(failed)?;
            Ok(found.map_or(Dynamic::UNIT, |r| Dynamic::from(Object::new(r))))
        }
        RelationKind::ToMany { column } => {
            let key = stored_key(&**record, name)?;
            Ok(Dynamic::from(
                Query::new(target, state.clone()).with(Predicate::Equals(column.to_string(), key)),
            ))
        }
        RelationKind::Through { filter } => {
            let key = stored_key(&**record, name)?;
            Ok(Dynamic::from(
                Query::new(target, state.clone()).with(Predicate::Filter(filter, key)),
            ))
        }
    }
}

fn stored_key(record: &dyn Record, relation: &str) -> Fallible<Value> {
    match record.key() {
        Some(key) => Ok(key.into_iter().next().unwrap_or(Value::Null)),
        None => fail(format!(
            "this {} is not committed yet: it has no {relation}",
            record.class().name()
        )),
    }
}

/// `u.username = …`, `p.author = u`: a stored object is written at the next commit.
fn assign(state: &Rc<State>, object: &mut Object, name: &str, value: Dynamic) -> Fallible<()> {
    let mut record = object.0.borrow_mut();
    let class = record.class();
    if is_column(class, name) {
        let value = from_dynamic(&value, &format!("{}.{name}", class.name()))?;
        record.set(name, value).or_else(failed)?;
    } else if let Some(RelationKind::ToOne { column }) = relation(class, name).map(|r| &r.kind) {
        let Some(other) = value.try_cast::<Object>() else {
            return fail(format!("{}.{name} takes a model object", class.name()));
        };
        if Rc::ptr_eq(&other.0, &object.0) {
            let own_key = stored_key(&**record, name)?;
            record.set(column, own_key).or_else(failed)?;
        } else {
            let other = other.0.borrow();
            record.refer(column, &**other).or_else(failed)?;
        }
    } else {
        return fail(no_attribute(class, name));
    }
    if record.key().is_some() {
        drop(record);
        state.changed.borrow_mut().push(object.clone());
    }
    Ok(())
}

/// `User(#{username: "john", email: "john@example.com"})`.
fn construct(state: &Rc<State>, class: &'static dyn ModelClass, fields: Map) -> Fallible<Object> {
    let mut object = Object::new(class.blank());
    for (name, value) in fields {
        assign(state, &mut object, &name, value)?;
    }
    Ok(object)
}

fn add(state: &Rc<State>, object: Object) {
    object
        .0
        .borrow_mut()
        .add_to(&mut state.session.borrow_mut());
    state.added.borrow_mut().push(object);
}

fn delete(state: &Rc<State>, object: Object) -> Fallible<()> {
    let record = object.0.borrow();
    record
        .delete_from(&mut state.session.borrow_mut())
        .or_else(failed)
}

/// A key from a script: one value, or an array for a key of several columns.
pub(super) fn key_values(key: &Dynamic) -> Fallible<Vec<Value>> {
    match key.clone().try_cast::<Array>() {
        Some(parts) => parts.iter().map(|p| from_dynamic(p, "a key")).collect(),
        None => Ok(vec![from_dynamic(key, "a key")?]),
    }
}

pub(super) fn get_by_key(
    state: &Rc<State>,
    class: &'static dyn ModelClass,
    key: &Dynamic,
) -> Fallible<Dynamic> {
    let key = key_values(key)?;
    let mut session = state.session.borrow_mut();
    let found = class.get(session.conn(), &key).or_else(failed)?;
    Ok(found.map_or(Dynamic::UNIT, |r| Dynamic::from(Object::new(r))))
}

/// How the prompt shows a value: `<User john>`, `[<User john>, <User susan>]`, `"text"`.
pub fn describe(value: &Dynamic) -> String {
    if let Some(object) = value.clone().try_cast::<Object>() {
        return object.0.borrow().repr();
    }
    if let Some(db) = value.clone().try_cast::<Db>() {
        return format!("<Database {}>", db.0.url);
    }
    if let Some(class) = value.clone().try_cast::<Class>() {
        return format!("<class {}>", class.0.name());
    }
    if let Some(query) = value.clone().try_cast::<Query>() {
        return format!("<Query {}>", query.class.name());
    }
    if let Some(column) = value.clone().try_cast::<ColumnRef>() {
        return column_text(&column);
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

fn column_text(column: &ColumnRef) -> String {
    format!(
        "{}.{}{}",
        column.class,
        column.name,
        if column.descending { " DESC" } else { "" }
    )
}

/// The class values, to bind by their names.
pub fn classes(state: &Rc<State>) -> Vec<Class> {
    state
        .models
        .classes()
        .iter()
        .map(|class| Class(*class, state.clone()))
        .collect()
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
        .register_type_with_name::<Object>("Model");

    let db_text = |db: &mut Db| format!("<Database {}>", db.0.url);
    engine.register_fn("to_string", db_text);
    engine.register_fn("to_debug", db_text);
    engine.register_get("session", |db: &mut Db| SessionHandle(db.0.clone()));
    engine.register_fn("to_string", |_: &mut SessionHandle| "<Session>".to_string());
    engine.register_fn("add", |s: &mut SessionHandle, o: Object| add(&s.0, o));
    engine.register_fn("delete", |s: &mut SessionHandle, o: Object| delete(&s.0, o));
    engine.register_fn("commit", |s: &mut SessionHandle| s.0.commit());
    engine.register_fn("rollback", |s: &mut SessionHandle| s.0.rollback());
    engine.register_fn("get", |s: &mut SessionHandle, c: Class, key: Dynamic| {
        get_by_key(&s.0, c.0, &key)
    });

    let class_text = |c: &mut Class| format!("<class {}>", c.0.name());
    engine.register_fn("to_string", class_text);
    engine.register_fn("to_debug", class_text);
    engine.register_get("query", |c: &mut Class| Query::new(c.0, c.1.clone()));
    engine.register_indexer_get(|c: &mut Class, name: &str| -> Fallible<ColumnRef> {
        match c.0.columns().iter().find(|col| col.name == name) {
            Some(column) => Ok(ColumnRef {
                class: c.0.name(),
                name: column.name,
                descending: false,
            }),
            None => fail(no_attribute(c.0, name)),
        }
    });
    engine.register_fn("desc", |c: &mut ColumnRef| ColumnRef {
        descending: true,
        ..c.clone()
    });
    engine.register_fn("asc", |c: &mut ColumnRef| ColumnRef {
        descending: false,
        ..c.clone()
    });
    let column_string = |c: &mut ColumnRef| column_text(c);
    engine.register_fn("to_string", column_string);
    engine.register_fn("to_debug", column_string);

    super::query::register(&mut engine);

    let object_text = |o: &mut Object| o.0.borrow().repr();
    engine.register_fn("to_string", object_text);
    engine.register_fn("to_debug", object_text);
    let for_get = state.clone();
    engine.register_indexer_get(move |o: &mut Object, name: &str| attribute(&for_get, o, name));
    let for_set = state.clone();
    engine.register_indexer_set(move |o: &mut Object, name: &str, value: Dynamic| {
        assign(&for_set, o, name, value)
    });

    for class in state.models.classes() {
        let for_new = state.clone();
        engine.register_fn(class.name(), move |fields: Map| {
            construct(&for_new, *class, fields)
        });
        let for_blank = state.clone();
        engine.register_fn(class.name(), move || {
            construct(&for_blank, *class, Map::new())
        });
    }
    let text = help(state.models);
    engine.register_fn("help", move || println!("{text}"));
    engine
}

fn help(models: &Models) -> String {
    let names: Vec<&str> = models.classes().iter().map(|c| c.name()).collect();
    let mut text = format!(
        "Bound: db (db.session: add, delete, commit, rollback, get(Class, key)), {}.\n\
         Class(#{{column: value, …}}); Class.query, or a relationship: \
         .all() .first() .count() .get(key) .filter_by(#{{…}}) .order_by(Class.column.desc()) .limit(n) .offset(n)\n",
        names.join(", ")
    );
    for class in models.classes() {
        text.push_str(&format!(
            "{}: {}",
            class.name(),
            class.column_names().join(" ")
        ));
        let relations: Vec<&str> = class.relations().iter().map(|r| r.name).collect();
        if !relations.is_empty() {
            text.push_str(&format!("; relationships: {}", relations.join(" ")));
        }
        text.push('\n');
    }
    text.push_str("Dates and times are ISO 8601 strings in UTC, such as \"2026-11-27T09:30:00Z\".");
    text
}
