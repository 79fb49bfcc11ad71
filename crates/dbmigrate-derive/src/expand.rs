//! What a module of models expands to. Paths go through `::dbmigrate` (which re-exports
//! Diesel), so the application needs no other import for the generated code.

use std::collections::BTreeMap;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::Ident;

use crate::parse::{self, Column, Model, Module, ReprPiece, ServerDefault, Target};

/// A foreign key resolved to the model it references.
struct Resolved {
    /// Index of the referenced model, when it is one of the module's.
    model: Option<usize>,
    table: String,
    column: String,
}

pub fn module(module: Module) -> syn::Result<TokenStream> {
    let Module {
        module,
        others,
        models,
    } = module;
    let references = resolve(&models)?;
    let mut extras = Extras::new(models.len());
    for (index, model) in models.iter().enumerate() {
        relationships(&models, &references, index, model, &mut extras)?;
        for link in &model.links {
            many_to_many(&models, &references, index, link, &mut extras)?;
        }
    }
    let mut generated = Vec::new();
    for (index, model) in models.iter().enumerate() {
        generated.push(model_items(model, &references[index], &extras, index));
    }
    generated.push(joins(&models, &references));
    generated.push(registry(&models));

    let attrs = &module.attrs;
    let vis = &module.vis;
    let ident = &module.ident;
    let unsafety = &module.unsafety;
    Ok(quote! {
        #(#attrs)*
        #vis #unsafety mod #ident {
            #[allow(unused_imports)]
            use ::dbmigrate::diesel;
            #(#others)*
            #(#generated)*
        }
    })
}

/// Foreign keys resolved against the module's models: `references[model][column]`.
fn resolve(models: &[Model]) -> syn::Result<Vec<Vec<Option<Resolved>>>> {
    let mut all = Vec::new();
    for model in models {
        let mut per_column = Vec::new();
        for column in &model.columns {
            let Some(fk) = &column.foreign_key else {
                per_column.push(None);
                continue;
            };
            let resolved = match &fk.target {
                Target::Model(name) => {
                    let index = models
                        .iter()
                        .position(|m| m.item.ident == *name)
                        .ok_or_else(|| {
                            syn::Error::new(
                                name.span(),
                                format!("no model named {name} is declared in this module"),
                            )
                        })?;
                    let keys: Vec<&Column> = models[index]
                        .columns
                        .iter()
                        .filter(|c| c.primary_key)
                        .collect();
                    if keys.len() != 1 {
                        return Err(syn::Error::new(
                            name.span(),
                            format!(
                                "{name} has a primary key of several columns: name the column, foreign_key = \"table.column\""
                            ),
                        ));
                    }
                    Resolved {
                        model: Some(index),
                        table: models[index].table.clone(),
                        column: keys[0].ident.to_string(),
                    }
                }
                Target::TableColumn(table, column) => {
                    let index = models.iter().position(|m| m.table == *table);
                    if let Some(index) = index
                        && !models[index].columns.iter().any(|c| c.ident == column)
                    {
                        return Err(syn::Error::new(
                            fk.span,
                            format!("the table '{table}' has no column '{column}'"),
                        ));
                    }
                    Resolved {
                        model: index,
                        table: table.clone(),
                        column: column.clone(),
                    }
                }
            };
            if resolved.model.is_none()
                && (column.relationship.is_some() || column.backref.is_some())
            {
                return Err(syn::Error::new(
                    fk.span,
                    "a relationship needs the referenced table's model in this module",
                ));
            }
            per_column.push(Some(resolved));
        }
        all.push(per_column);
    }
    Ok(all)
}

/// Code that one model's declaration adds to others: methods, relation and filter
/// descriptors, gathered before any model is written out.
struct Extras {
    methods: Vec<Vec<TokenStream>>,
    new_methods: Vec<Vec<TokenStream>>,
    relations: Vec<Vec<TokenStream>>,
    filters: Vec<Vec<TokenStream>>,
    names: Vec<BTreeMap<String, Span>>,
}

