//! What each database ends up with, read back from its own catalog, is exactly the
//! chapter's schema: columns, types and lengths, nullability, indexes, the foreign key.

use dbmigrate::inspect::inspect;
use dbmigrate::on_each_database;
use dbmigrate::schema::ColumnType;
use microblog::Database;

on_each_database! {
    fn the_catalog_holds_exactly_the_models_schema(db: &TestDb) {
        let mut database = Database::connect(&db.url).unwrap();
        database.create_tables_if_empty().unwrap();
        let read = inspect(database.session.conn()).unwrap();
        let dialect = db.dialect();
        assert_eq!(read, microblog::models::schema().normalized_for(dialect));

        // Spelled out, so that a reader sees what "exactly" covers.
        let user = read.table("user").unwrap();
        let username = user.find_column("username").unwrap();
        assert_eq!((username.ty.clone(), username.nullable), (ColumnType::String(Some(64)), true));
        let index_names: Vec<(&str, bool)> =
            user.indexes.iter().map(|i| (i.name.as_str(), i.unique)).collect();
        assert_eq!(index_names, [("ix_user_email", true), ("ix_user_username", true)]);
        let post = read.table("post").unwrap();
        assert_eq!(post.indexes[0].name, "ix_post_timestamp");
        assert!(!post.indexes[0].unique);
        assert_eq!(post.foreign_keys[0].columns, ["user_id"]);
        assert_eq!((post.foreign_keys[0].ref_table.as_str(), post.foreign_keys[0].ref_columns.as_slice()), ("user", &["id".to_string()][..]));
        assert_eq!(post.find_column("timestamp").unwrap().ty, ColumnType::DateTime);
    }

    fn a_database_that_has_tables_is_left_as_it_is(db: &TestDb) {
        let mut database = Database::connect(&db.url).unwrap();
        assert!(database.create_tables_if_empty().unwrap());
        assert!(!database.create_tables_if_empty().unwrap());
    }
}
