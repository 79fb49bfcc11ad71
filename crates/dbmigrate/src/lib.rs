//! The migration engine: a database-neutral schema model, its SQL for SQLite, PostgreSQL and
//! MySQL/MariaDB, catalog reading, and connections chosen at run time by URL. It knows
//! nothing of any application; applications hand it their schema as a value.

pub mod connection;
pub mod inspect;
pub mod render;
pub mod schema;
pub mod url;

pub use connection::{AnyConnection, ConnectError, ConnectFailure, connect};
pub use schema::{Column, ColumnDefault, ColumnType, ForeignKey, Index, Schema, Table};
pub use url::{DatabaseUrl, Dialect, SqliteLocation, UrlError};
