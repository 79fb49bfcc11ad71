//! Reading the declarations: `#[model(...)]` on a struct, `#[column(...)]` on its fields.
//! Everything is checked here, with the error on the attribute that is wrong, so that the
//! expansion can trust what it is given.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Attribute, Ident, Item, ItemMod, ItemStruct, LitInt, LitStr, Path, Type};

use crate::types::{SqlKind, kind_of, unwrap_option};

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

fn error(span: impl Spanned, message: impl std::fmt::Display) -> syn::Error {
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

fn check_decl(meta: &ParseNestedMeta) -> syn::Result<(String, String)> {
    let (mut name, mut condition) = (None, None);
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("name") {
            name = Some(inner.value()?.parse::<LitStr>()?.value());
        } else if inner.path.is_ident("condition") {
            condition = Some(inner.value()?.parse::<LitStr>()?.value());
        } else {
            return Err(inner.error("check takes name = \"ck_...\" and condition = \"SQL\""));
        }
        Ok(())
    })?;
    match (name, condition) {
        (Some(name), Some(condition)) if !name.is_empty() && !condition.trim().is_empty() => {
            Ok((name, condition))
        }
        _ => Err(meta.error("a check needs name = \"ck_...\" and condition = \"SQL\"")),
    }
}

fn index_decl(meta: &ParseNestedMeta) -> syn::Result<(IndexDecl, Span, bool)> {
    let mut index = IndexDecl {
        name: String::new(),
        columns: Vec::new(),
        unique: false,
        condition: None,
    };
    let mut named = false;
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("columns") {
            let content;
            syn::parenthesized!(content in inner.input);
            let list = content.parse_terminated(|input| input.parse::<LitStr>(), syn::Token![,])?;
            index.columns = list.iter().map(LitStr::value).collect();
        } else if inner.path.is_ident("unique") {
            index.unique = true;
        } else if inner.path.is_ident("name") {
            index.name = inner.value()?.parse::<LitStr>()?.value();
            named = true;
        } else if inner.path.is_ident("condition") {
            index.condition = Some(inner.value()?.parse::<LitStr>()?.value());
        } else {
            return Err(inner.error(
                "index takes columns(\"a\", \"b\"), unique, name = \"...\" and condition = \"SQL\"",
            ));
        }
        Ok(())
    })?;
    if index.columns.is_empty() {
        return Err(meta.error("an index needs columns(\"...\")"));
    }
    Ok((index, meta.path.span(), named))
}

fn link(meta: &ParseNestedMeta) -> syn::Result<Link> {
    let (mut from, mut to, mut forward, mut backward) = (None, None, None, None);
    meta.parse_nested_meta(|inner| {
        let slot = if inner.path.is_ident("from") {
            &mut from
        } else if inner.path.is_ident("to") {
            &mut to
        } else if inner.path.is_ident("forward") {
            &mut forward
        } else if inner.path.is_ident("backward") {
            &mut backward
        } else {
            return Err(inner.error("many_to_many takes from, to, forward and backward"));
        };
        *slot = Some(inner.value()?.parse::<Ident>()?);
        Ok(())
    })?;
    let missing = |what| meta.error(format!("many_to_many needs `{what} = ...`"));
    Ok(Link {
        from: from.ok_or_else(|| missing("from"))?,
        to: to.ok_or_else(|| missing("to"))?,
        forward: forward.ok_or_else(|| missing("forward"))?,
        backward,
    })
}

