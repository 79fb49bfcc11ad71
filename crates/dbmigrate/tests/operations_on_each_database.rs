//! Every kind of operation, applied to a real database: the catalog then reads back as the
//! schema the operations describe, and the rows survive (on SQLite, through rebuilds).

use diesel::connection::SimpleConnection;
use diesel::sql_types::BigInt;
use diesel::{QueryableByName, RunQueryDsl, sql_query};

use dbmigrate::apply::{ApplyError, apply};
use dbmigrate::ops::Op;
use dbmigrate::schema::{Column, ColumnDefault, ColumnType, Schema, Table};
use dbmigrate::testing::{TestDb, assert_catalog_is};
use dbmigrate::{AnyConnection, connect, on_each_database};

fn chapter() -> Schema {
    Schema::new(vec![
        Table::new("user")
            .id_column("id")
            .column(Column::new("username", ColumnType::String(Some(64))))
            .index("username", true),
        Table::new("post")
            .id_column("id")
            .column(Column::new("body", ColumnType::String(Some(140))))
            .column(Column::new("user_id", ColumnType::Integer))
            .foreign_key("user_id", "user", "id"),
    ])
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut AnyConnection, sql: &str) -> i64 {
    sql_query(sql).load::<Count>(conn).unwrap()[0].n
}

fn q(conn: &AnyConnection, ident: &str) -> String {
    conn.dialect().quote(ident)
}

fn with_rows(db: &TestDb) -> (AnyConnection, Schema) {
    let mut conn = connect(&db.url).unwrap();
    let schema = apply(
        &mut conn,
        &chapter().creation_ops(),
        &Schema::default(),
        |_| Ok(()),
    )
    .unwrap();
    let (user, post) = (q(&conn, "user"), q(&conn, "post"));
    conn.batch_execute(&format!(
        "INSERT INTO {user} (username) VALUES ('john'); INSERT INTO {user} (username) VALUES ('susan');"
    ))
    .unwrap();
    conn.batch_execute(&format!(
        "INSERT INTO {post} (body, user_id) VALUES ('first', 1); INSERT INTO {post} (body, user_id) VALUES ('second', 2);"
    ))
    .unwrap();
    (conn, schema)
}

fn alter(
    column: &str,
    ty: Option<ColumnType>,
    nullable: Option<bool>,
    set_default: Option<ColumnDefault>,
    new_name: Option<&str>,
) -> Op {
    Op::AlterColumn {
        table: "post".into(),
        column: column.into(),
        ty,
        nullable,
        set_default,
        drop_default: false,
        new_name: new_name.map(str::to_string),
        online: None,
    }
}

on_each_database! {
    fn each_operation_leaves_the_catalog_as_described_and_keeps_the_rows(db: &TestDb) {
        let (mut conn, mut schema) = with_rows(db);
        assert_catalog_is(&mut conn, &schema, "after creating the tables");
        let ops = vec![
            Op::AddColumn { table: "post".into(), column: Column::new("language", ColumnType::String(Some(5))), online: None },
            Op::AddColumn {
                table: "post".into(),
                column: Column::new("score", ColumnType::Integer).not_null().default(ColumnDefault::Literal("0".into())), online: None,
            },
            Op::CreateIndex { table: "post".into(), name: "ix_post_user_id".into(), columns: vec!["user_id".into()], unique: false, predicate: None, concurrently: None },
            alter("body", Some(ColumnType::String(Some(280))), Some(false), None, None),
            alter("body", None, None, None, Some("text")),
            alter("language", None, None, Some(ColumnDefault::Literal("'en'".into())), None),
            Op::CreateUniqueConstraint { table: "user".into(), name: "uq_user_username_id".into(), columns: vec!["username".into(), "id".into()], online: None },
            Op::DropUniqueConstraint { table: "user".into(), name: "uq_user_username_id".into() },
            Op::DropForeignKey { table: "post".into(), name: "fk_post_user_id_user".into() },
            Op::CreateForeignKey {
                table: "post".into(),
                name: "fk_post_user_id_user".into(),
                columns: vec!["user_id".into()],
                ref_table: "user".into(),
                ref_columns: vec!["id".into()],
                on_delete: Some(dbmigrate::schema::ReferentialAction::Cascade), online: None,
            },
            Op::DropIndex { table: "post".into(), name: "ix_post_user_id".into(), concurrently: None },
            Op::DropColumn { table: "post".into(), column: "language".into() },
            Op::RenameTable { table: "post".into(), new_name: "entry".into() },
        ];
        for op in &ops {
            schema = apply(&mut conn, std::slice::from_ref(op), &schema, |_| Ok(()))
                .unwrap_or_else(|e| panic!("{}: {e}", op.describe()));
            assert_catalog_is(&mut conn, &schema, &format!("after {}", op.describe()));
        }
        let entry = q(&conn, "entry");
        let text = q(&conn, "text");
        assert_eq!(count(&mut conn, &format!("SELECT COUNT(*) AS n FROM {entry} WHERE {text} IN ('first', 'second')")), 2);
        // The cascade added above is real: deleting john deletes his post.
        conn.batch_execute(&format!("DELETE FROM {} WHERE id = 1", q(&conn, "user"))).unwrap();
        assert_eq!(count(&mut conn, &format!("SELECT COUNT(*) AS n FROM {entry}")), 1);
    }

    fn a_failing_operation_leaves_the_database_as_it_was_or_says_what_stayed(db: &TestDb) {
        let (mut conn, schema) = with_rows(db);
        let post = q(&conn, "post");
        let ops = vec![
            Op::AddColumn { table: "post".into(), column: Column::new("extra", ColumnType::Integer), online: None },
            Op::Sql { sql: format!("DELETE FROM {post}"), sqlite: None, postgresql: None, mysql: None },
            Op::Sql { sql: "INSERT INTO no_such_table VALUES (1)".into(), sqlite: None, postgresql: None, mysql: None },
        ];
        let error = apply(&mut conn, &ops, &schema, |_| Ok(())).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("operation 3 (execute SQL: INSERT INTO no_such_table"), "{message}");
        let posts_left = count(&mut conn, &format!("SELECT COUNT(*) AS n FROM {post}"));
        if db.dialect() == dbmigrate::Dialect::Mysql {
            // MySQL committed the first two: SQL that changed rows cannot be undone, so
            // what the report says stayed, stayed.
            let ApplyError::Partway(ref partway) = error else {
                panic!("{error}");
            };
            assert_eq!((partway.number, partway.done, partway.steps), (3, 2, 3), "{message}");
            assert!(partway.applied[0].contains("ADD COLUMN `extra`"), "{message}");
            assert!(message.contains("step 2 changed rows"), "{message}");
            let mut with_extra = schema.clone();
            with_extra.apply(&ops[0]).unwrap();
            assert_catalog_is(&mut conn, &with_extra, "the added column stayed");
            assert_eq!(posts_left, 0, "the delete stayed");
        } else {
            assert!(matches!(error, ApplyError::Failed(_)), "{message}");
            assert_catalog_is(&mut conn, &schema, "nothing changed");
            assert_eq!(posts_left, 2, "the deleted rows are back");
            assert!(message.contains("nothing was changed"), "{message}");
        }
    }
}

