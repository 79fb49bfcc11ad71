//! Each mistake in a declaration is refused with its error on the attribute that is wrong.

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
