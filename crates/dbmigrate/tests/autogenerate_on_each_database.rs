//! Autogenerate against real databases: for each kind of change, the comparison reports
//! Alembic's line, its upgrade makes the database equal to the target (so that comparing
//! again finds nothing), its downgrade brings the starting schema back, and rows in the
//! columns the change does not touch survive, on SQLite through table rebuilds.

use diesel::connection::SimpleConnection;
use diesel::sql_types::BigInt;
use diesel::{QueryableByName, RunQueryDsl, sql_query};

use dbmigrate::apply::apply;
use dbmigrate::autogenerate::{compare_with_database, risk_warnings};
use dbmigrate::inspect::inspect;
use dbmigrate::ops::Op;
use dbmigrate::schema::{Column, ColumnType, Schema, Table};
use dbmigrate::testing::TestDb;
use dbmigrate::{AnyConnection, Dialect, connect, on_each_database};

#[path = "autogenerate_on_each_database/cases.rs"]
mod cases;
use cases::{Case, RENAMES, base, cases, column, table};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut AnyConnection, sql: String) -> i64 {
    sql_query(sql).get_result::<Count>(conn).unwrap().n
}

fn with_rows(db: &TestDb) -> AnyConnection {
    let mut conn = connect(&db.url).unwrap();
    apply(
        &mut conn,
        &base().creation_ops(),
        &Schema::default(),
        |_| Ok(()),
    )
    .unwrap();
    let (user, post) = (conn.dialect().quote("user"), conn.dialect().quote("post"));
    conn.batch_execute(&format!(
        "INSERT INTO {user} (username, email, about) VALUES ('john', 'john@example.com', 'john here');
         INSERT INTO {user} (username, email, about) VALUES ('susan', 'susan@example.com', NULL);
         INSERT INTO {post} (body, user_id) VALUES ('my first post!', 1);"
    ))
    .unwrap();
    conn
}

/// The schema as this database can tell it, columns in name order: a column dropped and
/// added back comes back last, which no comparison counts as a difference.
fn comparable(schema: &Schema, dialect: Dialect) -> Schema {
    let mut schema = schema.normalized_for(dialect);
    for table in &mut schema.tables {
        table.columns.sort_by(|a, b| a.name.cmp(&b.name));
    }
    schema
}

fn catalog(conn: &mut AnyConnection) -> Schema {
    let dialect = conn.dialect();
    comparable(&inspect(conn).unwrap(), dialect)
}

fn run_case(dialect: Dialect, case: &Case) {
    let Some(db) = TestDb::new(dialect) else {
        return;
    };
    let context = format!("{} on {dialect}", case.name);
    let mut conn = with_rows(&db);
    let mut target = base();
    (case.change)(&mut target);

    let comparison = compare_with_database(&mut conn, &target, case.options, &[]).unwrap();
    let detected: Vec<&str> = comparison
        .changes
        .iter()
        .map(|c| c.detected.as_str())
        .collect();
    let expected: Vec<String> = case
        .detected
        .iter()
        .map(|line| mysql_spelling(dialect, line))
        .collect();
    assert_eq!(detected, expected, "{context}");

    let before = inspect(&mut conn).unwrap();
    apply(&mut conn, &comparison.upgrade_ops(), &before, |_| Ok(()))
        .unwrap_or_else(|e| panic!("{context}: upgrade: {e}"));
    assert_eq!(
        catalog(&mut conn),
        comparable(&target, dialect),
        "{context}: after upgrade"
    );
    let again = compare_with_database(&mut conn, &target, case.options, &[]).unwrap();
    assert!(
        again.is_empty(),
        "{context}: still different: {:?}",
        again.changes
    );

    let (table, column) = case.usernames_at;
    let q = |name: &str| dialect.quote(name);
    let kept = if column == "about" {
        count(
            &mut conn,
            format!(
                "SELECT COUNT(*) AS n FROM {} WHERE {} = 'john here'",
                q(table),
                q(column)
            ),
        )
    } else {
        count(
            &mut conn,
            format!(
                "SELECT COUNT(*) AS n FROM {} WHERE {} IN ('john', 'susan')",
                q(table),
                q(column)
            ),
        )
    };
    assert_eq!(
        kept,
        if column == "about" { 1 } else { 2 },
        "{context}: rows kept"
    );

    let after = inspect(&mut conn).unwrap();
    apply(&mut conn, &comparison.downgrade_ops(), &after, |_| Ok(()))
        .unwrap_or_else(|e| panic!("{context}: downgrade: {e}"));
    assert_eq!(
        catalog(&mut conn),
        comparable(&base(), dialect),
        "{context}: after downgrade"
    );
    assert!(
        compare_with_database(&mut conn, &base(), case.options, &[])
            .unwrap()
            .is_empty(),
        "{context}"
    );
}

