//! What the declaration expands to, as snapshots (`cargo insta review` after a change that
//! is meant): the chapter's two models with their relationship, and an association table.

use syn::parse_quote;

fn expanded(module: syn::ItemMod) -> String {
    let parsed = crate::parse::module(module).expect("the declaration parses");
    let tokens = super::module(parsed).expect("the declaration expands");
    let file: syn::File = syn::parse2(tokens).expect("the expansion is Rust");
    prettyplease::unparse(&file)
}

#[test]
fn the_chapters_models_expand_to_their_tables_rows_and_relationship() {
    insta::assert_snapshot!(expanded(parse_quote! {
        mod declared {
            use super::utc_now;
            use chrono::NaiveDateTime;

            #[model(table = "user", repr = "<User {username}>")]
            pub struct User {
                #[column(primary_key)]
                pub id: i32,
                #[column(length = 64, index, unique)]
                pub username: Option<String>,
                #[column(server_default = "0")]
                pub session_generation: i32,
            }

            #[model(
                table = "post",
                repr = "<Post {body}>",
                index(columns("user_id", "timestamp"), name = "ix_post_user_id_timestamp")
            )]
            pub struct Post {
                #[column(primary_key)]
                pub id: i32,
                #[column(length = 140)]
                pub body: Option<String>,
                #[column(index, default = utc_now)]
                pub timestamp: Option<NaiveDateTime>,
                #[column(foreign_key = User, relationship = author, backref = posts)]
                pub user_id: Option<i32>,
            }
        }
    }));
}

#[test]
fn an_association_table_expands_to_queries_both_ways() {
    insta::assert_snapshot!(expanded(parse_quote! {
        mod declared {
            #[model(table = "user")]
            pub struct User {
                #[column(primary_key)]
                pub id: i32,
            }

            #[model(
                table = "followers",
                many_to_many(from = follower_id, to = followed_id, forward = following, backward = followers)
            )]
            pub struct Follow {
                #[column(primary_key, foreign_key = User)]
                pub follower_id: i32,
                #[column(primary_key, foreign_key = User)]
                pub followed_id: i32,
            }
        }
    }));
}
