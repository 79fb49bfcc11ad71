//! An insert that gives back the key MySQL assigned: it has no RETURNING, so the key is
//! asked for after, on the same connection.

/// For generated code, through `insert_returning_key!`.
#[doc(hidden)]
#[macro_export]
macro_rules! __insert_returning_key_mysql {
    ($conn:expr, $table:path, $key:path, $values:expr, $ty:ty, $sql:ident) => {{
        $crate::diesel::insert_into($table)
            .values($values)
            .execute($conn)?;
        $crate::diesel::select($crate::diesel::dsl::sql::<$crate::diesel::sql_types::$sql>(
            "CAST(LAST_INSERT_ID() AS SIGNED)",
        ))
        .get_result::<$ty>($conn)
    }};
}