/// MySQL keeps a unique constraint as a unique index, and reports it as one.
fn mysql_spelling(dialect: Dialect, line: &str) -> String {
    if dialect == Dialect::Mysql && line.starts_with("Detected removed unique constraint") {
        line.replace("unique constraint", "index")
    } else {
        line.to_string()
    }
}

on_each_database! {
    fn each_kind_of_change_is_detected_applied_and_undone_with_the_rows_kept(db: &TestDb) {
        for case in cases() {
            run_case(db.dialect(), &case);
        }
    }

    fn a_freshly_built_schema_compares_equal_to_its_models(db: &TestDb) {
        let mut conn = connect(&db.url).unwrap();
        let comparison = compare_with_database(&mut conn, &base(), RENAMES, &[]).unwrap();
        let before = inspect(&mut conn).unwrap();
        apply(&mut conn, &comparison.upgrade_ops(), &before, |_| Ok(())).unwrap();
        assert!(compare_with_database(&mut conn, &base(), RENAMES, &[]).unwrap().is_empty());
    }

    fn risky_changes_are_counted_in_the_live_rows(db: &TestDb) {
        let mut conn = with_rows(db);
        let mut target = base();
        target.tables.retain(|t| t.name != "post");
        column(&mut target, "user", "username").ty = ColumnType::String(Some(4));
        column(&mut target, "user", "about").nullable = false;
        table(&mut target, "user").columns.retain(|c| c.name != "email");
        table(&mut target, "user").indexes.clear();
        let comparison = compare_with_database(&mut conn, &target, RENAMES, &[]).unwrap();
        let warnings = risk_warnings(&mut conn, &comparison).unwrap();
        let expected = [
            "Narrowing 'user.username' from string(64) to string(4): 1 row(s) hold values longer than the new length",
            "Making 'user.about' NOT NULL: 1 row(s) hold NULL there, and the upgrade fails until they do not",
            "Removing column 'user.email' discards its 2 value(s)",
            "Removing table 'post' deletes its 1 row(s)",
        ];
        assert_eq!(warnings, expected);
    }

    fn an_enumeration_gains_and_loses_values_and_holds_to_them(db: &TestDb) {
        let values = |list: &[&str]| ColumnType::Enum(list.iter().map(|v| v.to_string()).collect());
        let start = Schema::new(vec![Table::new("post")
            .id_column("id")
            .column(Column::new("status", values(&["draft", "published"])))]);
        let mut conn = connect(&db.url).unwrap();
        apply(&mut conn, &start.creation_ops(), &Schema::default(), |_| Ok(())).unwrap();
        assert_eq!(catalog(&mut conn), comparable(&start, db.dialect()), "read back as an enumeration");
        assert!(compare_with_database(&mut conn, &start, RENAMES, &[]).unwrap().is_empty());
        let insert = |conn: &mut AnyConnection, value: &str| {
            conn.batch_execute(&format!("INSERT INTO post (status) VALUES ('{value}')"))
        };
        insert(&mut conn, "draft").unwrap();
        assert!(insert(&mut conn, "archived").is_err(), "a value outside the list is refused");

        let mut wider = start.clone();
        column(&mut wider, "post", "status").ty = values(&["draft", "published", "archived"]);
        let added = compare_with_database(&mut conn, &wider, RENAMES, &[]).unwrap();
        let detected: Vec<&str> = added.changes.iter().map(|c| c.detected.as_str()).collect();
        assert_eq!(detected, ["Detected type change from enum('draft', 'published') to enum('draft', 'published', 'archived') on 'post.status'"]);
        assert!(risk_warnings(&mut conn, &added).unwrap().is_empty(), "adding a value risks nothing");
        let live = inspect(&mut conn).unwrap();
        apply(&mut conn, &added.upgrade_ops(), &live, |_| Ok(())).unwrap();
        assert!(compare_with_database(&mut conn, &wider, RENAMES, &[]).unwrap().is_empty());
        insert(&mut conn, "archived").unwrap();

        let removed = compare_with_database(&mut conn, &start, RENAMES, &[]).unwrap();
        assert_eq!(
            risk_warnings(&mut conn, &removed).unwrap(),
            ["Narrowing 'post.status' from enum('draft', 'published', 'archived') to enum('draft', 'published'): 1 row(s) hold values that are not among the new ones"]
        );
        conn.batch_execute("DELETE FROM post WHERE status = 'archived'").unwrap();
        let live = inspect(&mut conn).unwrap();
        apply(&mut conn, &added.downgrade_ops(), &live, |_| Ok(())).unwrap();
        assert_eq!(catalog(&mut conn), comparable(&start, db.dialect()));
        assert!(insert(&mut conn, "archived").is_err());

        let renamed = Op::rename_column("post", "status", "state");
        let live = inspect(&mut conn).unwrap();
        let after = apply(&mut conn, &[renamed], &live, |_| Ok(())).unwrap();
        assert!(compare_with_database(&mut conn, &after, RENAMES, &[]).unwrap().is_empty(), "still an enumeration under its new name");
        let mut wider = after.clone();
        column(&mut wider, "post", "state").ty = values(&["draft", "published", "archived"]);
        let added = compare_with_database(&mut conn, &wider, RENAMES, &[]).unwrap();
        let live = inspect(&mut conn).unwrap();
        apply(&mut conn, &added.upgrade_ops(), &live, |_| Ok(())).unwrap();
        conn.batch_execute("INSERT INTO post (state) VALUES ('archived')").unwrap();
        assert!(conn.batch_execute("INSERT INTO post (state) VALUES ('lost')").is_err());
        assert_eq!(count(&mut conn, "SELECT COUNT(*) AS n FROM post".into()), 2);
    }

    fn a_partial_index_is_made_read_back_and_compared_by_its_condition(db: &TestDb) {
        let mut conn = with_rows(db);
        let partial = |predicate: &str| {
            let mut schema = base();
            table(&mut schema, "post").indexes.push(dbmigrate::Index {
                name: "ix_post_body_live".into(),
                columns: vec!["body".into()],
                unique: false,
                predicate: Some(predicate.into()),
            });
            schema
        };
        let target = partial("user_id IS NOT NULL AND body <> 'draft'");
        let added = compare_with_database(&mut conn, &target, RENAMES, &[]).unwrap();
        let detected: Vec<&str> = added.changes.iter().map(|c| c.detected.as_str()).collect();
        assert_eq!(detected, ["Detected added index 'ix_post_body_live' on '[\"body\"]'"]);
        let live = inspect(&mut conn).unwrap();
        let applied = apply(&mut conn, &added.upgrade_ops(), &live, |_| Ok(()));
        if db.dialect() == Dialect::Mysql {
            let error = applied.unwrap_err().to_string();
            assert!(error.contains("MySQL has no partial indexes"), "{error}");
            return;
        }
        applied.unwrap();
        let read = inspect(&mut conn).unwrap();
        let index = read.table("post").unwrap().indexes.iter().find(|i| i.name == "ix_post_body_live").cloned().unwrap();
        assert!(index.predicate.is_some(), "{index:?}");
        assert!(compare_with_database(&mut conn, &target, RENAMES, &[]).unwrap().is_empty(), "the condition as the database tells it is the same condition");

        let other = partial("user_id IS NULL");
        let changed = compare_with_database(&mut conn, &other, RENAMES, &[]).unwrap();
        let detected: Vec<&str> = changed.changes.iter().map(|c| c.detected.as_str()).collect();
        assert_eq!(detected, [
            "Detected removed index 'ix_post_body_live' on 'post'",
            "Detected added index 'ix_post_body_live' on '[\"body\"]'",
        ]);
        let live = inspect(&mut conn).unwrap();
        apply(&mut conn, &added.downgrade_ops(), &live, |_| Ok(())).unwrap();
        assert!(compare_with_database(&mut conn, &base(), RENAMES, &[]).unwrap().is_empty());
    }

    fn a_check_constraint_is_added_read_back_changed_and_undone(db: &TestDb) {
        let mut conn = with_rows(db);
        let checked = |condition: &str| {
            let mut schema = base();
            table(&mut schema, "post").check_constraints.push(dbmigrate::schema::CheckConstraint {
                name: "ck_post_body_filled".into(),
                condition: condition.into(),
            });
            schema
        };
        let target = checked("body <> '' AND user_id > 0");
        let added = compare_with_database(&mut conn, &target, RENAMES, &[]).unwrap();
        let detected: Vec<&str> = added.changes.iter().map(|c| c.detected.as_str()).collect();
        assert_eq!(detected, ["Detected added check constraint 'ck_post_body_filled' on 'post'"]);
        let live = inspect(&mut conn).unwrap();
        apply(&mut conn, &added.upgrade_ops(), &live, |_| Ok(())).unwrap();
        let read = inspect(&mut conn).unwrap();
        let names: Vec<&str> = read.table("post").unwrap().check_constraints.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["ck_post_body_filled"]);
        assert!(compare_with_database(&mut conn, &target, RENAMES, &[]).unwrap().is_empty(), "the condition as the database tells it is the same condition");
        assert!(conn.batch_execute("INSERT INTO post (body, user_id) VALUES ('', 1)").is_err(), "the check holds");
        assert_eq!(count(&mut conn, "SELECT COUNT(*) AS n FROM post".into()), 1, "the row was kept");

        let changed = compare_with_database(&mut conn, &checked("user_id > 1"), RENAMES, &[]).unwrap();
        let detected: Vec<&str> = changed.changes.iter().map(|c| c.detected.as_str()).collect();
        assert_eq!(detected, [
            "Detected removed check constraint 'ck_post_body_filled' on 'post'",
            "Detected added check constraint 'ck_post_body_filled' on 'post'",
        ]);
        let live = inspect(&mut conn).unwrap();
        apply(&mut conn, &added.downgrade_ops(), &live, |_| Ok(())).unwrap();
        assert!(compare_with_database(&mut conn, &base(), RENAMES, &[]).unwrap().is_empty());
        conn.batch_execute("INSERT INTO post (body, user_id) VALUES ('', 1)").unwrap();
    }

    fn a_table_of_types_outside_the_vocabulary_is_dropped_and_made_again_as_it_was(db: &TestDb) {
        let (ddl, types): (&str, &[&str]) = match db.dialect() {
            Dialect::Postgres => (
                "CREATE TYPE mood AS ENUM ('sad', 'happy');
                 CREATE TABLE legacy (id uuid, doc jsonb, at timestamp with time zone, feeling mood, tags _int4)",
                &["uuid", "jsonb", "timestamp with time zone", "mood", "_int4"],
            ),
            Dialect::Mysql => (
                "CREATE TABLE legacy (made year, flags bit(3), address inet6)",
                &["year(4)", "bit(3)", "inet6"],
            ),
            Dialect::Sqlite => ("CREATE TABLE legacy (id UUID, doc JSONB)", &["UUID", "JSONB"]),
        };
        let mut conn = connect(&db.url).unwrap();
        conn.batch_execute(ddl).unwrap();
        let live = inspect(&mut conn).unwrap();
        let read: Vec<ColumnType> = live.table("legacy").unwrap().columns.iter().map(|c| c.ty.clone()).collect();
        let expected: Vec<ColumnType> = types.iter().map(|t| ColumnType::Native(t.to_string())).collect();
        assert_eq!(read, expected);

        let comparison = compare_with_database(&mut conn, &Schema::default(), RENAMES, &[]).unwrap();
        let revision = dbmigrate::autogenerate::revision_for(&comparison, "drop legacy", vec![], "");
        let text = revision.to_toml();
        let revision = dbmigrate::Revision::parse(&text, "drop.toml").unwrap();
        let dropped = apply(&mut conn, &revision.upgrade, &live, |_| Ok(())).unwrap();
        assert!(dropped.table("legacy").is_none());
        apply(&mut conn, &revision.downgrade, &dropped, |_| Ok(())).unwrap();
        assert_eq!(catalog(&mut conn), comparable(&live, db.dialect()), "made again from the file: {text}");
    }
}

#[test]
fn a_foreign_key_without_an_index_gets_a_hint() {
    let comparison = dbmigrate::compare::compare(&Schema::default(), &base(), RENAMES);
    assert_eq!(comparison.hints.len(), 1, "{:?}", comparison.hints);
    assert!(comparison.hints[0].starts_with("Foreign key column 'post.user_id' has no index"));
}
