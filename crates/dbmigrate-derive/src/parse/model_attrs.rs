//! The model-level parts of `#[model(...)]`: `check(...)`, `index(...)`,
//! `many_to_many(...)`, and `repr`.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Ident, LitStr};

use super::{IndexDecl, Link, Repr, ReprPiece, error};

pub(super) fn check_decl(meta: &ParseNestedMeta) -> syn::Result<(String, String)> {
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

pub(super) fn index_decl(meta: &ParseNestedMeta) -> syn::Result<(IndexDecl, Span, bool)> {
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

pub(super) fn link(meta: &ParseNestedMeta) -> syn::Result<Link> {
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

pub(super) fn parse_repr(text: &LitStr) -> syn::Result<Repr> {
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
