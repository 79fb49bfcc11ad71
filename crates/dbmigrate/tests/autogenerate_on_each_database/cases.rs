//! The kinds of change autogenerate is tried with: each a change to a base schema, the
//! lines it must report, and where the rows it keeps end up.

use dbmigrate::compare::CompareOptions;
use dbmigrate::schema::{
    Column, ColumnDefault, ColumnType, ForeignKey, Schema, Table, UniqueConstraint,
};

pub fn base() -> Schema {
    let mut user = Table::new("user")
        .id_column("id")
        .column(Column::new("username", ColumnType::String(Some(64))).not_null())
        .column(Column::new("email", ColumnType::String(Some(120))))
        .column(Column::new("about", ColumnType::String(Some(140))))
        .index("email", true);
    user.unique_constraints.push(UniqueConstraint {
        name: "uq_user_about".into(),
        columns: vec!["about".into()],
    });
    Schema::new(vec![
        user,
        Table::new("post")
            .id_column("id")
            .column(Column::new("body", ColumnType::String(Some(140))))
            .column(Column::new("user_id", ColumnType::Integer))
            .column(Column::new("editor_id", ColumnType::Integer))
            .foreign_key("user_id", "user", "id"),
    ])
}

pub fn table<'a>(schema: &'a mut Schema, name: &str) -> &'a mut Table {
    schema.tables.iter_mut().find(|t| t.name == name).unwrap()
}

pub fn column<'a>(schema: &'a mut Schema, table_name: &str, name: &str) -> &'a mut Column {
    table(schema, table_name)
        .columns
        .iter_mut()
        .find(|c| c.name == name)
        .unwrap()
}

pub struct Case {
    pub name: &'static str,
    pub change: fn(&mut Schema),
    pub detected: &'static [&'static str],
    pub options: CompareOptions,
    /// Where john's and susan's usernames are after the upgrade.
    pub usernames_at: (&'static str, &'static str),
}

pub const RENAMES: CompareOptions = CompareOptions {
    detect_renames: true,
};
pub const NO_RENAMES: CompareOptions = CompareOptions {
    detect_renames: false,
};