fn column(field: &syn::Field) -> syn::Result<Column> {
    let ident = field.ident.clone().expect("named fields");
    let (base, nullable) = unwrap_option(&field.ty);
    let mut primary_key = false;
    let mut autoincrement = true;
    let mut length = None;
    let mut values: Option<(Vec<String>, Span)> = None;
    let mut precision = None;
    let mut scale = None;
    let mut index = false;
    let mut unique = false;
    let mut default_fn = None;
    let mut server_default = None;
    let mut foreign_key: Option<ForeignKey> = None;
    let mut on_delete = None;
    let mut relationship = None;
    let mut backref = None;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("column")) {
        attr.parse_nested_meta(|meta| {
            let path = &meta.path;
            if path.is_ident("primary_key") {
                primary_key = true;
            } else if path.is_ident("autoincrement") {
                autoincrement = meta.value()?.parse::<syn::LitBool>()?.value;
            } else if path.is_ident("index") {
                index = true;
            } else if path.is_ident("unique") {
                unique = true;
            } else if path.is_ident("length") {
                length = Some(number(&meta)?);
            } else if path.is_ident("values") {
                let content;
                syn::parenthesized!(content in meta.input);
                let list = content.parse_terminated(|input| input.parse::<LitStr>(), syn::Token![,])?;
                values = Some((list.iter().map(LitStr::value).collect(), path.span()));
            } else if path.is_ident("precision") {
                precision = Some(number(&meta)?);
            } else if path.is_ident("scale") {
                scale = Some(number(&meta)?);
            } else if path.is_ident("default") {
                default_fn = Some(meta.value()?.parse::<Path>()?);
            } else if path.is_ident("server_default") {
                let value = meta.value()?;
                server_default = Some(if value.peek(LitStr) {
                    ServerDefault::Literal(value.parse::<LitStr>()?.value())
                } else {
                    let word: Ident = value.parse()?;
                    if word != "current_timestamp" {
                        return Err(error(
                            &word,
                            "server_default is a SQL literal in quotes (\"0\", \"'draft'\") or current_timestamp",
                        ));
                    }
                    ServerDefault::CurrentTimestamp
                });
            } else if path.is_ident("foreign_key") {
                let value = meta.value()?;
                let target = if value.peek(LitStr) {
                    let text: LitStr = value.parse()?;
                    let (table, column) = text.value().split_once('.').map(|(t, c)| (t.to_string(), c.to_string())).ok_or_else(|| {
                        error(&text, "a foreign key names \"table.column\", or a model of this module")
                    })?;
                    Target::TableColumn(table, column)
                } else {
                    Target::Model(value.parse()?)
                };
                foreign_key = Some(ForeignKey {
                    target,
                    on_delete: None,
                    span: path.span(),
                });
            } else if path.is_ident("on_delete") {
                let text: LitStr = meta.value()?.parse()?;
                on_delete = Some((text.value(), text.span()));
            } else if path.is_ident("relationship") {
                relationship = Some(meta.value()?.parse::<Ident>()?);
            } else if path.is_ident("backref") {
                backref = Some(meta.value()?.parse::<Ident>()?);
            } else {
                return Err(meta.error(
                    "#[column] takes primary_key, autoincrement = false, length = N, values(\"a\", \"b\"), precision = P, \
                     scale = S, index, unique, default = function, server_default = \"SQL\" or \
                     current_timestamp, foreign_key = Model or \"table.column\", on_delete = \"...\", \
                     relationship = name, backref = name",
                ));
            }
            Ok(())
        })?;
    }
    let numeric = match (precision, scale) {
        (Some(p), Some(s)) => Some((p, s)),
        (None, None) => None,
        _ => {
            return Err(error(
                &ident,
                "give both precision and scale for a NUMERIC column",
            ));
        }
    };
    let values = match values {
        None => Vec::new(),
        Some((_, span)) if length.is_some() => {
            return Err(syn::Error::new(
                span,
                "an enumeration's length is its longest value's: leave `length` out",
            ));
        }
        Some((list, span)) if list.is_empty() || list.iter().any(String::is_empty) => {
            return Err(syn::Error::new(
                span,
                "`values` lists one or more non-empty strings",
            ));
        }
        Some((list, _)) => list,
    };
    let mut kind = kind_of(base, length, numeric).map_err(|m| error(&field.ty, m))?;
    if !values.is_empty() {
        if kind != SqlKind::String(None) {
            return Err(error(&field.ty, "`values` is for String columns"));
        }
        // What Rust holds: a string as long as the longest value.
        kind = SqlKind::String(Some(
            values
                .iter()
                .map(|v| v.chars().count() as u32)
                .max()
                .unwrap_or(1),
        ));
    }
    if primary_key && nullable {
        return Err(error(
            &field.ty,
            "a primary key column cannot be NULL: drop the Option",
        ));
    }
    match (&mut foreign_key, on_delete) {
        (Some(fk), on_delete) => fk.on_delete = on_delete,
        (None, Some((_, span))) => {
            return Err(syn::Error::new(
                span,
                "on_delete is for a foreign_key column",
            ));
        }
        (None, None) => {}
    }
    if foreign_key.is_none()
        && let Some(name) = relationship.as_ref().or(backref.as_ref())
    {
        return Err(error(
            name,
            "relationship and backref follow a foreign key: add foreign_key = Model",
        ));
    }
    if let Some((action, span)) = foreign_key.as_ref().and_then(|fk| fk.on_delete.as_ref())
        && referential_action(action).is_none()
    {
        return Err(syn::Error::new(
            *span,
            "on_delete is one of \"no action\", \"restrict\", \"cascade\", \"set null\", \"set default\"",
        ));
    }
    Ok(Column {
        ident,
        base: base.clone(),
        nullable,
        kind,
        values,
        primary_key,
        autoincrement,
        index,
        unique,
        default_fn,
        server_default,
        foreign_key,
        relationship,
        backref,
    })
}

