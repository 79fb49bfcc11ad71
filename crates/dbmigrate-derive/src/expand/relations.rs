//! What `relationship`/`backref` on a foreign key and `many_to_many` on a model add to the
//! models at both ends: methods on the row and on its insert struct, relation and filter
//! descriptors.

use quote::quote;
use syn::Ident;

use super::{Extras, Resolved, key_column, query_type};
use crate::parse::{self, Column, Model};

/// `relationship = author, backref = posts` on a foreign key column.
pub(super) fn relationships(
    models: &[Model],
    references: &[Vec<Option<Resolved>>],
    index: usize,
    model: &Model,
    extras: &mut Extras,
) -> syn::Result<()> {
    for (column, reference) in model.columns.iter().zip(&references[index]) {
        let Some(Resolved {
            model: Some(parent_index),
            ..
        }) = reference
        else {
            continue;
        };
        let parent = &models[*parent_index];
        let parent_ident = &parent.item.ident;
        let parent_table = &parent.table_ident;
        let parent_key = &key_column(parent).ident;
        let child_ident = &model.item.ident;
        let child_table = &model.table_ident;
        let column_ident = &column.ident;
        let column_name = column.ident.to_string();
        if let Some(name) = &column.relationship {
            extras.claim(models, index, name)?;
            let relation = name.to_string();
            let target = parent_ident.to_string();
            extras.relations[index].push(quote! {
                ::dbmigrate::model::Relation {
                    name: #relation,
                    target: #target,
                    kind: ::dbmigrate::model::RelationKind::ToOne { column: #column_name },
                }
            });
            let key = if column.nullable {
                quote! {
                    let ::core::option::Option::Some(key) = ::core::clone::Clone::clone(&self.#column_ident) else {
                        return ::core::result::Result::Ok(::core::option::Option::None);
                    };
                }
            } else {
                quote!(let key = ::core::clone::Clone::clone(&self.#column_ident);)
            };
            let doc = format!("The {parent_ident} this row's `{column_name}` refers to.");
            extras.methods[index].push(quote! {
                #[doc = #doc]
                pub fn #name(
                    &self,
                    conn: &mut ::dbmigrate::AnyConnection,
                ) -> ::dbmigrate::diesel::QueryResult<::core::option::Option<#parent_ident>> {
                    use ::dbmigrate::diesel::prelude::*;
                    #key
                    #parent_table::table.find(key).first::<#parent_ident>(conn).optional()
                }
            });
            let doc = format!(
                "Sets `{column_name}` to refer to a stored {parent_ident}, or to one added to the same unit of work."
            );
            extras.new_methods[index].push(quote! {
                #[doc = #doc]
                pub fn #name<'r>(
                    mut self,
                    target: impl ::core::convert::Into<::dbmigrate::model::Ref<'r, #parent_ident>>,
                ) -> Self {
                    match target.into() {
                        ::dbmigrate::model::Ref::Stored(row) => {
                            self.#column_ident = ::core::option::Option::Some(
                                ::core::clone::Clone::clone(&row.#parent_key),
                            );
                            self.pending_refs.forget(#column_name);
                        }
                        ::dbmigrate::model::Ref::Pending(pending) => {
                            self.#column_ident = ::core::option::Option::None;
                            self.pending_refs.set(#column_name, pending.number());
                        }
                    }
                    self
                }
            });
        }
        if let Some(name) = &column.backref {
            extras.claim(models, *parent_index, name)?;
            let relation = name.to_string();
            let target = child_ident.to_string();
            extras.relations[*parent_index].push(quote! {
                ::dbmigrate::model::Relation {
                    name: #relation,
                    target: #target,
                    kind: ::dbmigrate::model::RelationKind::ToMany { column: #column_name },
                }
            });
            let query = query_type(model);
            let doc = format!(
                "The {child_ident} rows whose `{column_name}` refers to this one, as a query to refine."
            );
            extras.methods[*parent_index].push(quote! {
                #[doc = #doc]
                pub fn #name(&self) -> #query {
                    use ::dbmigrate::diesel::prelude::*;
                    #child_table::table
                        .filter(#child_table::#column_ident.eq(::core::clone::Clone::clone(&self.#parent_key)))
                        .into_boxed()
                }
            });
        }
    }
    Ok(())
}

/// `many_to_many(from = a, to = b, forward = f, backward = g)` on an association model.
pub(super) fn many_to_many(
    models: &[Model],
    references: &[Vec<Option<Resolved>>],
    index: usize,
    link: &parse::Link,
    extras: &mut Extras,
) -> syn::Result<()> {
    let association = &models[index];
    let end = |name: &Ident| -> syn::Result<(&Column, usize)> {
        let position = association
            .columns
            .iter()
            .position(|c| c.ident == *name)
            .expect("checked when parsed");
        match &references[index][position] {
            Some(Resolved {
                model: Some(model), ..
            }) => Ok((&association.columns[position], *model)),
            _ => Err(syn::Error::new(
                name.span(),
                "many_to_many follows foreign keys to models of this module",
            )),
        }
    };
    let (from, source) = end(&link.from)?;
    let (to, target) = end(&link.to)?;
    let mut direction = |name: &Ident, owner: usize, near: &Column, other: usize, far: &Column| {
        extras.claim(models, owner, name)?;
        let owner_model = &models[owner];
        let other_model = &models[other];
        let relation = name.to_string();
        let target_name = other_model.item.ident.to_string();
        extras.relations[owner].push(quote! {
            ::dbmigrate::model::Relation {
                name: #relation,
                target: #target_name,
                kind: ::dbmigrate::model::RelationKind::Through { filter: #relation },
            }
        });
        let other_table = &other_model.table_ident;
        let other_key = &key_column(other_model).ident;
        let owner_key = key_column(owner_model);
        let owner_key_ident = &owner_key.ident;
        let owner_key_type = &owner_key.base;
        let link_table = &association.table_ident;
        let near_ident = &near.ident;
        let far_ident = &far.ident;
        let other_key_expr = if far.nullable {
            quote!(#other_table::#other_key.nullable())
        } else {
            quote!(#other_table::#other_key)
        };
        let linked = quote! {
            #other_key_expr.eq_any(
                #link_table::table
                    .filter(#link_table::#near_ident.eq(key))
                    .select(#link_table::#far_ident),
            )
        };
        let query = query_type(other_model);
        let doc = format!(
            "The {target_name} rows linked to this one through `{}`, as a query to refine.",
            association.table
        );
        extras.methods[owner].push(quote! {
            #[doc = #doc]
            pub fn #name(&self) -> #query {
                use ::dbmigrate::diesel::prelude::*;
                let key = ::core::clone::Clone::clone(&self.#owner_key_ident);
                #other_table::table.filter(#linked).into_boxed()
            }
        });
        extras.filters[other].push(quote! {
            ::dbmigrate::model::Filter {
                name: #relation,
                apply: |query: #query, value| {
                    use ::dbmigrate::diesel::prelude::*;
                    let key: #owner_key_type = ::dbmigrate::model::FromValue::from_value(value)?;
                    ::core::result::Result::Ok(query.filter(#linked))
                },
            }
        });
        syn::Result::Ok(())
    };
    direction(&link.forward, source, from, target, to)?;
    if let Some(backward) = &link.backward {
        direction(backward, target, to, source, from)?;
    }
    Ok(())
}
