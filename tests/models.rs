//! Every column of every model can be written, read, filtered and ordered through the
//! declaration's descriptors (what the shell and the unit of work use), on each database,
//! with NULL sorting first going up everywhere.

use dbmigrate::on_each_database;
use dbmigrate::testing::assert_every_column_filters_and_orders;
use microblog::Database;

on_each_database! {
    fn every_column_of_every_model_filters_and_orders(db: &TestDb) {
        let mut database = Database::connect(&db.url).unwrap();
        let built_in = microblog::migrations::built_in_chosen().unwrap();
        database.prepare(&built_in, |_| ()).unwrap();
        assert_every_column_filters_and_orders(&microblog::models::MODELS, &mut database.session);
    }
}
