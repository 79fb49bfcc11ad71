//! What each database ends up with, read back from its own catalog, is exactly the
//! chapter's schema: columns, types and lengths, nullability, indexes, the foreign key.

use dbmigrate::cli::{Chosen, Prepared};
use dbmigrate::inspect::inspect;
use dbmigrate::on_each_database;
use dbmigrate::schema::ColumnType;
use microblog::Database;

fn built_in() -> Chosen {
    microblog::migrations::built_in_chosen().unwrap()
}

on_each_database! {
    fn the_catalog_holds_exactly_the_models_schema(db: &TestDb) {
        let mut database = Database::connect(&db.url).unwrap();
        database.prepare(&built_in(), |_| ()).unwrap();
        let mut read = inspect(database.session.conn()).unwrap();
        let dialect = db.dialect();
        // MySQL's counter of changes, the site's own table outside the models.
        let own = read.tables.iter().position(|t| t.name == microblog::web::COUNTER_TABLE);
        assert_eq!(own.is_some(), dialect == dbmigrate::Dialect::Mysql);
        read.tables.retain(|t| t.name != microblog::web::COUNTER_TABLE);
        assert_eq!(read, microblog::models::schema().normalized_for(dialect));

        // Spelled out, so that a reader sees what "exactly" covers.
        let user = read.table("user").unwrap();
        let username = user.find_column("username").unwrap();
        assert_eq!((username.ty.clone(), username.nullable), (ColumnType::String(Some(64)), true));
        let index_names: Vec<(&str, bool)> =
            user.indexes.iter().map(|i| (i.name.as_str(), i.unique)).collect();
        assert_eq!(index_names, [("ix_user_email", true), ("ix_user_username", true), ("ix_user_username_key", false)]);
        let post = read.table("post").unwrap();
        assert_eq!(post.indexes[0].name, "ix_post_timestamp");
        assert!(!post.indexes[0].unique);
        assert_eq!(post.foreign_keys[0].columns, ["user_id"]);
        assert_eq!((post.foreign_keys[0].ref_table.as_str(), post.foreign_keys[0].ref_columns.as_slice()), ("user", &["id".to_string()][..]));
        assert_eq!(post.find_column("timestamp").unwrap().ty, ColumnType::DateTime);
    }

    fn a_new_database_is_migrated_once_and_then_left_as_it_is(db: &TestDb) {
        let mut database = Database::connect(&db.url).unwrap();
        let chosen = built_in();
        let every_revision = chosen.repository.graph().order().to_vec();
        assert_eq!(database.prepare(&chosen, |_| ()).unwrap(), Prepared::Migrated(every_revision));
        assert_eq!(database.prepare(&chosen, |_| ()).unwrap(), Prepared::Ready);
    }

    fn a_database_behind_the_models_is_not_changed_by_the_application(db: &TestDb) {
        let mut database = Database::connect(&db.url).unwrap();
        let chosen = built_in();
        database.prepare(&chosen, |_| ()).unwrap();
        let first = chosen.repository.graph().order()[0].clone();
        let conn = database.session.conn();
        dbmigrate::migrate::downgrade(conn, &db.url, &chosen.repository, &dbmigrate::DowngradeTarget::Revision(first), |_| ()).unwrap();
        let behind = inspect(database.session.conn()).unwrap();
        let error = database.prepare(&chosen, |_| ()).unwrap_err();
        assert!(error.to_string().contains("run `microblog db upgrade`"), "{error}");
        assert_eq!(inspect(database.session.conn()).unwrap(), behind);
    }

    fn a_database_with_foreign_tables_and_no_history_is_refused(db: &TestDb) {
        let mut database = Database::connect(&db.url).unwrap();
        let conn = database.session.conn();
        diesel::connection::SimpleConnection::batch_execute(conn, "CREATE TABLE notes (id INTEGER PRIMARY KEY)").unwrap();
        let error = database.prepare(&built_in(), |_| ()).unwrap_err();
        assert!(error.to_string().contains("no migration history"), "{error}");
        assert_eq!(inspect(database.session.conn()).unwrap().tables.len(), 1);
    }
}