impl Extras {
    fn new(count: usize) -> Self {
        Extras {
            methods: vec![Vec::new(); count],
            new_methods: vec![Vec::new(); count],
            relations: vec![Vec::new(); count],
            filters: vec![Vec::new(); count],
            names: vec![BTreeMap::new(); count],
        }
    }

    /// Claims a relationship name on a model; two relationships cannot share one.
    fn claim(&mut self, models: &[Model], model: usize, name: &Ident) -> syn::Result<()> {
        if models[model].columns.iter().any(|c| c.ident == *name) {
            return Err(syn::Error::new(
                name.span(),
                format!(
                    "{} already has a column named '{name}'",
                    models[model].item.ident
                ),
            ));
        }
        if self.names[model]
            .insert(name.to_string(), name.span())
            .is_some()
        {
            return Err(syn::Error::new(
                name.span(),
                format!(
                    "{} already has a relationship named '{name}'",
                    models[model].item.ident
                ),
            ));
        }
        Ok(())
    }
}

fn query_type(model: &Model) -> TokenStream {
    let table = &model.table_ident;
    quote!(#table::BoxedQuery<'static, ::dbmigrate::AnyBackend>)
}

fn key_column(model: &Model) -> &Column {
    model
        .columns
        .iter()
        .find(|c| c.primary_key)
        .expect("checked when parsed")
}

/// `relationship = author, backref = posts` on a foreign key column.
fn relationships(
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
fn many_to_many(
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

fn model_items(
    model: &Model,
    references: &[Option<Resolved>],
    extras: &Extras,
    index: usize,
) -> TokenStream {
    let ident = &model.item.ident;
    let vis = &model.item.vis;
    let new_ident = format_ident!("New{}", ident);
    let table = &model.table_ident;
    let table_name = &model.table;
    let name = ident.to_string();
    let keys: Vec<&Column> = model.columns.iter().filter(|c| c.primary_key).collect();
    let key_idents: Vec<&Ident> = keys.iter().map(|c| &c.ident).collect();
    let has_changes = model.columns.iter().any(|c| !c.primary_key);
    let has_refs = model.columns.iter().any(|c| c.relationship.is_some());
    let inserted: Vec<&Column> = model.columns.iter().filter(|c| !c.autoincrement).collect();

    let struct_item = row_struct(model, &key_idents, has_changes);
    let table_macro = table_macro(model, &key_idents);

    let new_fields = inserted.iter().map(|c| {
        let field = &c.ident;
        let base = &c.base;
        quote!(pub #field: ::core::option::Option<#base>,)
    });
    let refs_field = has_refs.then(|| {
        quote! {
            /// Columns that take the key of a row added to the same unit of work.
            #[diesel(skip_insertion)]
            pub pending_refs: ::dbmigrate::model::PendingRefs,
        }
    });
    let new_doc = format!(
        "A {name} not yet written: empty fields take their default{}.",
        if model.columns.iter().any(|c| c.autoincrement) {
            ", and the database assigns the key"
        } else {
            ""
        }
    );

    let key_type = if keys.len() == 1 {
        let base = &keys[0].base;
        quote!(#base)
    } else {
        let bases = keys.iter().map(|c| &c.base);
        quote!((#(#bases,)*))
    };
    let key_value = if keys.len() == 1 {
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
        .map(|(c, r)| column_descriptor(model, &new_ident, c, r.as_ref()))
        .collect();
    let column_count = columns.len();
    let relations = &extras.relations[index];
    let relation_count = relations.len();
    let filters = &extras.filters[index];
    let filter_count = filters.len();
    let indexes: Vec<TokenStream> = model
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
        .collect();
    let index_count = indexes.len();
    let check_names = model.checks.iter().map(|(name, _)| name);
    let check_conditions = model.checks.iter().map(|(_, condition)| condition);
    let update = if has_changes {
        quote! {
            use ::dbmigrate::diesel::prelude::*;
            ::dbmigrate::diesel::update(#table::table.find(::dbmigrate::model::Model::key(self)))
                .set(self)
                .execute(conn)
        }
    } else {
        quote!(let _ = conn; ::core::result::Result::Ok(0))
    };

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
            let key = if keys.len() == 1 {
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
    let (refs, refs_mut) = if has_refs {
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
    let display = display(model, &new_ident, &inserted);
    let methods = &extras.methods[index];
    let new_methods = &extras.new_methods[index];

    quote! {
        #struct_item
        #table_macro

        #[doc = #new_doc]
        #[derive(Debug, Clone, Default, PartialEq, ::dbmigrate::diesel::Insertable)]
        #[diesel(table_name = #table)]
        #vis struct #new_ident {
            #(#new_fields)*
            #refs_field
        }

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

/// The user's struct, with our attributes taken off and Diesel's derives put on.
fn row_struct(model: &Model, keys: &[&Ident], has_changes: bool) -> TokenStream {
    let item = &model.item;
    let table = &model.table_ident;
    let present = parse::derives_already(&item.attrs);
    let ours = ["Debug", "Clone", "PartialEq"]
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

fn column_descriptor(
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
fn display(model: &Model, new_ident: &Ident, inserted: &[&Column]) -> TokenStream {
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

/// `joinable!` where a table has exactly one foreign key to another (Diesel allows one
/// join path per pair), and every table allowed in the same query as every other.
fn joins(models: &[Model], references: &[Vec<Option<Resolved>>]) -> TokenStream {
    let mut joinables = Vec::new();
    for (index, model) in models.iter().enumerate() {
        let mut per_parent: BTreeMap<usize, Vec<(&Column, &Resolved)>> = BTreeMap::new();
        for (column, reference) in model.columns.iter().zip(&references[index]) {
            if let Some(
                resolved @ Resolved {
                    model: Some(parent),
                    ..
                },
            ) = reference
            {
                per_parent
                    .entry(*parent)
                    .or_default()
                    .push((column, resolved));
            }
        }
        for (parent, keys) in per_parent {
            let parent_model = &models[parent];
            let [(column, resolved)] = keys.as_slice() else {
                continue;
            };
            if parent == index || key_column(parent_model).ident != resolved.column {
                continue;
            }
            let child = &model.table_ident;
            let parent = &parent_model.table_ident;
            let column = &column.ident;
            joinables.push(quote!(diesel::joinable!(#child -> #parent (#column));));
        }
    }
    let tables: Vec<&Ident> = models.iter().map(|m| &m.table_ident).collect();
    let together = (tables.len() > 1)
        .then(|| quote!(diesel::allow_tables_to_appear_in_same_query!(#(#tables),*);));
    quote! {
        #(#joinables)*
        #together
    }
}

/// `MODELS` (the classes by name) and `schema()` (every model's table).
fn registry(models: &[Model]) -> TokenStream {
    let statics: Vec<Ident> = models
        .iter()
        .map(|m| format_ident!("__{}_CLASS", m.table.to_uppercase()))
        .collect();
    let idents: Vec<&Ident> = models.iter().map(|m| &m.item.ident).collect();
    let count = models.len();
    quote! {
        #(
            #[doc(hidden)]
            static #statics: ::dbmigrate::model::Class<#idents> = ::dbmigrate::model::Class::new();
        )*
        #[doc(hidden)]
        static __MODEL_CLASSES: [&'static dyn ::dbmigrate::model::ModelClass; #count] = [#(&#statics),*];

        /// The models declared here, by name.
        pub static MODELS: ::dbmigrate::model::Models = ::dbmigrate::model::Models::new(&__MODEL_CLASSES);

        /// The schema the models describe: every model's table, in declared order.
        pub fn schema() -> &'static ::dbmigrate::Schema {
            MODELS.schema()
        }
    }
}
