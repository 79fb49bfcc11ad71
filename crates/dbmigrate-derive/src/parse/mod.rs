//! Reading the declarations: `#[model(...)]` on a struct, `#[column(...)]` on its fields.
//! Everything is checked here, with the error on the attribute that is wrong, so that the
//! expansion can trust what it is given.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, Ident, Item, ItemMod, ItemStruct, LitStr, Path, Type};

use crate::types::SqlKind;

mod column;
#[cfg(test)]
mod declaration_errors;
mod model_attrs;

use column::column;
pub use column::referential_action;
use model_attrs::{check_decl, index_decl, link, parse_repr};

pub struct Module {
    pub module: ItemMod,
    /// The items that are not models, as written.
    pub others: Vec<Item>,
    pub models: Vec<Model>,
}

pub struct Model {
    pub item: ItemStruct,
    pub table: String,
    pub table_ident: Ident,
    pub repr: Option<Repr>,
    pub columns: Vec<Column>,
    pub links: Vec<Link>,
    pub indexes: Vec<IndexDecl>,
    /// `check(name = "...", condition = "SQL")`: named CHECK constraints.
    pub checks: Vec<(String, String)>,
}

/// `index(columns("a", "b"), unique, name = "...", condition = "...")` on a model: an index
/// over several columns, or a partial one.
pub struct IndexDecl {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
    pub condition: Option<String>,
}

/// `repr = "<User {username}>"`: literal pieces and column names, in order.
pub struct Repr {
    pub pieces: Vec<ReprPiece>,
}

pub enum ReprPiece {
    Text(String),
    Column(Ident),
}

pub struct Column {
    pub ident: Ident,
    /// The type without `Option`.
    pub base: Type,
    pub nullable: bool,
    pub kind: SqlKind,
    /// An enumeration's values (`values("draft", "published")`); empty for other columns.
    pub values: Vec<String>,
    pub primary_key: bool,
    pub autoincrement: bool,
    pub index: bool,
    pub unique: bool,
    pub default_fn: Option<Path>,
    pub server_default: Option<ServerDefault>,
    pub foreign_key: Option<ForeignKey>,
    pub relationship: Option<Ident>,
    pub backref: Option<Ident>,
}

pub enum ServerDefault {
    Literal(String),
    CurrentTimestamp,
}

pub struct ForeignKey {
    pub target: Target,
    pub on_delete: Option<(String, Span)>,
    pub span: Span,
}

/// What a foreign key names: a model of the module, or `"table.column"`.
pub enum Target {
    Model(Ident),
    TableColumn(String, String),
}

/// `many_to_many(from = a, to = b, forward = name, backward = name)` on an association.
pub struct Link {
    pub from: Ident,
    pub to: Ident,
    pub forward: Ident,
    pub backward: Option<Ident>,
}

pub(super) fn error(span: impl Spanned, message: impl std::fmt::Display) -> syn::Error {
    syn::Error::new(span.span(), message)
}

pub fn module(mut module: ItemMod) -> syn::Result<Module> {
    let Some((_, items)) = module.content.take() else {
        return Err(error(
            &module,
            "#[models] goes on an inline module: `mod models { ... }`",
        ));
    };
    let mut others = Vec::new();
    let mut models = Vec::new();
    for item in items {
        match item {
            Item::Struct(item) if item.attrs.iter().any(|a| a.path().is_ident("model")) => {
                models.push(model(item)?)
            }
            other => others.push(other),
        }
    }
    if models.is_empty() {
        return Err(error(
            &module.ident,
            "no models here: mark each model struct with #[model]",
        ));
    }
    Ok(Module {
        module,
        others,
        models,
    })
}

