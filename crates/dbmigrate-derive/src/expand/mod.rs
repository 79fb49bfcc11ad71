//! What a module of models expands to. Paths go through `::dbmigrate` (which re-exports
//! Diesel), so the application needs no other import for the generated code.
//!
//! `mod.rs` resolves the foreign keys and puts the parts together, with the joins and the
//! registry of the whole module; `relations.rs` writes what a relationship adds to the
//! models at both its ends; `model.rs` each model's row, table, insert struct and trait
//! impls; `columns.rs` its column descriptors and its `Display`.

mod columns;
mod model;
mod relations;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::Ident;

use crate::parse::{Column, Model, Module, Target};
use model::model_items;
use relations::{many_to_many, relationships};

/// A foreign key resolved to the model it references.
pub(super) struct Resolved {
    /// Index of the referenced model, when it is one of the module's.
    pub(super) model: Option<usize>,
    pub(super) table: String,
    pub(super) column: String,
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
pub(super) struct Extras {
    pub(super) methods: Vec<Vec<TokenStream>>,
    pub(super) new_methods: Vec<Vec<TokenStream>>,
    pub(super) relations: Vec<Vec<TokenStream>>,
    pub(super) filters: Vec<Vec<TokenStream>>,
    pub(super) names: Vec<BTreeMap<String, Span>>,
}

impl Extras {
    pub(super) fn new(count: usize) -> Self {
        Extras {
            methods: vec![Vec::new(); count],
            new_methods: vec![Vec::new(); count],
            relations: vec![Vec::new(); count],
            filters: vec![Vec::new(); count],
            names: vec![BTreeMap::new(); count],
        }
    }

    /// Claims a relationship name on a model; two relationships cannot share one.
    pub(super) fn claim(
        &mut self,
        models: &[Model],
        model: usize,
        name: &Ident,
    ) -> syn::Result<()> {
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

pub(super) fn query_type(model: &Model) -> TokenStream {
    let table = &model.table_ident;
    quote!(#table::BoxedQuery<'static, ::dbmigrate::AnyBackend>)
}

pub(super) fn key_column(model: &Model) -> &Column {
    model
        .columns
        .iter()
        .find(|c| c.primary_key)
        .expect("checked when parsed")
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
