use super::*;
use crate::schema::{Column, Table};

fn parent() -> Schema {
    Schema::new(vec![
        Table::new("user").id_column("id"),
        Table::new("post")
            .id_column("id")
            .column(Column::new("body", ColumnType::String(Some(140))))
            .column(Column::new("user_id", ColumnType::Integer))
            .foreign_key("user_id", "user", "id")
            .index("user_id", false),
    ])
}

fn rename_body() -> Op {
    Op::rename_column("post", "body", "text")
}

fn retype_user_id() -> Op {
    Op::AlterColumn {
        table: "post".into(),
        column: "user_id".into(),
        ty: Some(ColumnType::BigInteger),
        nullable: None,
        set_default: None,
        drop_default: false,
        new_name: None,
        online: None,
    }
}

#[test]
fn additive_revisions_run_as_they_are() {
    let add = Op::AddColumn {
        table: "post".into(),
        column: Column::new("language", ColumnType::String(Some(5))),
        online: None,
    };
    assert_eq!(plan("a1", &[add], &parent()).unwrap(), None);
}

#[test]
fn a_renamed_column_is_the_old_column_under_the_new_name_until_contract() {
    let expansion = plan("B2", &[rename_body()], &parent()).unwrap().unwrap();
    assert_eq!(expansion.view_schema, "dbmigrate_b2");
    assert_eq!(
        expansion.expanded,
        parent(),
        "nothing changes in the tables yet"
    );
    let Op::Sql { sql: views, .. } = expansion.expand.last().unwrap() else {
        panic!("the views come last: {:?}", expansion.expand)
    };
    assert!(views.contains(r#"CREATE VIEW "dbmigrate_b2"."post" AS SELECT "id", "body" AS "text", "user_id" FROM "post""#), "{views}");
    assert!(
        !views.contains(r#""dbmigrate_b2"."user""#),
        "a table that did not change has no view: {views}"
    );
    assert_eq!(
        expansion.contract[0],
        sql(r#"LOCK TABLE "dbmigrate_b2"."post" IN ACCESS EXCLUSIVE MODE"#.into()),
        "the views are locked before the tables"
    );
    assert_eq!(expansion.contract[1], rename_body());
}

#[test]
fn a_retyped_column_gets_a_shadow_with_its_index_and_key_and_swaps_at_contract() {
    let expansion = plan("c3", &[retype_user_id()], &parent()).unwrap().unwrap();
    let post = expansion.expanded.table("post").unwrap();
    assert_eq!(
        post.find_column("_dbm_user_id").unwrap().ty,
        ColumnType::BigInteger
    );
    assert!(post.indexes.iter().any(|i| i.columns == ["_dbm_user_id"]));
    assert!(
        post.foreign_keys
            .iter()
            .any(|f| f.columns == ["_dbm_user_id"] && f.ref_table == "user")
    );
    let Op::Sql { sql: views, .. } = expansion.expand.last().unwrap() else {
        panic!()
    };
    assert!(views.contains(r#""_dbm_user_id" AS "user_id""#), "{views}");
    assert!(expansion.contract.contains(&Op::DropColumn {
        table: "post".into(),
        column: "user_id".into()
    }));
    assert!(
        expansion
            .contract
            .contains(&Op::rename_column("post", "_dbm_user_id", "user_id"))
    );
}

#[test]
fn what_a_revision_cannot_run_side_by_side_is_refused_with_the_reason_and_not_null_waits() {
    let index_on_new_name = Op::CreateIndex {
        table: "post".into(),
        name: "ix_post_text".into(),
        columns: vec!["text".into()],
        unique: false,
        predicate: None,
        concurrently: None,
    };
    assert!(matches!(
        plan("d4", &[rename_body(), index_on_new_name], &parent()),
        Err(ExpandError::Entangled { number: 2, .. })
    ));
    let not_null = Op::AlterColumn {
        table: "post".into(),
        column: "body".into(),
        ty: None,
        nullable: Some(false),
        set_default: None,
        drop_default: false,
        new_name: None,
        online: None,
    };
    let deferred = plan("e5", std::slice::from_ref(&not_null), &parent())
        .unwrap()
        .unwrap();
    assert_eq!(
        deferred.contract.last(),
        Some(&not_null),
        "NOT NULL waits for the contract"
    );
    let retype_key = Op::AlterColumn {
        table: "post".into(),
        column: "id".into(),
        ty: Some(ColumnType::BigInteger),
        nullable: None,
        set_default: None,
        drop_default: false,
        new_name: None,
        online: None,
    };
    assert!(matches!(
        plan("f6", &[retype_key], &parent()),
        Err(ExpandError::CannotRetype { .. })
    ));
}
