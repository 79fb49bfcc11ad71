//! The chapter's models: `User` and `Post`, one user to many posts.
//!
//! The schema is written twice in Rust's type system's terms: as Diesel tables (what queries
//! use) and as a [`Schema`] value (what the migration engine creates and compares). The
//! test in `drift.rs` fails whenever the two disagree.

pub(crate) mod post;
mod user;

#[cfg(test)]
mod drift;

use std::sync::OnceLock;

use dbmigrate::schema::{Column, ColumnType, Schema, Table};

pub use post::{AuthorRef, NewPost, Post};
pub use user::{NewUser, User};

/// The tables as Diesel sees them. Identifiers are always quoted, so `user` is safe on
/// PostgreSQL.
pub mod tables {
    diesel::table! {
        user (id) {
            id -> Integer,
            username -> Nullable<Varchar>,
            email -> Nullable<Varchar>,
            password_hash -> Nullable<Varchar>,
        }
    }

    diesel::table! {
        post (id) {
            id -> Integer,
            body -> Nullable<Varchar>,
            timestamp -> Nullable<Timestamp>,
            user_id -> Nullable<Integer>,
        }
    }

    diesel::joinable!(post -> user (user_id));
    diesel::allow_tables_to_appear_in_same_query!(user, post);
}

/// The application's schema: exactly the chapter's, with names from the engine's
/// conventions (`ix_<table>_<column>`, `fk_<table>_<column>_<reftable>`).
pub fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        Schema::new(vec![
            Table::new("user")
                .id_column("id")
                .column(Column::new("username", ColumnType::String(Some(64))))
                .column(Column::new("email", ColumnType::String(Some(120))))
                .column(Column::new("password_hash", ColumnType::String(Some(128))))
                .index("email", true)
                .index("username", true),
            Table::new("post")
                .id_column("id")
                .column(Column::new("body", ColumnType::String(Some(140))))
                .column(Column::new("timestamp", ColumnType::DateTime))
                .column(Column::new("user_id", ColumnType::Integer))
                .index("timestamp", false)
                .index("user_id", false)
                .foreign_key("user_id", "user", "id"),
        ])
    })
}

/// Now, in UTC, to the microsecond: the precision all three databases keep, so that a
/// timestamp reads back as the instant that was written.
pub fn utc_now() -> chrono::NaiveDateTime {
    use chrono::{SubsecRound, Utc};
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// Python's `repr` of an optional string, as the chapter's `__repr__` prints it.
fn or_none(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("None")
}
