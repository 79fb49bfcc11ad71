//! One model's items: the row struct with Diesel's derives, its `table!`, the `New…` insert
//! struct, `impl Model` and `impl NewRow`, and the methods relationships gave it.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::Ident;

use super::columns::{column_descriptor, display};
use super::{Extras, Resolved, query_type};
use crate::parse::{self, Column, Model};

pub(super) fn model_items(
    model: &Model,
    references: &[Option<Resolved>],
    extras: &Extras,
    index: usize,
) -> TokenStream {
    let ident = &model.item.ident;
    let new_ident = format_ident!("New{}", ident);
    let keys: Vec<&Column> = model.columns.iter().filter(|c| c.primary_key).collect();
    let key_idents = key_idents(model);
    let has_changes = model.columns.iter().any(|c| !c.primary_key);
    let inserted: Vec<&Column> = model.columns.iter().filter(|c| !c.autoincrement).collect();
    let key_type = if keys.len() == 1 {
        let base = &keys[0].base;
        quote!(#base)
    } else {
        let bases = keys.iter().map(|c| &c.base);
        quote!((#(#bases,)*))
    };

    let struct_item = row_struct(model, &key_idents, has_changes);
    let table_macro = table_macro(model, &key_idents);
    let insert_struct = insert_struct(model, &new_ident, &inserted);
    let model_impl = model_impl(model, &new_ident, references, extras, index, &key_type);
    let new_row_impl = new_row_impl(model, &new_ident, &key_type, &inserted);
    let display = display(model, &new_ident, &inserted);
    let query = query_type(model);
    let methods = &extras.methods[index];
    let new_methods = &extras.new_methods[index];

    quote! {
        #struct_item
        #table_macro
        #insert_struct
        #model_impl
        #new_row_impl

        impl #ident {
            /// Every row, as a query to refine with `filter`, `order`, `limit` and `offset`.
            pub fn query() -> #query {
                <Self as ::dbmigrate::model::Model>::query()
            }

            #(#methods)*
        }

        impl #new_ident {
            #(#new_methods)*
        }

        #display
    }
}

/// The fields of the primary key, in order.
fn key_idents(model: &Model) -> Vec<&Ident> {
    model
        .columns
        .iter()
        .filter(|c| c.primary_key)
        .map(|c| &c.ident)
        .collect()
}

/// Whether rows of the model can point at rows added in the same unit of work.
fn has_refs(model: &Model) -> bool {
    model.columns.iter().any(|c| c.relationship.is_some())
}

/// `New…`: the row to insert, every field optional.
fn insert_struct(model: &Model, new_ident: &Ident, inserted: &[&Column]) -> TokenStream {
    let vis = &model.item.vis;
    let table = &model.table_ident;
    let new_fields = inserted.iter().map(|c| {
        let field = &c.ident;
        let base = &c.base;
        quote!(pub #field: ::core::option::Option<#base>,)
    });
    let refs_field = has_refs(model).then(|| {
        quote! {
            /// Columns that take the key of a row added to the same unit of work.
            #[diesel(skip_insertion)]
            pub pending_refs: ::dbmigrate::model::PendingRefs,
        }
    });
    let new_doc = format!(
        "A {} not yet written: empty fields take their default{}.",
        model.item.ident,
        if model.columns.iter().any(|c| c.autoincrement) {
            ", and the database assigns the key"
        } else {
            ""
        }
    );
    quote! {
        #[doc = #new_doc]
        #[derive(Debug, Clone, Default, PartialEq, ::dbmigrate::diesel::Insertable)]
        #[diesel(table_name = #table)]
        #vis struct #new_ident {
            #(#new_fields)*
            #refs_field
        }
    }
}

