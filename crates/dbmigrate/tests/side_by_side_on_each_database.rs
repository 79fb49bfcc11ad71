//! Two releases side by side. On PostgreSQL a revision that renames, retypes or drops what
//! the release serving reads runs in two phases: after `db upgrade` (expand) the release
//! built for the parent reads and writes the tables as they were while the release built
//! for the revision reads and writes its own shape through a schema of views, each seeing
//! the other's rows; `db contract` then leaves the new shape alone; `db downgrade` of an
//! expanded revision keeps what the new release wrote. On SQLite and MySQL such a revision
//! runs in one go, as it always did (MySQL says the site must be stopped for it).

use std::collections::BTreeSet;

use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl, sql_query};

use dbmigrate::apply::Notice;
use dbmigrate::autogenerate::compare_with_database;
use dbmigrate::compare::CompareOptions;
use dbmigrate::migrate::{self, DowngradeTarget, Event, MigrateError, Options, UpgradeTarget};
use dbmigrate::ops::Op;
use dbmigrate::schema::{Column, ColumnType, Table};
use dbmigrate::testing::{TestDb, repository, revision_file};
use dbmigrate::{AnyConnection, Dialect, Repository, connect, on_each_database};

/// `user (id)` and `post (id, body NOT NULL, user_id → user, indexed)`, as revision `a1`.
fn tables() -> String {
    let user = Table::new("user").id_column("id");
    let post = Table::new("post")
        .id_column("id")
        .column(Column::new("body", ColumnType::String(Some(140))).not_null())
        .column(Column::new("user_id", ColumnType::Integer))
        .foreign_key("user_id", "user", "id")
        .index("user_id", false);
    let mut ops = user.creation_ops();
    ops.extend(post.creation_ops());
    let drops = ["post", "user"].map(|t| Op::DropTable { table: t.into() });
    revision_file("a1", &[], "a1", ops, drops.to_vec())
}

fn retype(to: ColumnType) -> Op {
    Op::AlterColumn {
        table: "post".into(),
        column: "user_id".into(),
        ty: Some(to),
        nullable: None,
        set_default: None,
        drop_default: false,
        new_name: None,
        online: None,
    }
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Text)]
    text: String,
}

fn rows(conn: &mut AnyConnection, sql: &str) -> Vec<(i64, String)> {
    sql_query(sql)
        .load::<Row>(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|r| (r.n, r.text))
        .collect()
}

/// A database at `a1`, one user and one post.
fn at_a1(db: &TestDb, repo: &Repository) -> AnyConnection {
    let mut conn = connect(&db.url).unwrap();
    let a1 = UpgradeTarget::Revision("a1".into());
    migrate::upgrade(&mut conn, &db.url, repo, &a1, |_| {}).unwrap();
    let user = db.dialect().quote("user");
    conn.batch_execute(&format!(
        "INSERT INTO {user} (id) VALUES (1); INSERT INTO post (body, user_id) VALUES ('first', 1)"
    ))
    .unwrap();
    conn
}

/// Upgrades to the head, and what was noticed.
fn upgrade(db: &TestDb, repo: &Repository) -> Vec<Notice> {
    let mut notices = Vec::new();
    let mut conn = connect(&db.url).unwrap();
    migrate::upgrade_with(
        &mut conn,
        &db.url,
        repo,
        &UpgradeTarget::Head,
        &Options::default(),
        |e| {
            if let Event::Notice(n) = e {
                notices.push(n.clone());
            }
        },
    )
    .unwrap();
    notices
}

/// A connection as the release built for the repository's head opens it.
fn new_release(db: &TestDb, repo: &Repository) -> AnyConnection {
    let mut conn = connect(&db.url).unwrap();
    if let Some(setup) = dbmigrate::cli::session_setup(&mut conn, repo).unwrap() {
        conn.batch_execute(&setup).unwrap();
    }
    conn
}

fn contract(db: &TestDb, repo: &Repository) -> Vec<String> {
    let mut conn = connect(&db.url).unwrap();
    migrate::contract(&mut conn, &db.url, repo, &Options::default(), |_| {}).unwrap()
}

