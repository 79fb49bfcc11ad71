//! The microblog of the Flask Mega-Tutorial: configuration, the User and Post models, the
//! unit of work, and the command line around them.

pub mod cli;
pub mod config;
pub mod database;
mod log_writer;
pub mod migrations;
pub mod models;
pub mod seed;
pub mod shell;
pub mod web;

pub use database::Database;
pub use dbmigrate::model::{DbError, Pending, Session};
pub use models::{NewPost, NewUser, Post, User};