pub fn case(
    name: &'static str,
    change: fn(&mut Schema),
    detected: &'static [&'static str],
) -> Case {
    Case {
        name,
        change,
        detected,
        options: RENAMES,
        usernames_at: ("user", "username"),
    }
}

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "added table",
            |s| {
                s.tables.push(
                    Table::new("tag")
                        .id_column("id")
                        .column(Column::new("name", ColumnType::String(Some(50))))
                        .index("name", false),
                )
            },
            &[
                "Detected added table 'tag'",
                "Detected added index 'ix_tag_name' on '[\"name\"]'",
            ],
        ),
        case(
            "removed table",
            |s| s.tables.retain(|t| t.name != "post"),
            &["Detected removed table 'post'"],
        ),
        case(
            "added column",
            |s| {
                table(s, "user")
                    .columns
                    .push(Column::new("about_me", ColumnType::Text))
            },
            &["Detected added column 'user.about_me'"],
        ),
        case(
            "removed column",
            |s| {
                let user = table(s, "user");
                user.columns.retain(|c| c.name != "email");
                user.indexes.clear();
            },
            &[
                "Detected removed index 'ix_user_email' on 'user'",
                "Detected removed column 'user.email'",
            ],
        ),
        case(
            "widened type",
            |s| column(s, "user", "username").ty = ColumnType::String(Some(100)),
            &["Detected type change from string(64) to string(100) on 'user.username'"],
        ),
        case(
            "narrowed type",
            |s| column(s, "post", "body").ty = ColumnType::String(Some(20)),
            &["Detected type change from string(140) to string(20) on 'post.body'"],
        ),
        case(
            "not null",
            |s| column(s, "user", "email").nullable = false,
            &["Detected NOT NULL on column 'user.email'"],
        ),
        case(
            "null allowed",
            |s| column(s, "user", "username").nullable = true,
            &["Detected NULL on column 'user.username'"],
        ),
        case(
            "server default",
            |s| {
                column(s, "user", "about").default =
                    Some(ColumnDefault::Literal("'nothing yet'".into()))
            },
            &["Detected server default change from none to 'nothing yet' on 'user.about'"],
        ),
        case(
            "added index",
            |s| {
                table(s, "post").indexes.push(dbmigrate::Index {
                    predicate: None,
                    name: "ix_post_body".into(),
                    columns: vec!["body".into()],
                    unique: false,
                })
            },
            &["Detected added index 'ix_post_body' on '[\"body\"]'"],
        ),
        case(
            // Undoing it puts the single-column key back: both directions run.
            "changed primary key",
            |s| {
                column(s, "post", "body").nullable = false;
                table(s, "post").primary_key = vec!["id".into(), "body".into()];
            },
            &[
                "Detected NOT NULL on column 'post.body'",
                "Detected changed primary key on 'post' from (id) to (id, body)",
            ],
        ),
        case(
            // Undoing it makes the index unique again: both directions run.
            "index made non-unique",
            |s| table(s, "user").indexes[0].unique = false,
            &[
                "Detected removed index 'ix_user_email' on 'user'",
                "Detected added index 'ix_user_email' on '[\"email\"]'",
            ],
        ),
        case(
            "removed index",
            |s| table(s, "user").indexes.clear(),
            &["Detected removed index 'ix_user_email' on 'user'"],
        ),
        case(
            "added unique constraint",
            |s| {
                table(s, "user").unique_constraints.push(UniqueConstraint {
                    name: "uq_user_email_username".into(),
                    columns: vec!["email".into(), "username".into()],
                })
            },
            &[
                "Detected added unique constraint 'uq_user_email_username' on '[\"email\", \"username\"]'",
            ],
        ),
        case(
            "removed unique constraint",
            |s| table(s, "user").unique_constraints.clear(),
            &["Detected removed unique constraint 'uq_user_about' on 'user'"],
        ),
        case(
            "added foreign key",
            |s| {
                table(s, "post").foreign_keys.push(ForeignKey {
                    name: "fk_post_editor_id_user".into(),
                    columns: vec!["editor_id".into()],
                    ref_table: "user".into(),
                    ref_columns: vec!["id".into()],
                    on_delete: None,
                })
            },
            &["Detected added foreign key (editor_id)(id) on table post"],
        ),
        case(
            "removed foreign key",
            |s| table(s, "post").foreign_keys.clear(),
            &["Detected removed foreign key (user_id)(id) on table post"],
        ),
        Case {
            usernames_at: ("user", "login"),
            ..case(
                "renamed column",
                |s| column(s, "user", "username").name = "login".into(),
                &["Detected renamed column 'user.username' -> 'user.login'"],
            )
        },
        Case {
            usernames_at: ("account", "username"),
            ..case(
                "renamed table",
                |s| {
                    table(s, "user").name = "account".into();
                    let account = table(s, "account");
                    account.indexes[0].name = "ix_account_email".into();
                    account.unique_constraints[0].name = "uq_account_about".into();
                    let fk = &mut table(s, "post").foreign_keys[0];
                    fk.ref_table = "account".into();
                },
                &[
                    "Detected renamed table 'user' -> 'account'",
                    "Detected removed index 'ix_user_email' on 'account'",
                    "Detected removed unique constraint 'uq_user_about' on 'account'",
                    "Detected added index 'ix_account_email' on '[\"email\"]'",
                    "Detected added unique constraint 'uq_account_about' on '[\"about\"]'",
                ],
            )
        },
        Case {
            options: NO_RENAMES,
            usernames_at: ("user", "about"),
            ..case(
                "no renames",
                |s| {
                    column(s, "user", "email").name = "contact".into();
                    table(s, "user").indexes.clear();
                },
                &[
                    "Detected removed index 'ix_user_email' on 'user'",
                    "Detected added column 'user.contact'",
                    "Detected removed column 'user.email'",
                ],
            )
        },
    ]
}
