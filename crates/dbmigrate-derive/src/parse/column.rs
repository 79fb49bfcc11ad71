//! `#[column(...)]` on a field: its type, length, nullability, keys, defaults, foreign key
//! and relationship, each checked with the error on the attribute that is wrong.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Ident, LitInt, LitStr, Path};

use super::{Column, ForeignKey, ServerDefault, Target, error};
use crate::types::{SqlKind, kind_of, unwrap_option};

pub(super) fn column(field: &syn::Field) -> syn::Result<Column> {
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

pub(super) fn number(meta: &ParseNestedMeta) -> syn::Result<u32> {
    meta.value()?.parse::<LitInt>()?.base10_parse()
}