fn model(mut item: ItemStruct) -> syn::Result<Model> {
    let mut table = None;
    let mut repr = None;
    let mut links = Vec::new();
    let mut index_decls: Vec<(IndexDecl, Span, bool)> = Vec::new();
    let mut checks = Vec::new();
    for attr in item.attrs.iter().filter(|a| a.path().is_ident("model")) {
        if matches!(attr.meta, syn::Meta::Path(_)) {
            continue;
        }
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("table") {
                table = Some(meta.value()?.parse::<LitStr>()?);
            } else if meta.path.is_ident("repr") {
                let text: LitStr = meta.value()?.parse()?;
                repr = Some(parse_repr(&text)?);
            } else if meta.path.is_ident("many_to_many") {
                links.push(link(&meta)?);
            } else if meta.path.is_ident("index") {
                index_decls.push(index_decl(&meta)?);
            } else if meta.path.is_ident("check") {
                checks.push(check_decl(&meta)?);
            } else {
                return Err(meta.error(
                    "#[model] takes table = \"name\", repr = \"<Name {column}>\", many_to_many(...), index(...) and check(...)",
                ));
            }
            Ok(())
        })?;
    }
    item.attrs.retain(|a| !a.path().is_ident("model"));
    let (table, table_span) = match table {
        Some(name) => (name.value(), name.span()),
        None => (snake_case(&item.ident.to_string()), item.ident.span()),
    };
    let table_ident = syn::parse_str::<Ident>(&table)
        .map(|mut ident| {
            ident.set_span(table_span);
            ident
        })
        .map_err(|_| {
            syn::Error::new(
                table_span,
                format!("the table name '{table}' must be a Rust identifier: Diesel names a module after it"),
            )
        })?;
    let syn::Fields::Named(fields) = &mut item.fields else {
        return Err(error(&item, "a model is a struct with named fields"));
    };
    let mut columns = Vec::new();
    for field in fields.named.iter_mut() {
        columns.push(column(field)?);
        field.attrs.retain(|a| !a.path().is_ident("column"));
    }
    let keys: Vec<&Column> = columns.iter().filter(|c| c.primary_key).collect();
    if keys.is_empty() {
        return Err(error(
            &item.ident,
            "a model needs a primary key: mark its column(s) #[column(primary_key)]",
        ));
    }
    let single_integer_key = keys.len() == 1 && keys[0].kind.is_integer();
    for column in &mut columns {
        column.autoincrement &= column.primary_key && single_integer_key;
    }
    if let Some(repr) = &repr {
        for piece in &repr.pieces {
            if let ReprPiece::Column(name) = piece
                && !columns.iter().any(|c| c.ident == *name)
            {
                return Err(error(
                    name,
                    format!("{} has no column '{name}'", item.ident),
                ));
            }
        }
    }
    for link in &links {
        for end in [&link.from, &link.to] {
            let column = columns
                .iter()
                .find(|c| c.ident == *end)
                .ok_or_else(|| error(end, format!("{} has no column '{end}'", item.ident)))?;
            if column.foreign_key.is_none() {
                return Err(error(
                    end,
                    format!("'{end}' must be a foreign key for many_to_many to follow it"),
                ));
            }
        }
    }
    let mut indexes = Vec::new();
    for (mut index, span, named) in index_decls {
        if let Some(unknown) = index
            .columns
            .iter()
            .find(|c| !columns.iter().any(|col| col.ident == c.as_str()))
        {
            return Err(syn::Error::new(
                span,
                format!("the index names a column '{unknown}' this model does not have"),
            ));
        }
        if !named {
            index.name = format!("ix_{table}_{}", index.columns.join("_"));
        }
        indexes.push(index);
    }
    Ok(Model {
        item,
        table,
        table_ident,
        repr,
        columns,
        links,
        indexes,
        checks,
    })
}

/// SQLAlchemy's default table name: `BlogPost` is `blog_post`.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Attributes other than ours, kept on the struct.
pub fn derives_already(attrs: &[Attribute]) -> Vec<String> {
    let mut names = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("derive")) {
        let _ = attr.parse_nested_meta(|meta| {
            if let Some(last) = meta.path.segments.last() {
                names.push(last.ident.to_string());
            }
            Ok(())
        });
    }
    names
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn table_names_default_to_snake_case() {
        assert_eq!(snake_case("User"), "user");
        assert_eq!(snake_case("BlogPost"), "blog_post");
    }
}
