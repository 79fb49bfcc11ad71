//! A model's column descriptors (name, type, read, write, filter, order, what the engine's
//! schema says of the column) and its `Display` from `repr`.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::Ident;

use super::{Resolved, query_type};
use crate::parse::{self, Column, Model, ReprPiece, ServerDefault};

pub(super) fn column_descriptor(
    model: &Model,
    new_ident: &Ident,
    column: &Column,
    reference: Option<&Resolved>,
) -> TokenStream {
    let ident = &model.item.ident;
    let table = &model.table_ident;
    let field = &column.ident;
    let name = field.to_string();
    let ty = column.kind.engine();
    let values = &column.values;
    let nullable = column.nullable;
    let primary_key = column.primary_key;
    let autoincrement = column.autoincrement;
    let index = column.index;
    let unique = column.unique;
    let computed_default = column.default_fn.is_some();
    let server_default = match &column.server_default {
        None => quote!(::core::option::Option::None),
        Some(ServerDefault::Literal(sql)) => {
            quote!(::core::option::Option::Some(::dbmigrate::model::ServerDefault::Literal(#sql)))
        }
        Some(ServerDefault::CurrentTimestamp) => quote!(::core::option::Option::Some(
            ::dbmigrate::model::ServerDefault::CurrentTimestamp
        )),
    };
    let references = match reference {
        None => quote!(::core::option::Option::None),
        Some(r) => {
            let ref_table = &r.table;
            let ref_column = &r.column;
            let on_delete = match column
                .foreign_key
                .as_ref()
                .and_then(|fk| fk.on_delete.as_ref())
                .and_then(|(text, _)| parse::referential_action(text))
            {
                Some(action) => {
                    let action = Ident::new(action, Span::call_site());
                    quote!(::core::option::Option::Some(::dbmigrate::schema::ReferentialAction::#action))
                }
                None => quote!(::core::option::Option::None),
            };
            quote!(::core::option::Option::Some(::dbmigrate::model::Reference {
                table: #ref_table,
                column: #ref_column,
                on_delete: #on_delete,
            }))
        }
    };
    let query = query_type(model);
    let (get_new, set_new) = if column.autoincrement {
        (
            quote!(|_: &#new_ident| ::dbmigrate::model::Value::Null),
            quote!(|_: &mut #new_ident, _| ::core::result::Result::Err(::dbmigrate::model::ValueError::Generated)),
        )
    } else {
        (
            quote!(|row: &#new_ident| ::dbmigrate::model::IntoValue::to_value(&row.#field)),
            quote!(|row: &mut #new_ident, value| {
                row.#field = ::dbmigrate::model::FromValue::from_value(value)?;
                ::core::result::Result::Ok(())
            }),
        )
    };
    let base = &column.base;
    let filter = if nullable {
        quote!(|query: #query, value| {
            use ::dbmigrate::diesel::prelude::*;
            let value: ::core::option::Option<#base> = ::dbmigrate::model::FromValue::from_value(value)?;
            ::core::result::Result::Ok(match value {
                ::core::option::Option::Some(value) => query.filter(#table::#field.eq(value)),
                ::core::option::Option::None => query.filter(#table::#field.is_null()),
            })
        })
    } else {
        quote!(|query: #query, value| {
            use ::dbmigrate::diesel::prelude::*;
            let value: #base = ::dbmigrate::model::FromValue::from_value(value)?;
            ::core::result::Result::Ok(query.filter(#table::#field.eq(value)))
        })
    };
    let order = if nullable {
        quote!(|query: #query, descending| {
            use ::dbmigrate::diesel::prelude::*;
            // PostgreSQL puts NULL last going up; SQLite and MySQL first. First it is.
            if descending {
                query.then_order_by((#table::#field.is_null().asc(), #table::#field.desc()))
            } else {
                query.then_order_by((#table::#field.is_null().desc(), #table::#field.asc()))
            }
        })
    } else {
        quote!(|query: #query, descending| {
            use ::dbmigrate::diesel::prelude::*;
            if descending {
                query.then_order_by(#table::#field.desc())
            } else {
                query.then_order_by(#table::#field.asc())
            }
        })
    };
    quote! {
        ::dbmigrate::model::Column::<#ident> {
            info: ::dbmigrate::model::ColumnInfo {
                name: #name,
                ty: #ty,
                values: &[#(#values),*],
                nullable: #nullable,
                primary_key: #primary_key,
                autoincrement: #autoincrement,
                index: #index,
                unique: #unique,
                server_default: #server_default,
                computed_default: #computed_default,
                references: #references,
            },
            get: |row: &#ident| ::dbmigrate::model::IntoValue::to_value(&row.#field),
            set: |row: &mut #ident, value| {
                row.#field = ::dbmigrate::model::FromValue::from_value(value)?;
                ::core::result::Result::Ok(())
            },
            get_new: #get_new,
            set_new: #set_new,
            filter: #filter,
            order: #order,
        }
    }
}

/// `Display` for the row and the new row, from `repr` or as Flask-SQLAlchemy's default
/// (`<User 1>`).
pub(super) fn display(model: &Model, new_ident: &Ident, inserted: &[&Column]) -> TokenStream {
    let ident = &model.item.ident;
    let name = ident.to_string();
    let piece = |piece: &ReprPiece, new: bool| match piece {
        ReprPiece::Text(text) => quote!(::dbmigrate::model::ReprPiece::Text(#text)),
        ReprPiece::Column(column) if new && !inserted.iter().any(|c| c.ident == *column) => {
            quote!(::dbmigrate::model::ReprPiece::Value(
                ::dbmigrate::model::Value::Null
            ))
        }
        ReprPiece::Column(column) => quote!(::dbmigrate::model::ReprPiece::Value(
            ::dbmigrate::model::IntoValue::to_value(&self.#column)
        )),
    };
    let (row, new) = match &model.repr {
        Some(repr) => (
            repr.pieces
                .iter()
                .map(|p| piece(p, false))
                .collect::<Vec<_>>(),
            repr.pieces
                .iter()
                .map(|p| piece(p, true))
                .collect::<Vec<_>>(),
        ),
        None => {
            let keys: Vec<ReprPiece> = model
                .columns
                .iter()
                .filter(|c| c.primary_key)
                .map(|c| ReprPiece::Column(c.ident.clone()))
                .collect();
            let mut row = vec![ReprPiece::Text(format!("<{name} "))];
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    row.push(ReprPiece::Text(", ".into()));
                }
                row.push(key);
            }
            row.push(ReprPiece::Text(">".into()));
            let new_text = format!("<{name} (new)>");
            (
                row.iter().map(|p| piece(p, false)).collect(),
                vec![quote!(::dbmigrate::model::ReprPiece::Text(#new_text))],
            )
        }
    };
    quote! {
        impl ::core::fmt::Display for #ident {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::dbmigrate::model::write_repr(f, &[#(#row),*])
            }
        }

        impl ::core::fmt::Display for #new_ident {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::dbmigrate::model::write_repr(f, &[#(#new),*])
            }
        }
    }
}