/// The engine's name for an ON DELETE action.
pub fn referential_action(text: &str) -> Option<&'static str> {
    Some(
        match text.trim().to_ascii_lowercase().replace('_', " ").as_str() {
            "no action" => "NoAction",
            "restrict" => "Restrict",
            "cascade" => "Cascade",
            "set null" => "SetNull",
            "set default" => "SetDefault",
            _ => return None,
        },
    )
}

fn number(meta: &ParseNestedMeta) -> syn::Result<u32> {
    meta.value()?.parse::<LitInt>()?.base10_parse()
}

fn parse_repr(text: &LitStr) -> syn::Result<Repr> {
    let value = text.value();
    let mut pieces = Vec::new();
    let mut rest = value.as_str();
    while let Some(open) = rest.find('{') {
        if open > 0 {
            pieces.push(ReprPiece::Text(rest[..open].to_string()));
        }
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| error(text, "an unclosed '{' in repr"))?;
        let name = &rest[open + 1..open + close];
        let ident = syn::parse_str::<Ident>(name)
            .map_err(|_| error(text, format!("'{{{name}}}' does not name a column")))?;
        pieces.push(ReprPiece::Column(Ident::new(
            &ident.to_string(),
            text.span(),
        )));
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        pieces.push(ReprPiece::Text(rest.to_string()));
    }
    Ok(Repr { pieces })
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

#[cfg(test)]
mod declaration_errors {
    use super::module;
    use crate::expand;

    /// The message a declaration is refused with, if it is.
    fn refused(item: syn::ItemMod) -> Option<String> {
        module(item)
            .and_then(expand::module)
            .err()
            .map(|e| e.to_string())
    }

