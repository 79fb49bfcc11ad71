//! `db models`: the declarations printed from a database compile, and describe that
//! database exactly. A database is made from the models of `source`; what `declarations`
//! prints from its catalog must be `fixtures/printed_models.rs` on every database, and that
//! file, compiled here as `printed`, must compare equal to the catalog.
//!
//! After a deliberate change of the printed form: `UPDATE_FIXTURES=1 cargo nextest run
//! --test declarations_from_database` writes the file again (then read its diff).

use bigdecimal::BigDecimal;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use dbmigrate::autogenerate::compare_with_database;
use dbmigrate::declarations::declarations;
use dbmigrate::inspect::inspect;
use dbmigrate::{connect, on_each_database};

/// What the database is made from: every column type, keys of one column and of two,
/// foreign keys (one with an action, two to the same table), uniques, indexes of one and
/// two columns under conventional and other names, a CHECK, an enumeration, server defaults.
#[dbmigrate::models]
mod source {
    use super::*;

    #[model(table = "author")]
    pub struct Author {
        #[column(primary_key)]
        pub id: i32,
        #[column(length = 64, index, unique)]
        pub name: String,
        #[column(length = 120, unique)]
        pub email: Option<String>,
        pub bio: Option<String>,
        #[column(server_default = "0")]
        pub karma: i32,
        #[column(server_default = current_timestamp)]
        pub joined: NaiveDateTime,
    }

    #[model(
        table = "book",
        index(columns("author_id", "published_on"), name = "ix_book_by_author"),
        index(columns("title", "edition"), unique),
        check(name = "ck_book_pages_positive", condition = "pages > 0")
    )]
    pub struct Book {
        // An i64 key reads back as i32 on SQLite, whose INTEGER PRIMARY KEY is both.
        #[column(primary_key)]
        pub id: i32,
        #[column(length = 200)]
        pub title: String,
        pub edition: i16,
        pub pages: Option<i32>,
        pub sales: i64,
        #[column(precision = 10, scale = 2)]
        pub price: Option<BigDecimal>,
        pub rating: Option<f32>,
        pub weight: Option<f64>,
        pub in_print: Option<bool>,
        pub published_on: Option<NaiveDate>,
        pub launch_at: Option<NaiveTime>,
        pub cover: Option<Vec<u8>>,
        #[column(values("draft", "out of print", "published"))]
        pub status: Option<String>,
        #[column(foreign_key = Author, on_delete = "cascade")]
        pub author_id: i32,
        #[column(index, foreign_key = Author)]
        pub editor_id: Option<i32>,
    }

    #[model(table = "book_tag")]
    pub struct BookTag {
        #[column(primary_key, foreign_key = Book)]
        pub book_id: i32,
        #[column(primary_key, length = 40)]
        pub tag: String,
    }
}

/// `declarations` of a database made from `source`, compiled.
mod printed {
    include!("fixtures/printed_models.rs");
}

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/printed_models.rs"
);

on_each_database! {
    fn declarations_printed_from_a_database_compile_and_describe_it(db: &TestDb) {
        let mut conn = connect(&db.url).unwrap();
        dbmigrate::apply::apply(&mut conn, &source::schema().creation_ops(), &Default::default(), |_| Ok(()))
            .unwrap();
        let printed_now = declarations(&inspect(&mut conn).unwrap(), &[]).unwrap();
        if std::env::var_os("UPDATE_FIXTURES").is_some() {
            std::fs::write(FIXTURE, &printed_now).unwrap();
        }
        assert_eq!(
            printed_now,
            std::fs::read_to_string(FIXTURE).unwrap(),
            "declarations printed from {:?} differ from {FIXTURE}",
            db.dialect()
        );
        let comparison =
            compare_with_database(&mut conn, printed::declared::schema(), Default::default(), &[])
                .unwrap();
        assert!(
            comparison.changes.is_empty(),
            "the printed declarations, compiled, differ from the database they were read from: {:#?}",
            comparison.changes
        );
    }

    fn declarations_of_the_tables_asked_for_name_the_others_by_table(db: &TestDb) {
        let mut conn = connect(&db.url).unwrap();
        dbmigrate::apply::apply(&mut conn, &source::schema().creation_ops(), &Default::default(), |_| Ok(()))
            .unwrap();
        let live = inspect(&mut conn).unwrap();
        let text = declarations(&live, &["book_tag".to_string()]).unwrap();
        assert!(text.contains("pub struct BookTag"), "{text}");
        assert!(!text.contains("pub struct Book {"), "{text}");
        assert!(text.contains("foreign_key = \"book.id\""), "{text}");
        let missing = declarations(&live, &["nope".to_string()]).unwrap_err();
        assert_eq!(missing.to_string(), "the database has no table 'nope'");
    }
}
