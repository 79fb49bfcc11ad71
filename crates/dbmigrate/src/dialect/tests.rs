//! Each database's statements, side by side: what the same table or operation becomes on
//! SQLite, PostgreSQL and MySQL.

use super::Dialect;
use crate::ops::{Op, OpError};
use crate::schema::{Column, ColumnType, Schema, Table};

fn post() -> Table {
    Table::new("post")
        .id_column("id")
        .column(Column::new("body", ColumnType::String(Some(140))))
        .column(Column::new("timestamp", ColumnType::DateTime))
        .column(Column::new("user_id", ColumnType::Integer))
        .index("timestamp", false)
        .foreign_key("user_id", "user", "id")
}

#[test]
fn create_table_in_each_dialect() {
    let rendered: Vec<String> = Dialect::ALL
        .iter()
        .map(|d| format!("-- {d}\n{};\n", d.create_table(&post()).join(";\n")))
        .collect();
    assert_eq!(
        rendered.join("\n"),
        r#"-- sqlite
CREATE TABLE "post" (
    "id" INTEGER NOT NULL,
    "body" VARCHAR(140),
    "timestamp" DATETIME,
    "user_id" INTEGER,
    PRIMARY KEY ("id"),
    CONSTRAINT "fk_post_user_id_user" FOREIGN KEY ("user_id") REFERENCES "user" ("id")
);
CREATE INDEX "ix_post_timestamp" ON "post" ("timestamp");

-- postgresql
CREATE TABLE "post" (
    "id" SERIAL NOT NULL,
    "body" VARCHAR(140),
    "timestamp" TIMESTAMP WITHOUT TIME ZONE,
    "user_id" INTEGER,
    PRIMARY KEY ("id"),
    CONSTRAINT "fk_post_user_id_user" FOREIGN KEY ("user_id") REFERENCES "user" ("id")
);
CREATE INDEX "ix_post_timestamp" ON "post" ("timestamp");

-- mysql
CREATE TABLE `post` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `body` VARCHAR(140),
    `timestamp` DATETIME(6),
    `user_id` INTEGER,
    PRIMARY KEY (`id`),
    CONSTRAINT `fk_post_user_id_user` FOREIGN KEY (`user_id`) REFERENCES `user` (`id`)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX `ix_post_timestamp` ON `post` (`timestamp`);
"#
    );
}

#[test]
fn identifiers_with_quotes_are_escaped() {
    assert_eq!(Dialect::Postgres.quote("we\"ird"), "\"we\"\"ird\"");
    assert_eq!(Dialect::Mysql.quote("we`ird"), "`we``ird`");
}

fn schema() -> Schema {
    Schema::new(vec![
        Table::new("user").id_column("id"),
        Table::new("post")
            .id_column("id")
            .column(Column::new("body", ColumnType::String(Some(140))))
            .column(Column::new("user_id", ColumnType::Integer))
            .index("body", false),
    ])
}

fn widen_body() -> Op {
    Op::AlterColumn {
        table: "post".into(),
        column: "body".into(),
        ty: Some(ColumnType::String(Some(280))),
        nullable: Some(false),
        set_default: None,
        drop_default: false,
        new_name: None,
        online: None,
    }
}

fn all_dialects(op: &Op) -> String {
    Dialect::ALL
        .iter()
        .map(|d| {
            format!(
                "-- {d}\n{};\n",
                d.op_statements(op, &schema()).unwrap().join(";\n")
            )
        })
        .collect::<Vec<_>>()
        .join("")
}

#[test]
fn altering_a_column_is_native_on_servers_and_a_rebuild_on_sqlite() {
    assert_eq!(
        all_dialects(&widen_body()),
        r#"-- sqlite
CREATE TABLE "_dbmigrate_rebuild_post" (
    "id" INTEGER NOT NULL,
    "body" VARCHAR(280) NOT NULL,
    "user_id" INTEGER,
    PRIMARY KEY ("id")
);
INSERT INTO "_dbmigrate_rebuild_post" ("id", "body", "user_id") SELECT "id", "body", "user_id" FROM "post";
DROP TABLE "post";
ALTER TABLE "_dbmigrate_rebuild_post" RENAME TO "post";
CREATE INDEX "ix_post_body" ON "post" ("body");
-- postgresql
ALTER TABLE "post" ALTER COLUMN "body" TYPE VARCHAR(280) USING "body"::VARCHAR(280);
ALTER TABLE "post" ALTER COLUMN "body" SET NOT NULL;
-- mysql
ALTER TABLE `post` MODIFY COLUMN `body` VARCHAR(280) NOT NULL;
"#
    );
}

#[test]
fn adding_a_foreign_key_rebuilds_on_sqlite_only() {
    let op = Op::CreateForeignKey {
        table: "post".into(),
        name: "fk_post_user_id_user".into(),
        columns: vec!["user_id".into()],
        ref_table: "user".into(),
        ref_columns: vec!["id".into()],
        on_delete: None,
        online: None,
    };
    let sql = all_dialects(&op);
    assert!(sql.contains(
            "CONSTRAINT \"fk_post_user_id_user\" FOREIGN KEY (\"user_id\") REFERENCES \"user\" (\"id\")\n);"
        ));
    assert!(sql.contains(
            "ALTER TABLE \"post\" ADD CONSTRAINT \"fk_post_user_id_user\" FOREIGN KEY (\"user_id\") REFERENCES \"user\" (\"id\");"
        ));
    assert!(sql.contains("ALTER TABLE `post` ADD CONSTRAINT `fk_post_user_id_user`"));
}

#[test]
fn a_rename_is_native_everywhere() {
    let op = Op::AlterColumn {
        table: "post".into(),
        column: "body".into(),
        ty: None,
        nullable: None,
        set_default: None,
        drop_default: false,
        new_name: Some("text".into()),
        online: None,
    };
    for d in Dialect::ALL {
        assert_eq!(
            d.op_statements(&op, &schema()).unwrap(),
            [format!(
                "ALTER TABLE {} RENAME COLUMN {} TO {}",
                d.quote("post"),
                d.quote("body"),
                d.quote("text")
            )]
        );
    }
}

#[test]
fn sql_variants_replace_the_general_sql_on_their_database() {
    let op = Op::Sql {
        sql: "UPDATE post SET body = ''".into(),
        sqlite: None,
        postgresql: Some("UPDATE post SET body = '' WHERE true".into()),
        mysql: None,
    };
    assert_eq!(
        Dialect::Postgres.op_statements(&op, &schema()).unwrap(),
        ["UPDATE post SET body = '' WHERE true"]
    );
    assert_eq!(
        Dialect::Mysql.op_statements(&op, &schema()).unwrap(),
        ["UPDATE post SET body = ''"]
    );
}

#[test]
fn an_operation_on_a_missing_table_is_an_error_not_sql() {
    let op = Op::DropColumn {
        table: "nope".into(),
        column: "x".into(),
    };
    assert_eq!(
        Dialect::Sqlite.op_statements(&op, &schema()),
        Err(OpError::NoTable("nope".into()))
    );
}
