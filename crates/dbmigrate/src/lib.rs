#![doc = include_str!("../README.md")]

pub mod admin;
pub mod apply;
pub mod autogenerate;
#[cfg(feature = "cli")]
pub mod cli;
pub mod compare;
pub mod connection;
pub mod declarations;
pub mod dialect;
pub mod expand;
pub mod graph;
pub mod history;
pub mod import;
pub mod inspect;
pub mod lint;
pub mod lock;
pub mod migrate;
pub mod model;
pub mod ops;
pub mod repository;
pub mod revision;
pub mod schema;
mod spelling;
pub mod squash;
#[cfg(feature = "testing")]
pub mod testing;
pub mod url;
pub mod violation;

pub use connection::{
    AnyConnection, ConnectError, ConnectFailure, Timeouts, connect, connect_with,
};
pub use migrate::{DowngradeTarget, Event, MigrateError, UpgradeTarget};
pub use model::models;
pub use repository::{Location, Repository, RepositoryError};
pub use revision::Revision;
pub use schema::{Column, ColumnDefault, ColumnType, ForeignKey, Index, Schema, Table};
pub use url::{DatabaseUrl, Dialect, SqliteLocation, UrlError};
pub use violation::{ConstraintViolation, constraint_violation};

#[doc(hidden)]
pub use diesel;

/// The Diesel backend of [`AnyConnection`]: queries built for it run on all three databases.
pub type AnyBackend = <AnyConnection as diesel::Connection>::Backend;
