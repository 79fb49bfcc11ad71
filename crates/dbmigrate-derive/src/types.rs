//! A field's Rust type read as a column type: `Option<T>` is a nullable column of `T`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{GenericArgument, PathArguments, Type};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlKind {
    SmallInteger,
    Integer,
    BigInteger,
    Boolean,
    /// `String`: `VARCHAR(n)` with a length, `TEXT` without.
    String(Option<u32>),
    Float,
    Double,
    Numeric {
        precision: u32,
        scale: u32,
    },
    Date,
    Time,
    DateTime,
    Binary,
}

impl SqlKind {
    /// The Diesel SQL type, without `Nullable`.
    pub fn diesel(self) -> TokenStream {
        match self {
            SqlKind::SmallInteger => quote!(SmallInt),
            SqlKind::Integer => quote!(Integer),
            SqlKind::BigInteger => quote!(BigInt),
            SqlKind::Boolean => quote!(Bool),
            SqlKind::String(_) => quote!(Text),
            SqlKind::Float => quote!(Float),
            SqlKind::Double => quote!(Double),
            SqlKind::Numeric { .. } => quote!(Numeric),
            SqlKind::Date => quote!(Date),
            SqlKind::Time => quote!(Time),
            SqlKind::DateTime => quote!(Timestamp),
            SqlKind::Binary => quote!(Binary),
        }
    }

    /// The engine's `ColumnType`.
    pub fn engine(self) -> TokenStream {
        let ty = quote!(::dbmigrate::ColumnType);
        match self {
            SqlKind::SmallInteger => quote!(#ty::SmallInteger),
            SqlKind::Integer => quote!(#ty::Integer),
            SqlKind::BigInteger => quote!(#ty::BigInteger),
            SqlKind::Boolean => quote!(#ty::Boolean),
            SqlKind::String(Some(length)) => quote!(#ty::String(Some(#length))),
            SqlKind::String(None) => quote!(#ty::Text),
            SqlKind::Float => quote!(#ty::Float),
            SqlKind::Double => quote!(#ty::Double),
            SqlKind::Numeric { precision, scale } => {
                quote!(#ty::Numeric { precision: #precision, scale: #scale })
            }
            SqlKind::Date => quote!(#ty::Date),
            SqlKind::Time => quote!(#ty::Time),
            SqlKind::DateTime => quote!(#ty::DateTime),
            SqlKind::Binary => quote!(#ty::Binary),
        }
    }

    pub fn is_integer(self) -> bool {
        matches!(
            self,
            SqlKind::SmallInteger | SqlKind::Integer | SqlKind::BigInteger
        )
    }
}

/// `Option<T>` gives `(T, true)`; any other type `(type, false)`.
pub fn unwrap_option(ty: &Type) -> (&Type, bool) {
    match single_argument(ty, "Option") {
        Some(inner) => (inner, true),
        None => (ty, false),
    }
}

/// The column kind of a field's (non-optional) Rust type.
pub fn kind_of(
    ty: &Type,
    length: Option<u32>,
    numeric: Option<(u32, u32)>,
) -> Result<SqlKind, String> {
    let name = last_segment(ty).ok_or_else(unsupported)?;
    let kind = match name.as_str() {
        "i16" => SqlKind::SmallInteger,
        "i32" => SqlKind::Integer,
        "i64" => SqlKind::BigInteger,
        "bool" => SqlKind::Boolean,
        "String" => SqlKind::String(length),
        "f32" => SqlKind::Float,
        "f64" => SqlKind::Double,
        "NaiveDate" => SqlKind::Date,
        "NaiveTime" => SqlKind::Time,
        "NaiveDateTime" => SqlKind::DateTime,
        "BigDecimal" => {
            let (precision, scale) = numeric
                .ok_or("a BigDecimal column needs `precision = P, scale = S` (NUMERIC(P, S))")?;
            SqlKind::Numeric { precision, scale }
        }
        "Vec" if single_argument(ty, "Vec").and_then(last_segment).as_deref() == Some("u8") => {
            SqlKind::Binary
        }
        _ => return Err(unsupported()),
    };
    if length.is_some() && !matches!(kind, SqlKind::String(_)) {
        return Err("`length` is for String columns".into());
    }
    if numeric.is_some() && !matches!(kind, SqlKind::Numeric { .. }) {
        return Err("`precision` and `scale` are for BigDecimal columns".into());
    }
    Ok(kind)
}

fn unsupported() -> String {
    "a column's type is one of i16, i32, i64, bool, String, f32, f64, BigDecimal, \
     NaiveDate, NaiveTime, NaiveDateTime or Vec<u8>, or Option of one for a nullable column"
        .into()
}

fn last_segment(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(path) if path.qself.is_none() => {
            path.path.segments.last().map(|s| s.ident.to_string())
        }
        _ => None,
    }
}

fn single_argument<'t>(ty: &'t Type, wrapper: &str) -> Option<&'t Type> {
    let Type::Path(path) = ty else { return None };
    let segment = path.path.segments.last()?;
    if segment.ident != wrapper {
        return None;
    }
    let PathArguments::AngleBracketed(arguments) = &segment.arguments else {
        return None;
    };
    match arguments.args.first()? {
        GenericArgument::Type(inner) if arguments.args.len() == 1 => Some(inner),
        _ => None,
    }
}
