//! Checks, for any set of declared models, that every column can be written, read, filtered
//! and ordered through the column descriptors, on a real database.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveTime};

use crate::model::{ModelClass, Models, Predicate, QuerySpec, Record, Session, Value};
use crate::schema::ColumnType;

const ROWS: usize = 3;

/// A value of `ty` for row `i`: distinct per row, in the same order as `i`, and sorted the
/// same way by every database (same length, same case).
fn sample(ty: &ColumnType, i: usize) -> Value {
    let day = NaiveDate::from_ymd_opt(2000, 1, 1 + i as u32).expect("a date");
    match ty {
        ColumnType::SmallInteger | ColumnType::Integer | ColumnType::BigInteger => {
            Value::Integer(10 + i as i64)
        }
        ColumnType::Boolean => Value::Boolean(i % 2 == 1),
        ColumnType::String(_) | ColumnType::Text => Value::Text(format!("v{i}")),
        ColumnType::Float | ColumnType::Double => Value::Float(0.5 + i as f64),
        ColumnType::Numeric { .. } => Value::Numeric(format!("{i}.5")),
        ColumnType::Date => Value::Date(day),
        ColumnType::Time => Value::Time(NaiveTime::from_hms_opt(9, i as u32, 0).expect("a time")),
        ColumnType::DateTime => {
            Value::DateTime(day.and_hms_micro_opt(9, 30, 0, 250).expect("a time"))
        }
        ColumnType::Binary => Value::Binary(vec![i as u8, 7]),
        ColumnType::Native(_) => Value::Text(format!("v{i}")),
        ColumnType::Enum(values) => {
            let mut sorted = values.clone();
            sorted.sort();
            Value::Text(sorted[i.min(sorted.len() - 1)].clone())
        }
    }
}

/// NULL first, then by value: the order the descriptors promise on every database.
fn order(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Integer(x), Value::Integer(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) => x.total_cmp(y),
        (Value::Boolean(x), Value::Boolean(y)) => x.cmp(y),
        (Value::Text(x), Value::Text(y)) => x.cmp(y),
        (Value::Numeric(x), Value::Numeric(y)) => {
            let number = |s: &str| s.parse::<f64>().unwrap_or(f64::NAN);
            number(x).total_cmp(&number(y))
        }
        (Value::Date(x), Value::Date(y)) => x.cmp(y),
        (Value::Time(x), Value::Time(y)) => x.cmp(y),
        (Value::DateTime(x), Value::DateTime(y)) => x.cmp(y),
        (Value::Binary(x), Value::Binary(y)) => x.cmp(y),
        (x, y) => panic!("values of two kinds in one column: {x:?} and {y:?}"),
    }
}

fn class_of(models: &Models, table: &str) -> &'static dyn ModelClass {
    *models
        .classes()
        .iter()
        .find(|c| c.table_name() == table)
        .unwrap_or_else(|| panic!("no model for the table {table}"))
}

/// Points each self-referencing column of the rows just written at another of them.
fn refer_to_own_rows(class: &dyn ModelClass, session: &mut Session, written: &[Vec<Value>]) {
    let own: Vec<&str> = class
        .columns()
        .iter()
        .filter(|c| {
            c.references
                .as_ref()
                .is_some_and(|r| r.table == class.table_name())
        })
        .map(|c| c.name)
        .collect();
    if own.is_empty() {
        return;
    }
    for (i, key) in written.iter().enumerate() {
        let mut row = class
            .get(session.conn(), key)
            .expect("a stored row")
            .expect("the row just written");
        for column in &own {
            let target = written[(i + 1) % written.len()][0].clone();
            row.set(column, target).expect("a reference");
        }
        row.add_to(session);
    }
    session.commit().expect("rows referring to their own table");
}

/// Writes a few rows of every model (one NULL in each nullable column, references to the
/// rows written before), then for every column of every model: filters by each value it
/// holds and orders both ways, comparing with what the rows hold. The database must be
/// empty and at the models' schema.
pub fn assert_every_column_filters_and_orders(models: &Models, session: &mut Session) {
    let mut keys: BTreeMap<String, Vec<Vec<Value>>> = BTreeMap::new();
    for table in models.schema().dependency_order() {
        let class = class_of(models, table);
        let mut records: Vec<Box<dyn Record>> = Vec::new();
        for i in 0..ROWS {
            let mut record = class.blank();
            for (position, column) in class.columns().iter().enumerate() {
                if column.autoincrement {
                    continue;
                }
                let value = match &column.references {
                    // Rows of this table are not written yet: set below.
                    Some(reference) if reference.table == table => Value::Null,
                    Some(reference) => {
                        let parents = &keys[reference.table];
                        parents[(i + position) % parents.len()][0].clone()
                    }
                    None if column.nullable && i == 1 => Value::Null,
                    None => sample(&column.column_type(), i),
                };
                record
                    .set(column.name, value)
                    .unwrap_or_else(|e| panic!("{}.{}: {e}", class.name(), column.name));
            }
            record.add_to(session);
            records.push(record);
        }
        session
            .commit()
            .unwrap_or_else(|e| panic!("writing {} rows: {e}", class.name()));
        let written: Vec<Vec<Value>> = records
            .iter()
            .map(|r| {
                session
                    .key_of(r.pending().expect("added"))
                    .expect("committed")
            })
            .collect();
        refer_to_own_rows(class, session, &written);
        keys.insert(table.to_string(), written);
    }

    for class in models.classes() {
        let conn = session.conn();
        let rows = class
            .select(conn, &QuerySpec::default())
            .expect("every row");
        assert_eq!(rows.len(), ROWS, "{}", class.name());
        for column in class.columns() {
            let name = column.name;
            let what = format!("{}.{name}", class.name());
            let held: Vec<Value> = rows
                .iter()
                .map(|r| r.get(name).expect("a column"))
                .collect();
            for value in &held {
                let spec = QuerySpec {
                    filters: vec![Predicate::Equals(name.to_string(), value.clone())],
                    ..QuerySpec::default()
                };
                let found = class.select(conn, &spec).expect("a filtered query");
                let expected = held.iter().filter(|v| *v == value).count();
                assert_eq!(found.len(), expected, "{what} = {value}");
                assert!(
                    found
                        .iter()
                        .all(|r| r.get(name).ok().as_ref() == Some(value)),
                    "{what} = {value} found other values"
                );
                assert_eq!(
                    class.count(conn, &spec).expect("a count"),
                    expected as i64,
                    "{what}"
                );
            }
            for descending in [false, true] {
                let spec = QuerySpec {
                    order: vec![(name.to_string(), descending)],
                    ..QuerySpec::default()
                };
                let got: Vec<Value> = class
                    .select(conn, &spec)
                    .expect("an ordered query")
                    .iter()
                    .map(|r| r.get(name).expect("a column"))
                    .collect();
                let mut expected = held.clone();
                expected.sort_by(order);
                if descending {
                    expected.reverse();
                }
                assert_eq!(got, expected, "{what} ordered, descending: {descending}");
            }
        }
    }
}

/// A unit of work on `db`, with the tables of `schema` made.
pub fn migrated_session(db: &super::TestDb, schema: &'static crate::Schema) -> Session {
    let mut conn = crate::connect(&db.url).expect("connect");
    let ops = schema.creation_ops();
    crate::apply::apply(&mut conn, &ops, &Default::default(), |_| Ok(())).expect("tables made");
    Session::new(conn, schema)
}
