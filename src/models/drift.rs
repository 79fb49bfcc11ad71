//! The Diesel tables and the schema value must describe the same columns: this test fails
//! when one is edited without the other.

use diesel::sql_types::{Integer, Nullable, Text, Timestamp};
use diesel::{Column as DieselColumn, Expression, Table as DieselTable};

use super::schema;
use super::tables::{post, user};
use dbmigrate::ColumnType;

trait Kind {
    const KIND: &'static str;
    const NULLABLE: bool = false;
}
impl Kind for Integer {
    const KIND: &'static str = "integer";
}
impl Kind for Text {
    const KIND: &'static str = "string";
}
impl Kind for Timestamp {
    const KIND: &'static str = "datetime";
}
impl<T: Kind + diesel::sql_types::SqlType> Kind for Nullable<T> {
    const KIND: &'static str = T::KIND;
    const NULLABLE: bool = true;
}

type Described = (&'static str, &'static str, bool);

trait Describe {
    fn describe() -> Vec<Described>;
}

macro_rules! describe_tuple {
    ($($column:ident),+) => {
        impl<$($column),+> Describe for ($($column,)+)
        where
            $($column: DieselColumn, <$column as Expression>::SqlType: Kind),+
        {
            fn describe() -> Vec<Described> {
                vec![$((
                    $column::NAME,
                    <<$column as Expression>::SqlType as Kind>::KIND,
                    <<$column as Expression>::SqlType as Kind>::NULLABLE,
                )),+]
            }
        }
    };
}
describe_tuple!(A, B, C, D);
describe_tuple!(A, B, C, D, E);
describe_tuple!(A, B, C, D, E, F);

fn declared(table: &str) -> Vec<Described> {
    let table = schema().table(table).expect("table in schema");
    table
        .columns
        .iter()
        .map(|c| {
            let kind = match c.ty {
                ColumnType::Integer => "integer",
                ColumnType::String(_) | ColumnType::Text => "string",
                ColumnType::DateTime => "datetime",
                ref other => panic!("no Diesel kind mapped for {other:?}"),
            };
            (c.name.as_str(), kind, c.nullable)
        })
        .map(|(name, kind, nullable)| (&*name.to_string().leak(), kind, nullable))
        .collect()
}

#[test]
fn diesel_tables_and_the_schema_value_declare_the_same_columns() {
    assert_eq!(
        <user::table as DieselTable>::AllColumns::describe(),
        declared("user")
    );
    assert_eq!(
        <post::table as DieselTable>::AllColumns::describe(),
        declared("post")
    );
    assert_eq!(
        schema().tables.len(),
        2,
        "every schema table has a Diesel table above"
    );
}
