//! An insert that gives back the key PostgreSQL assigned: `RETURNING`.

/// For generated code, through `insert_returning_key!`.
#[doc(hidden)]
#[macro_export]
macro_rules! __insert_returning_key_postgres {
    ($conn:expr, $table:path, $key:path, $values:expr, $ty:ty) => {
        $crate::diesel::insert_into($table)
            .values($values)
            .returning($key)
            .get_result::<$ty>($conn)
    };
}
