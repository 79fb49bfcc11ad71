//! `#[dbmigrate::models]`: the model declaration. One annotated struct per table, in one
//! module, is the only place a table, a column or a relationship is described; everything
//! else is generated from it:
//!
//! - the struct itself becomes the row (Diesel `Queryable`, `Selectable`, `Identifiable`,
//!   `AsChangeset`; `Debug`, `Clone`, `Default`, `PartialEq` unless it derives them itself:
//!   `Default` so that a row read by other means can be filled through the column
//!   descriptors), and `New<Struct>` the row to insert (`Insertable`, every field optional);
//! - a Diesel `table!` per model (with `#[max_length]`), `joinable!` for foreign keys and
//!   `allow_tables_to_appear_in_same_query!` for the whole module;
//! - `impl dbmigrate::model::Model`: the column descriptors (name, type, read, write, filter,
//!   order), the relationships, key lookups, inserts, updates and deletes;
//! - the relationship methods (`post.author(conn)`, `user.posts()`, many-to-many queries);
//! - `MODELS` and `schema()`: the application's schema is the list of its models.
//!
//! ```ignore
//! #[dbmigrate::models]
//! pub mod declared {
//!     #[model(table = "user", repr = "<User {username}>")]
//!     pub struct User {
//!         #[column(primary_key)]
//!         pub id: i32,
//!         #[column(length = 64, index, unique)]
//!         pub username: Option<String>,
//!     }
//!
//!     #[model(repr = "<Post {body}>")]
//!     pub struct Post {
//!         #[column(primary_key)]
//!         pub id: i32,
//!         #[column(length = 140)]
//!         pub body: Option<String>,
//!         #[column(index, foreign_key = User, relationship = author, backref = posts)]
//!         pub user_id: Option<i32>,
//!     }
//! }
//! ```

#![warn(missing_docs)]

mod expand;
mod parse;
mod types;

use proc_macro::TokenStream;

/// Declares the models of a module; see the crate documentation.
#[proc_macro_attribute]
pub fn models(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new(
            proc_macro2::TokenStream::from(attr)
                .into_iter()
                .next()
                .map_or_else(proc_macro2::Span::call_site, |t| t.span()),
            "#[models] takes no arguments; put #[model(...)] on each struct",
        )
        .to_compile_error()
        .into();
    }
    let module = syn::parse_macro_input!(item as syn::ItemMod);
    parse::module(module)
        .and_then(expand::module)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