/// The model's indexes of several columns, as `IndexInfo`s.
fn index_infos(model: &Model) -> Vec<TokenStream> {
    model
        .indexes
        .iter()
        .map(|index| {
            let (name, columns, unique) = (&index.name, &index.columns, index.unique);
            let condition = match &index.condition {
                Some(sql) => quote!(::core::option::Option::Some(#sql)),
                None => quote!(::core::option::Option::None),
            };
            quote!(::dbmigrate::model::IndexInfo {
                name: #name,
                columns: &[#(#columns),*],
                unique: #unique,
                condition: #condition,
            })
        })
        .collect()
}

/// `impl Model`: the descriptors, and the queries every model answers.
fn model_impl(
    model: &Model,
    new_ident: &Ident,
    references: &[Option<Resolved>],
    extras: &Extras,
    index: usize,
    key_type: &TokenStream,
) -> TokenStream {
    let ident = &model.item.ident;
    let table = &model.table_ident;
    let table_name = &model.table;
    let name = ident.to_string();
    let key_idents = key_idents(model);
    let key_value = if key_idents.len() == 1 {
        let key = key_idents[0];
        quote!(::core::clone::Clone::clone(&self.#key))
    } else {
        quote!((#(::core::clone::Clone::clone(&self.#key_idents),)*))
    };
    let query = query_type(model);
    let columns: Vec<TokenStream> = model
        .columns
        .iter()
        .zip(references)
        .map(|(c, r)| column_descriptor(model, new_ident, c, r.as_ref()))
        .collect();
    let column_count = columns.len();
    let relations = &extras.relations[index];
    let relation_count = relations.len();
    let filters = &extras.filters[index];
    let filter_count = filters.len();
    let indexes = index_infos(model);
    let index_count = indexes.len();
    let check_names = model.checks.iter().map(|(name, _)| name);
    let check_conditions = model.checks.iter().map(|(_, condition)| condition);
    let update = if model.columns.iter().any(|c| !c.primary_key) {
        quote! {
            use ::dbmigrate::diesel::prelude::*;
            ::dbmigrate::diesel::update(#table::table.find(::dbmigrate::model::Model::key(self)))
                .set(self)
                .execute(conn)
        }
    } else {
        quote!(let _ = conn; ::core::result::Result::Ok(0))
    };
    quote! {
        impl ::dbmigrate::model::Model for #ident {
            type New = #new_ident;
            type Key = #key_type;
            type Query = #query;
            const NAME: &'static str = #name;
            const TABLE: &'static str = #table_name;

            fn columns() -> &'static [::dbmigrate::model::Column<Self>] {
                static COLUMNS: [::dbmigrate::model::Column<#ident>; #column_count] = [#(#columns),*];
                &COLUMNS
            }

            fn relations() -> &'static [::dbmigrate::model::Relation] {
                static RELATIONS: [::dbmigrate::model::Relation; #relation_count] = [#(#relations),*];
                &RELATIONS
            }

            fn filters() -> &'static [::dbmigrate::model::Filter<Self>] {
                static FILTERS: [::dbmigrate::model::Filter<#ident>; #filter_count] = [#(#filters),*];
                &FILTERS
            }

            fn indexes() -> &'static [::dbmigrate::model::IndexInfo] {
                static INDEXES: [::dbmigrate::model::IndexInfo; #index_count] = [#(#indexes),*];
                &INDEXES
            }

            fn checks() -> &'static [(&'static str, &'static str)] {
                &[#((#check_names, #check_conditions)),*]
            }

            fn query() -> Self::Query {
                use ::dbmigrate::diesel::prelude::*;
                #table::table.into_boxed()
            }

            fn load(
                query: Self::Query,
                limit: ::core::option::Option<i64>,
                offset: ::core::option::Option<i64>,
                conn: &mut ::dbmigrate::AnyConnection,
            ) -> ::dbmigrate::diesel::QueryResult<::std::vec::Vec<Self>> {
                use ::dbmigrate::diesel::prelude::*;
                let mut query = query;
                if let ::core::option::Option::Some(limit) = limit {
                    query = query.limit(limit);
                }
                if let ::core::option::Option::Some(offset) = offset {
                    // SQLite and MySQL take no OFFSET without a LIMIT.
                    query = query.offset(offset).limit(limit.unwrap_or(i64::MAX));
                }
                query.load::<#ident>(conn)
            }

            fn count(
                query: Self::Query,
                conn: &mut ::dbmigrate::AnyConnection,
            ) -> ::dbmigrate::diesel::QueryResult<i64> {
                use ::dbmigrate::diesel::prelude::*;
                query.count().get_result(conn)
            }

            fn find(
                conn: &mut ::dbmigrate::AnyConnection,
                key: Self::Key,
            ) -> ::dbmigrate::diesel::QueryResult<::core::option::Option<Self>> {
                use ::dbmigrate::diesel::prelude::*;
                #table::table.find(key).first::<#ident>(conn).optional()
            }

            fn key(&self) -> Self::Key {
                #key_value
            }

            fn update(&self, conn: &mut ::dbmigrate::AnyConnection) -> ::dbmigrate::diesel::QueryResult<usize> {
                #update
            }

            fn delete(&self, conn: &mut ::dbmigrate::AnyConnection) -> ::dbmigrate::diesel::QueryResult<usize> {
                use ::dbmigrate::diesel::prelude::*;
                ::dbmigrate::diesel::delete(#table::table.find(::dbmigrate::model::Model::key(self))).execute(conn)
            }
        }
    }
}

/// `impl NewRow`: the insert (taking the key back), the defaults computed in Rust, and the
/// references to rows pending in the same unit of work.
fn new_row_impl(
    model: &Model,
    new_ident: &Ident,
    key_type: &TokenStream,
    inserted: &[&Column],
) -> TokenStream {
    let ident = &model.item.ident;
    let table = &model.table_ident;
    let insert = match model.columns.iter().find(|c| c.autoincrement) {
        Some(key) => {
            let key_ident = &key.ident;
            let base = &key.base;
            let sql_type = key.kind.diesel();
            quote! {
                ::dbmigrate::insert_returning_key!(conn, #table::table, #table::#key_ident, self, #base, #sql_type)
            }
        }
        None => {
            let key_idents = key_idents(model);
            let key = if key_idents.len() == 1 {
                let key = key_idents[0];
                quote!(::core::clone::Clone::clone(&self.#key).unwrap_or_default())
            } else {
                quote!((#(::core::clone::Clone::clone(&self.#key_idents).unwrap_or_default(),)*))
            };
            quote! {
                use ::dbmigrate::diesel::prelude::*;
                ::dbmigrate::diesel::insert_into(#table::table).values(self).execute(conn)?;
                ::core::result::Result::Ok(#key)
            }
        }
    };
    let defaults = inserted.iter().filter_map(|c| {
        let field = &c.ident;
        c.default_fn.as_ref().map(|function| {
            quote! {
                if self.#field.is_none() {
                    self.#field = ::core::option::Option::Some(#function());
                }
            }
        })
    });
    let (refs, refs_mut) = if has_refs(model) {
        (
            quote!(::core::option::Option::Some(&self.pending_refs)),
            quote!(::core::option::Option::Some(&mut self.pending_refs)),
        )
    } else {
        (
            quote!(::core::option::Option::None),
            quote!(::core::option::Option::None),
        )
    };
    quote! {
        impl ::dbmigrate::model::NewRow for #new_ident {
            type Model = #ident;

            fn insert(
                &self,
                conn: &mut ::dbmigrate::AnyConnection,
            ) -> ::dbmigrate::diesel::QueryResult<#key_type> {
                #insert
            }

            fn fill_defaults(&mut self) {
                #(#defaults)*
            }

            fn pending_refs(&self) -> ::core::option::Option<&::dbmigrate::model::PendingRefs> {
                #refs
            }

            fn pending_refs_mut(&mut self) -> ::core::option::Option<&mut ::dbmigrate::model::PendingRefs> {
                #refs_mut
            }
        }
    }
}

/// The user's struct, with our attributes taken off and Diesel's derives put on.
fn row_struct(model: &Model, keys: &[&Ident], has_changes: bool) -> TokenStream {
    let item = &model.item;
    let table = &model.table_ident;
    let present = parse::derives_already(&item.attrs);
    let ours = ["Debug", "Clone", "Default", "PartialEq"]
        .into_iter()
        .filter(|name| !present.iter().any(|p| p == name))
        .map(|name| Ident::new(name, Span::call_site()));
    let changeset = has_changes.then(|| quote!(::dbmigrate::diesel::AsChangeset,));
    quote! {
        #[derive(
            #(#ours,)*
            ::dbmigrate::diesel::Queryable,
            ::dbmigrate::diesel::Selectable,
            ::dbmigrate::diesel::Identifiable,
            #changeset
        )]
        #[diesel(table_name = #table, primary_key(#(#keys),*), treat_none_as_null = true)]
        #item
    }
}

fn table_macro(model: &Model, keys: &[&Ident]) -> TokenStream {
    let table = &model.table_ident;
    let columns = model.columns.iter().map(|c| {
        let ident = &c.ident;
        let sql = c.kind.diesel();
        let ty = if c.nullable {
            quote!(Nullable<#sql>)
        } else {
            sql
        };
        let max_length = match c.kind {
            crate::types::SqlKind::String(Some(length)) => {
                let length = proc_macro2::Literal::u32_unsuffixed(length);
                Some(quote!(#[max_length = #length]))
            }
            _ => None,
        };
        quote!(#max_length #ident -> #ty,)
    });
    quote! {
        diesel::table! {
            #table (#(#keys),*) {
                #(#columns)*
            }
        }
    }
}