#[test]
fn a_sqlite_rebuild_that_would_break_a_foreign_key_is_rolled_back() {
    dbmigrate::testing::on(dbmigrate::Dialect::Sqlite, |db| {
        let (mut conn, schema) = with_rows(db);
        conn.batch_execute("PRAGMA foreign_keys = OFF; INSERT INTO post (body, user_id) VALUES ('orphan', 99); PRAGMA foreign_keys = ON;").unwrap();
        // Rebuilding post re-checks every row against the key.
        let op = alter("body", Some(ColumnType::Text), None, None, None);
        let error = apply(&mut conn, &[op], &schema, |_| Ok(())).unwrap_err();
        assert!(matches!(error, ApplyError::ForeignKeyCheck(_)), "{error}");
        assert_catalog_is(&mut conn, &schema, "nothing changed");
        let leftovers = count(
            &mut conn,
            "SELECT COUNT(*) AS n FROM sqlite_schema WHERE name LIKE '_dbmigrate%'",
        );
        assert_eq!(leftovers, 0, "no temporary table is left behind");
    });
}

#[test]
fn a_sqlite_rebuild_keeps_the_views_and_triggers_that_use_the_table() {
    dbmigrate::testing::on(dbmigrate::Dialect::Sqlite, |db| {
        let (mut conn, schema) = with_rows(db);
        conn.batch_execute(
            "CREATE TABLE audit (body TEXT);
             CREATE VIEW post_bodies AS SELECT id, body FROM post;
             CREATE TRIGGER post_audit AFTER INSERT ON post BEGIN INSERT INTO audit VALUES (new.body); END;",
        )
        .unwrap();
        let op = alter("body", Some(ColumnType::Text), None, None, None);
        apply(&mut conn, &[op], &schema, |_| Ok(())).unwrap();

        assert_eq!(count(&mut conn, "SELECT COUNT(*) AS n FROM post_bodies"), 2);
        conn.batch_execute("INSERT INTO post (body, user_id) VALUES ('third', 1)")
            .unwrap();
        assert_eq!(
            count(
                &mut conn,
                "SELECT COUNT(*) AS n FROM audit WHERE body = 'third'"
            ),
            1,
            "the trigger fires on the rebuilt table"
        );
    });
}

#[test]
fn a_sqlite_rebuild_that_leaves_a_view_without_its_column_is_rolled_back() {
    dbmigrate::testing::on(dbmigrate::Dialect::Sqlite, |db| {
        let (mut conn, schema) = with_rows(db);
        conn.batch_execute("CREATE VIEW post_authors AS SELECT id, user_id FROM post")
            .unwrap();
        // The column holds a foreign key, so dropping it rebuilds the table.
        let drop = Op::DropColumn {
            table: "post".into(),
            column: "user_id".into(),
        };
        let error = apply(&mut conn, &[drop], &schema, |_| Ok(())).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("the view 'post_authors' cannot be made again"),
            "{error}"
        );
        assert_catalog_is(&mut conn, &schema, "nothing changed");
        assert_eq!(
            count(&mut conn, "SELECT COUNT(*) AS n FROM post_authors"),
            2
        );
    });
}

#[test]
fn a_sqlite_rename_and_rebuild_carries_the_view_to_the_new_name() {
    dbmigrate::testing::on(dbmigrate::Dialect::Sqlite, |db| {
        let (mut conn, schema) = with_rows(db);
        conn.batch_execute("CREATE VIEW post_bodies AS SELECT id, body FROM post")
            .unwrap();
        let rename = alter("body", Some(ColumnType::Text), None, None, Some("text"));
        apply(&mut conn, &[rename], &schema, |_| Ok(())).unwrap();
        assert_eq!(count(&mut conn, "SELECT COUNT(*) AS n FROM post_bodies"), 2);
    });
}