fn assert_schema_is_the_repositorys(db: &TestDb, repo: &Repository) {
    let mut conn = connect(&db.url).unwrap();
    let applied = migrate::status(&mut conn, repo).unwrap().applied;
    let expected = migrate::replay(repo, &applied).unwrap();
    let differences =
        compare_with_database(&mut conn, &expected, CompareOptions::default(), &[]).unwrap();
    assert!(differences.is_empty(), "{:?}", differences.changes);
}

on_each_database! {
    fn a_renamed_column_serves_both_releases_until_the_contract(db: &TestDb) {
        let rename = revision_file("b2", &["a1"], "b2", vec![Op::rename_column("post", "body", "text")], vec![Op::rename_column("post", "text", "body")]);
        let repo = repository(&[tables(), rename]);
        let mut old = at_a1(db, &repo);
        let notices = upgrade(db, &repo);
        if db.dialect() != Dialect::Postgres {
            if db.dialect() == Dialect::Mysql {
                assert!(notices.iter().any(|n| matches!(n, Notice::NotSideBySide { .. })), "{notices:?}");
            }
            assert_schema_is_the_repositorys(db, &repo);
            return;
        }
        assert!(notices.iter().any(|n| matches!(n, Notice::Expanded { .. })), "{notices:?}");
        let mut new = new_release(db, &repo);
        old.batch_execute("INSERT INTO post (body, user_id) VALUES ('from the old release', 1)").unwrap();
        new.batch_execute("INSERT INTO post (text, user_id) VALUES ('from the new release', 1)").unwrap();
        let everything = ["first", "from the old release", "from the new release"].map(String::from);
        let read = |conn: &mut AnyConnection, column: &str| -> Vec<String> {
            rows(conn, &format!("SELECT id::bigint AS n, {column} AS text FROM post ORDER BY id")).into_iter().map(|r| r.1).collect()
        };
        assert_eq!(read(&mut old, "body"), everything, "the old release reads every row");
        assert_eq!(read(&mut new, "text"), everything, "the new release reads every row");
        let mut conn = connect(&db.url).unwrap();
        let later = revision_file("c3", &["b2"], "c3", vec![], vec![]);
        let refused = migrate::upgrade(&mut conn, &db.url, &repository(&[tables(), revision_file("b2", &["a1"], "b2", vec![Op::rename_column("post", "body", "text")], vec![Op::rename_column("post", "text", "body")]), later]), &UpgradeTarget::Head, |_| {});
        assert!(matches!(refused, Err(MigrateError::ContractPending(ref id)) if id == "b2"), "{refused:?}");

        assert_eq!(contract(db, &repo), ["b2"]);
        assert_eq!(read(&mut new, "text"), everything, "the new release goes on, through the table now");
        assert!(old.batch_execute("SELECT body FROM post").is_err(), "the old shape is gone");
        assert_schema_is_the_repositorys(db, &repo);
        assert!(contract(db, &repo).is_empty(), "nothing left to contract");
    }

    fn a_retyped_column_is_kept_in_step_both_ways_until_the_contract(db: &TestDb) {
        let widen = revision_file("b2", &["a1"], "b2", vec![retype(ColumnType::BigInteger)], vec![retype(ColumnType::Integer)]);
        let repo = repository(&[tables(), widen]);
        let mut old = at_a1(db, &repo);
        let user = db.dialect().quote("user");
        old.batch_execute(&format!("INSERT INTO {user} (id) VALUES (2)")).unwrap();
        if db.dialect() == Dialect::Mysql {
            // MySQL keeps a foreign key's columns of one type with the columns it references.
            let mut conn = connect(&db.url).unwrap();
            let refused = migrate::upgrade(&mut conn, &db.url, &repo, &UpgradeTarget::Head, |_| {}).unwrap_err();
            assert!(refused.to_string().contains("used in a foreign key constraint"), "{refused}");
            assert_eq!(migrate::status(&mut conn, &repo).unwrap().applied, BTreeSet::from(["a1".to_string()]));
            assert_schema_is_the_repositorys(db, &repo);
            return;
        }
        upgrade(db, &repo);
        if db.dialect() == Dialect::Sqlite {
            assert_schema_is_the_repositorys(db, &repo);
            return;
        }
        let mut new = new_release(db, &repo);
        old.batch_execute("INSERT INTO post (body, user_id) VALUES ('old', 1)").unwrap();
        new.batch_execute("INSERT INTO post (body, user_id) VALUES ('new', 2)").unwrap();
        let kinds = rows(&mut new, "SELECT COUNT(*) AS n, pg_typeof(user_id)::text AS text FROM post GROUP BY 2");
        assert_eq!(kinds, [(3, "bigint".to_string())], "the new release reads bigints");
        let old_kinds = rows(&mut old, "SELECT COUNT(*) AS n, pg_typeof(user_id)::text AS text FROM post GROUP BY 2");
        assert_eq!(old_kinds, [(3, "integer".to_string())], "the old release reads integers");
        let by_author = |conn: &mut AnyConnection| rows(conn, "SELECT user_id::bigint AS n, body AS text FROM post ORDER BY id");
        assert_eq!(by_author(&mut old), by_author(&mut new), "each wrote into both");
        old.batch_execute("UPDATE post SET user_id = 2 WHERE body = 'first'").unwrap();
        assert_eq!(by_author(&mut old), by_author(&mut new), "an update too");
        assert!(new.batch_execute("INSERT INTO post (body, user_id) VALUES ('nobody', 99)").is_err(), "the key holds on the new column");

        contract(db, &repo);
        assert_schema_is_the_repositorys(db, &repo);
        assert_eq!(rows(&mut new, "SELECT COUNT(*) AS n, pg_typeof(user_id)::text AS text FROM post GROUP BY 2"), [(3, "bigint".to_string())]);
    }

    fn a_dropped_column_stays_for_the_old_release_with_a_value_for_the_new_releases_rows(db: &TestDb) {
        let drop = revision_file("b2", &["a1"], "b2", vec![Op::DropColumn { table: "post".into(), column: "body".into() }], vec![]);
        let repo = repository(&[tables(), drop]);
        let mut old = at_a1(db, &repo);
        upgrade(db, &repo);
        if db.dialect() != Dialect::Postgres {
            assert_schema_is_the_repositorys(db, &repo);
            return;
        }
        let mut new = new_release(db, &repo);
        new.batch_execute("INSERT INTO post (user_id) VALUES (1)").unwrap();
        let bodies = rows(&mut old, "SELECT id::bigint AS n, body AS text FROM post ORDER BY id");
        assert_eq!(bodies.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(), ["first", ""]);
        contract(db, &repo);
        assert_schema_is_the_repositorys(db, &repo);
    }

    fn downgrading_an_expanded_revision_keeps_what_the_new_release_wrote(db: &TestDb) {
        let rename = revision_file("b2", &["a1"], "b2", vec![Op::rename_column("post", "body", "text")], vec![Op::rename_column("post", "text", "body")]);
        let repo = repository(&[tables(), rename]);
        let mut old = at_a1(db, &repo);
        upgrade(db, &repo);
        if db.dialect() == Dialect::Postgres {
            let mut new = new_release(db, &repo);
            new.batch_execute("INSERT INTO post (text, user_id) VALUES ('from the new release', 1)").unwrap();
        }
        let mut conn = connect(&db.url).unwrap();
        let down = migrate::downgrade(&mut conn, &db.url, &repo, &DowngradeTarget::Relative(1), |_| {}).unwrap();
        assert_eq!(down, ["b2"]);
        assert_eq!(migrate::status(&mut conn, &repo).unwrap().applied, BTreeSet::from(["a1".to_string()]));
        assert_schema_is_the_repositorys(db, &repo);
        let bodies = rows(&mut old, "SELECT COUNT(*) AS n, MIN(body) AS text FROM post");
        let expected = if db.dialect() == Dialect::Postgres { 2 } else { 1 };
        assert_eq!(bodies[0].0, expected, "every row is there, in the old shape");
        assert!(dbmigrate::cli::session_setup(&mut conn, &repo).unwrap().is_none(), "no schema of views is left to read through");
    }
}
