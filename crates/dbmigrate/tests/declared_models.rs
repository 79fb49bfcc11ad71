//! A model declared with every column type the declaration knows, written, read back,
//! filtered and ordered on each database through what `#[dbmigrate::models]` generates.

use bigdecimal::BigDecimal;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use dbmigrate::model::{Model, Session, Value};
use dbmigrate::testing::TestDb;
use dbmigrate::testing::assert_every_column_filters_and_orders;
use dbmigrate::{ColumnType, on_each_database};

#[dbmigrate::models]
mod declared {
    use super::*;

    #[model(repr = "<Sample {label}>", index(columns("small", "weight")))]
    pub struct Sample {
        #[column(primary_key)]
        pub id: i64,
        #[column(length = 20, unique)]
        pub label: String,
        pub note: Option<String>,
        pub small: i16,
        pub count: Option<i32>,
        pub flag: Option<bool>,
        pub ratio: Option<f32>,
        pub weight: f64,
        #[column(precision = 10, scale = 2)]
        pub price: Option<BigDecimal>,
        pub day: Option<NaiveDate>,
        pub at: Option<NaiveTime>,
        #[column(index)]
        pub seen: Option<NaiveDateTime>,
        pub blob: Option<Vec<u8>>,
        // In alphabetical order: MySQL sorts an ENUM by its values' positions.
        #[column(values("draft", "it's out", "published"))]
        pub status: Option<String>,
        #[column(foreign_key = Sample, on_delete = "cascade", relationship = parent, backref = children)]
        pub parent_id: Option<i64>,
    }
}

use declared::Sample;

/// Indexes declared on a model as a whole: a partial one, named by hand.
#[dbmigrate::models]
mod with_partial_index {
    use super::*;

    #[model(
        index(
            name = "ix_entry_live_title",
            columns("title"),
            unique,
            condition = "deleted_at IS NULL"
        ),
        check(name = "ck_entry_title_filled", condition = "title <> ''")
    )]
    pub struct Entry {
        #[column(primary_key)]
        pub id: i32,
        #[column(length = 80)]
        pub title: String,
        pub deleted_at: Option<NaiveDateTime>,
    }
}

#[test]
fn indexes_and_checks_declared_on_the_model_are_in_its_table() {
    let sample = Sample::table();
    let index = sample
        .indexes
        .iter()
        .find(|i| i.name == "ix_sample_small_weight")
        .expect("named by convention");
    assert_eq!(index.columns, ["small", "weight"]);
    assert!(!index.unique && index.predicate.is_none());

    let entry = with_partial_index::Entry::table();
    assert_eq!(
        entry.indexes,
        [dbmigrate::Index {
            name: "ix_entry_live_title".into(),
            columns: vec!["title".into()],
            unique: true,
            predicate: Some("deleted_at IS NULL".into()),
        }]
    );
    assert_eq!(
        entry.check_constraints,
        [dbmigrate::schema::CheckConstraint {
            name: "ck_entry_title_filled".into(),
            condition: "title <> ''".into(),
        }]
    );
}

fn migrated(db: &TestDb) -> Session {
    dbmigrate::testing::migrated_session(db, declared::schema())
}

#[test]
fn the_declaration_is_the_schema() {
    let table = Sample::table();
    assert_eq!(table.name, "sample", "the table is named after the struct");
    let ty = |name: &str| table.find_column(name).unwrap().ty.clone();
    assert_eq!(ty("label"), ColumnType::String(Some(20)));
    assert_eq!(ty("note"), ColumnType::Text);
    assert_eq!(
        ty("price"),
        ColumnType::Numeric {
            precision: 10,
            scale: 2
        }
    );
    assert_eq!(
        ty("status"),
        ColumnType::Enum(vec!["draft".into(), "it's out".into(), "published".into()])
    );
    assert!(!table.find_column("label").unwrap().nullable);
    assert!(table.find_column("note").unwrap().nullable);
    assert!(table.find_column("id").unwrap().autoincrement);
    assert_eq!(table.unique_constraints[0].name, "uq_sample_label");
    assert_eq!(table.indexes[0].name, "ix_sample_seen");
    assert_eq!(table.foreign_keys[0].name, "fk_sample_parent_id_sample");
    assert_eq!(
        table.foreign_keys[0].on_delete,
        Some(dbmigrate::schema::ReferentialAction::Cascade)
    );
}

on_each_database! {
    fn every_column_type_is_written_read_filtered_and_ordered(db: &TestDb) {
        let mut session = migrated(db);
        assert_every_column_filters_and_orders(&declared::MODELS, &mut session);
    }

    fn relationships_and_defaults_follow_the_declaration(db: &TestDb) {
        let mut session = migrated(db);
        let parent = session.add(declared::NewSample {
            label: Some("root".into()),
            small: Some(1),
            weight: Some(2.5),
            price: Some("12.30".parse().unwrap()),
            ..Default::default()
        });
        let child = declared::NewSample {
            label: Some("leaf".into()),
            small: Some(2),
            weight: Some(1.0),
            ..Default::default()
        }
        .parent(parent);
        session.add(child);
        session.commit().unwrap();
        let root: Sample = session.get(session.id_of(parent).unwrap()).unwrap().unwrap();
        assert_eq!(root.to_string(), "<Sample root>");
        // SQLite keeps NUMERIC as a floating-point number: exact to the declared scale only.
        assert_eq!(root.price.as_ref().map(|p| p.with_scale(2)), Some("12.30".parse().unwrap()));
        let conn = session.conn();
        use diesel::prelude::*;
        let children: Vec<Sample> = root.children().load(conn).unwrap();
        assert_eq!(children.len(), 1);
        assert_eq!(children[0].parent(conn).unwrap().map(|p| p.label), Some("root".to_string()));
        assert_eq!(Sample::column("label").map(|c| (c.get)(&root)), Some(Value::Text("root".into())));
    }

    fn an_enumeration_takes_only_its_values(db: &TestDb) {
        let mut session = migrated(db);
        session.add(declared::NewSample {
            label: Some("kept".into()),
            small: Some(1),
            weight: Some(1.0),
            status: Some("it's out".into()),
            ..Default::default()
        });
        session.commit().unwrap();
        session.add(declared::NewSample {
            label: Some("refused".into()),
            small: Some(2),
            weight: Some(1.0),
            status: Some("archived".into()),
            ..Default::default()
        });
        let error = session.commit().unwrap_err();
        assert_eq!(error.to_string(), "'archived' is not one of the values of sample.status: draft, it's out, published");
        let conn = session.conn();
        use diesel::prelude::*;
        let stored: Vec<Option<String>> = declared::sample::table.select(declared::sample::status).load(conn).unwrap();
        assert_eq!(stored, [Some("it's out".to_string())]);
        let by_hand = diesel::sql_query("INSERT INTO sample (label, small, weight, status) VALUES ('sql', 3, 1.0, 'archived')").execute(conn);
        assert!(by_hand.is_err(), "the database holds the column to its values too");
    }
}
