use super::*;
use crate::schema::Column;
use crate::schema::Table;

fn users() -> Schema {
    Schema::new(vec![
        Table::new("user")
            .id_column("id")
            .column(Column::new("username", ColumnType::String(Some(64))))
            .index("username", true),
    ])
}

#[test]
fn creation_ops_rebuild_the_same_schema() {
    let schema = users();
    let mut rebuilt = Schema::default();
    for op in schema.creation_ops() {
        rebuilt.apply(&op).unwrap();
    }
    assert_eq!(rebuilt, schema);
}

#[test]
fn renaming_a_column_follows_it_into_indexes() {
    let mut schema = users();
    schema
        .apply(&Op::AlterColumn {
            table: "user".into(),
            column: "username".into(),
            ty: None,
            nullable: None,
            set_default: None,
            drop_default: false,
            new_name: Some("login".into()),
            online: None,
        })
        .unwrap();
    assert_eq!(schema.tables[0].indexes[0].columns, ["login"]);
}

#[test]
fn operations_that_do_not_fit_are_refused() {
    let mut schema = users();
    assert_eq!(
        schema.apply(&Op::DropColumn {
            table: "user".into(),
            column: "nope".into()
        }),
        Err(OpError::NoColumn {
            table: "user".into(),
            column: "nope".into()
        })
    );
    assert_eq!(
        schema.apply(&Op::DropTable {
            table: "post".into()
        }),
        Err(OpError::NoTable("post".into()))
    );
    assert!(matches!(
        schema.apply(&Op::CreateIndex {
            table: "user".into(),
            name: "ix_user_username".into(),
            columns: vec!["id".into()],
            unique: false,
            predicate: None,
            concurrently: None,
        }),
        Err(OpError::NameTaken { .. })
    ));
}

#[test]
fn operations_read_from_toml() {
    #[derive(Deserialize)]
    struct File {
        upgrade: Vec<Op>,
    }
    let file: File = toml::from_str(
        r#"
        [[upgrade]]
        op = "add_column"
        table = "user"
        column = { name = "about_me", type = "string(140)" }

        [[upgrade]]
        op = "alter_column"
        table = "user"
        column = "username"
        nullable = false
        "#,
    )
    .unwrap();
    assert_eq!(
        file.upgrade[0],
        Op::AddColumn {
            table: "user".into(),
            column: Column::new("about_me", ColumnType::String(Some(140))),
            online: None
        }
    );
    let typo: Result<File, _> =
        toml::from_str("[[upgrade]]\nop = \"drop_table\"\ntabel = \"user\"\n");
    assert!(typo.is_err());
}