    #[test]
    fn a_model_without_a_primary_key_is_refused() {
        let message = refused(syn::parse_quote! {
            mod m { #[model] pub struct Tag { pub name: String } }
        });
        assert!(message.unwrap().contains("needs a primary key"));
    }

    #[test]
    fn a_nullable_primary_key_is_refused() {
        let message = refused(syn::parse_quote! {
            mod m { #[model] pub struct Tag { #[column(primary_key)] pub id: Option<i32> } }
        });
        assert!(message.unwrap().contains("cannot be NULL"));
    }

    #[test]
    fn an_unknown_column_option_names_the_ones_there_are() {
        let message = refused(syn::parse_quote! {
            mod m { #[model] pub struct Tag { #[column(primary_key, indexed)] pub id: i32 } }
        });
        assert!(message.unwrap().contains("#[column] takes primary_key"));
    }

    #[test]
    fn a_foreign_key_to_a_model_not_declared_here_is_refused() {
        let message = refused(syn::parse_quote! {
            mod m {
                #[model] pub struct Post {
                    #[column(primary_key)] pub id: i32,
                    #[column(foreign_key = Author)] pub author_id: i32,
                }
            }
        });
        assert!(message.unwrap().contains("no model named Author"));
    }

    #[test]
    fn a_length_on_a_number_and_an_unsupported_type_are_refused() {
        let length = refused(syn::parse_quote! {
            mod m { #[model] pub struct T { #[column(primary_key, length = 3)] pub id: i32 } }
        });
        assert!(length.unwrap().contains("`length` is for String columns"));
        let ty = refused(syn::parse_quote! {
            mod m { #[model] pub struct T { #[column(primary_key)] pub id: u128 } }
        });
        assert!(ty.unwrap().contains("a column's type is one of"));
    }

    #[test]
    fn a_model_index_names_columns_the_model_has() {
        let unknown = refused(syn::parse_quote! {
            mod m { #[model(index(columns("nope")))] pub struct T { #[column(primary_key)] pub id: i32 } }
        });
        assert!(
            unknown
                .unwrap()
                .contains("a column 'nope' this model does not have")
        );
        let empty = refused(syn::parse_quote! {
            mod m { #[model(index(unique))] pub struct T { #[column(primary_key)] pub id: i32 } }
        });
        assert!(empty.unwrap().contains("an index needs columns"));
    }

    #[test]
    fn a_check_needs_a_name_and_a_condition() {
        let message = refused(syn::parse_quote! {
            mod m { #[model(check(condition = "x > 0"))] pub struct T { #[column(primary_key)] pub id: i32 } }
        });
        assert!(message.unwrap().contains("a check needs name"));
    }

    #[test]
    fn an_enumeration_lists_strings_for_a_string_column() {
        let number = refused(syn::parse_quote! {
            mod m { #[model] pub struct T { #[column(primary_key)] pub id: i32, #[column(values("a"))] pub n: i32 } }
        });
        assert!(number.unwrap().contains("`values` is for String columns"));
        let empty = refused(syn::parse_quote! {
            mod m { #[model] pub struct T { #[column(primary_key)] pub id: i32, #[column(values())] pub s: String } }
        });
        assert!(empty.unwrap().contains("one or more non-empty strings"));
        let both = refused(syn::parse_quote! {
            mod m { #[model] pub struct T { #[column(primary_key)] pub id: i32, #[column(length = 9, values("a"))] pub s: String } }
        });
        assert!(both.unwrap().contains("leave `length` out"));
    }

    #[test]
    fn two_relationships_of_one_name_are_refused() {
        let message = refused(syn::parse_quote! {
            mod m {
                #[model] pub struct User { #[column(primary_key)] pub id: i32 }
                #[model] pub struct Post {
                    #[column(primary_key)] pub id: i32,
                    #[column(foreign_key = User, backref = posts)] pub author_id: i32,
                    #[column(foreign_key = User, backref = posts)] pub editor_id: i32,
                }
            }
        });
        assert!(
            message
                .unwrap()
                .contains("already has a relationship named 'posts'")
        );
    }

    #[test]
    fn a_correct_declaration_expands() {
        assert_eq!(
            refused(syn::parse_quote! {
                mod m {
                    #[model(table = "user", repr = "<User {name}>")]
                    pub struct User { #[column(primary_key)] pub id: i32, #[column(length = 9, index, unique)] pub name: Option<String> }
                }
            }),
            None
        );
    }
}
