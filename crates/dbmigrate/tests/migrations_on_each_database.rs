//! Revisions run against real databases: upgrade and downgrade move the catalog and the
//! history together, a failing revision leaves the database where it was (or, on MySQL,
//! says exactly what stayed), the lock keeps two runs from applying anything twice, and the
//! offline script builds the same schema as a live run.

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::sql_types::BigInt;
use diesel::{QueryableByName, RunQueryDsl, sql_query};

use dbmigrate::inspect::inspect;
use dbmigrate::lock::MigrationLock;
use dbmigrate::migrate::{self, DowngradeTarget, Event, MigrateError, UpgradeTarget};
use dbmigrate::ops::Op;
use dbmigrate::schema::{Column, ColumnType, Table};
use dbmigrate::testing::{TestDb, assert_catalog_is, repository, revision_file};
use dbmigrate::{AnyConnection, Dialect, Repository, connect, on_each_database};

fn drop_table(table: &str) -> Op {
    Op::DropTable {
        table: table.into(),
    }
}

fn users_table() -> String {
    let user = Table::new("user")
        .id_column("id")
        .column(Column::new("username", ColumnType::String(Some(64))))
        .index("username", true);
    revision_file(
        "a1",
        &[],
        "users table",
        user.creation_ops(),
        vec![drop_table("user")],
    )
}

fn posts_table() -> String {
    let post = Table::new("post")
        .id_column("id")
        .column(Column::new("body", ColumnType::String(Some(140))))
        .column(Column::new("user_id", ColumnType::Integer))
        .foreign_key("user_id", "user", "id");
    revision_file(
        "b2",
        &["a1"],
        "posts table",
        post.creation_ops(),
        vec![drop_table("post")],
    )
}

fn about_me() -> String {
    let add = Op::AddColumn {
        table: "user".into(),
        column: Column::new("about_me", ColumnType::String(Some(140))),
        online: None,
    };
    let drop = Op::DropColumn {
        table: "user".into(),
        column: "about_me".into(),
    };
    revision_file("c3", &["b2"], "about me", vec![add], vec![drop])
}

fn chapter_repository() -> Repository {
    repository(&[users_table(), posts_table(), about_me()])
}

fn quiet(_: Event) {}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn applied(conn: &mut AnyConnection, repo: &Repository) -> BTreeSet<String> {
    migrate::status(conn, repo).unwrap().applied
}

fn assert_schema_matches(conn: &mut AnyConnection, repo: &Repository, context: &str) {
    let expected = migrate::replay(repo, &applied(conn, repo)).unwrap();
    assert_catalog_is(conn, &expected, context);
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count_users(conn: &mut AnyConnection) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM {}", conn.dialect().quote("user"));
    sql_query(sql).load::<Count>(conn).unwrap()[0].n
}

on_each_database! {
    fn upgrade_and_downgrade_move_schema_and_history_together(db: &TestDb) {
        let repo = chapter_repository();
        let mut conn = connect(&db.url).unwrap();
        let mut lines = Vec::new();
        let done = migrate::upgrade(&mut conn, &db.url, &repo, &UpgradeTarget::Relative(2), |e| {
            if let Event::Started(step) = e {
                lines.push(step.to_string());
            }
        })
        .unwrap();
        assert_eq!(done, ids(&["a1", "b2"]));
        assert_eq!(lines, ["Running upgrade  -> a1, users table", "Running upgrade a1 -> b2, posts table"]);
        assert_schema_matches(&mut conn, &repo, "at b2");
        let user = conn.dialect().quote("user");
        conn.batch_execute(&format!("INSERT INTO {user} (username) VALUES ('john')")).unwrap();

        let done = migrate::upgrade(&mut conn, &db.url, &repo, &UpgradeTarget::Head, quiet).unwrap();
        assert_eq!(done, ids(&["c3"]));
        let status = migrate::status(&mut conn, &repo).unwrap();
        assert!(status.is_at_head(&repo));
        assert_eq!(status.current, ids(&["c3"]));
        assert_schema_matches(&mut conn, &repo, "at head");
        assert!(migrate::upgrade(&mut conn, &db.url, &repo, &UpgradeTarget::Head, quiet).unwrap().is_empty());

        let undone = migrate::downgrade(&mut conn, &db.url, &repo, &DowngradeTarget::Relative(1), quiet).unwrap();
        assert_eq!(undone, ids(&["c3"]));
        assert_schema_matches(&mut conn, &repo, "back at b2");
        assert_eq!(count_users(&mut conn), 1, "the rows of a table the downgrade did not drop stay");

        let undone = migrate::downgrade(&mut conn, &db.url, &repo, &DowngradeTarget::Base, quiet).unwrap();
        assert_eq!(undone, ids(&["b2", "a1"]));
        assert!(inspect(&mut conn).unwrap().tables.is_empty());
        assert_eq!(migrate::status(&mut conn, &repo).unwrap().position(), "<base>");
    }

    fn a_revision_that_fails_part_way_is_undone_and_not_recorded(db: &TestDb) {
        let broken = revision_file(
            "c3",
            &["b2"],
            "broken",
            vec![
                Op::AddColumn { table: "user".into(), column: Column::new("about_me", ColumnType::Text), online: None },
                Op::Sql { sql: "UPDATE no_such_table SET x = 1".into(), sqlite: None, postgresql: None, mysql: None },
            ],
            vec![],
        );
        let repo = repository(&[users_table(), posts_table(), broken]);
        let mut conn = connect(&db.url).unwrap();
        let error = migrate::upgrade(&mut conn, &db.url, &repo, &UpgradeTarget::Head, quiet).unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, MigrateError::StepFailed(ref f) if f.revision == "c3"), "{message}");
        assert!(message.contains("operation 2") && message.contains("no_such_table"), "{message}");
        assert_eq!(applied(&mut conn, &repo), BTreeSet::from(["a1".to_string(), "b2".to_string()]));
        // MySQL commits the added column at once: it is dropped again.
        let about_me_exists = inspect(&mut conn).unwrap().table("user").unwrap().find_column("about_me").is_some();
        assert!(!about_me_exists, "nothing of the revision stays");
        assert!(message.contains("still at b2"), "{message}");
    }

    fn a_second_run_waits_for_the_lock_and_applies_nothing_twice(db: &TestDb) {
        let repo = chapter_repository();
        let mut holder = connect(&db.url).unwrap();
        let lock = MigrationLock::acquire(&mut holder, &db.url, || panic!("nobody else holds it")).unwrap();
        let (waiting_tx, waiting_rx) = mpsc::channel();
        let runs: Vec<_> = (0..2)
            .map(|_| {
                let (url, repo, waiting) = (db.url.clone(), repo.clone(), waiting_tx.clone());
                std::thread::spawn(move || {
                    let mut conn = connect(&url).unwrap();
                    migrate::upgrade(&mut conn, &url, &repo, &UpgradeTarget::Head, |e| {
                        if let Event::WaitingForLock = e {
                            waiting.send(()).unwrap();
                        }
                    })
                    .unwrap()
                })
            })
            .collect();
        for _ in 0..2 {
            waiting_rx.recv_timeout(Duration::from_secs(30)).expect("both runs wait for the lock");
        }
        lock.release(&mut holder).unwrap();
        let mut all: Vec<String> = runs.into_iter().flat_map(|run| run.join().unwrap()).collect();
        all.sort();
        assert_eq!(all, ids(&["a1", "b2", "c3"]), "each revision applied exactly once");
    }

    fn a_database_ahead_of_the_repository_is_refused_until_stamped(db: &TestDb) {
        let mut conn = connect(&db.url).unwrap();
        migrate::upgrade(&mut conn, &db.url, &chapter_repository(), &UpgradeTarget::Head, quiet).unwrap();
        let older = repository(&[users_table(), posts_table()]);
        let error = migrate::upgrade(&mut conn, &db.url, &older, &UpgradeTarget::Head, quiet).unwrap_err();
        assert!(error.to_string().contains("revision c3"), "{error}");
        assert!(matches!(error, MigrateError::UnknownApplied { .. }), "{error}");
        assert!(migrate::stamp(&mut conn, &db.url, &older, &ids(&["head"]), false, quiet).is_err());
        let (before, after) = migrate::stamp(&mut conn, &db.url, &older, &ids(&["head"]), true, quiet).unwrap();
        assert_eq!((before.as_str(), after.as_str()), ("b2, c3", "b2"));
        assert!(migrate::status(&mut conn, &older).unwrap().is_at_head(&older));
    }

    fn tables_without_history_are_not_touched(db: &TestDb) {
        let repo = chapter_repository();
        let mut conn = connect(&db.url).unwrap();
        let user = conn.dialect().quote("user");
        conn.batch_execute(&format!("CREATE TABLE {user} (id INTEGER PRIMARY KEY, username VARCHAR(64))")).unwrap();
        conn.batch_execute(&format!("INSERT INTO {user} (id, username) VALUES (1, 'john')")).unwrap();
        let error = migrate::upgrade(&mut conn, &db.url, &repo, &UpgradeTarget::Head, quiet).unwrap_err();
        assert!(matches!(error, MigrateError::TablesWithoutHistory { ref tables, .. } if tables == &ids(&["user"])), "{error}");
        assert_eq!(count_users(&mut conn), 1);
        migrate::stamp(&mut conn, &db.url, &repository(&[users_table()]), &ids(&["a1"]), false, quiet).unwrap();
        assert_eq!(applied(&mut conn, &repo), BTreeSet::from(["a1".to_string()]));
    }

    fn an_applied_file_edited_since_is_reported(db: &TestDb) {
        let mut conn = connect(&db.url).unwrap();
        migrate::upgrade(&mut conn, &db.url, &repository(&[users_table()]), &UpgradeTarget::Head, quiet).unwrap();
        let edited = repository(&[users_table().replace("users table", "users"), posts_table()]);
        let mut reported = Vec::new();
        migrate::upgrade(&mut conn, &db.url, &edited, &UpgradeTarget::Head, |e| {
            if let Event::Edited(r) = e {
                reported.push(r.id.clone());
            }
        })
        .unwrap();
        assert_eq!(reported, ids(&["a1"]));
        assert_eq!(migrate::status(&mut conn, &edited).unwrap().edited, ids(&["a1"]));
    }

    fn the_offline_script_builds_what_a_live_run_builds(db: &TestDb) {
        let repo = chapter_repository();
        let script = migrate::upgrade_sql(&repo, db.dialect(), None, &UpgradeTarget::Head, &Default::default()).unwrap();
        let mut conn = connect(&db.url).unwrap();
        conn.batch_execute(&script).unwrap();
        assert!(migrate::status(&mut conn, &repo).unwrap().is_at_head(&repo));
        assert_schema_matches(&mut conn, &repo, "after the script");
        let back = migrate::downgrade_sql(&repo, db.dialect(), "c3", &DowngradeTarget::Revision("a1".into()), &Default::default()).unwrap();
        conn.batch_execute(&back).unwrap();
        assert_eq!(applied(&mut conn, &repo), BTreeSet::from(["a1".to_string()]));
        assert_schema_matches(&mut conn, &repo, "after the downgrade script");
    }

    fn a_revision_without_downgrade_operations_is_not_undone(db: &TestDb) {
        let one_way = revision_file("b2", &["a1"], "one way", vec![drop_table("user")], vec![]);
        let repo = repository(&[users_table(), one_way]);
        let mut conn = connect(&db.url).unwrap();
        migrate::upgrade(&mut conn, &db.url, &repo, &UpgradeTarget::Head, quiet).unwrap();
        let error = migrate::downgrade(&mut conn, &db.url, &repo, &DowngradeTarget::Base, quiet).unwrap_err();
        assert!(matches!(error, MigrateError::NoDowngrade { ref revision, .. } if revision == "b2"), "{error}");
        assert_eq!(applied(&mut conn, &repo).len(), 2, "nothing was undone");
    }
}

#[test]
fn merged_branches_upgrade_through_both_and_downgrade_to_two_heads() {
    let side = revision_file("b3", &["a1"], "side", vec![], vec![]);
    let merge = revision_file("d4", &["b2", "b3"], "merge", vec![], vec![]);
    let repo = repository(&[users_table(), posts_table(), side, merge]);
    let db = TestDb::new(Dialect::Sqlite).unwrap();
    let mut conn = connect(&db.url).unwrap();
    let done = migrate::upgrade(&mut conn, &db.url, &repo, &UpgradeTarget::Head, quiet).unwrap();
    assert_eq!(done, ids(&["a1", "b2", "b3", "d4"]));
    migrate::downgrade(
        &mut conn,
        &db.url,
        &repo,
        &DowngradeTarget::Relative(1),
        quiet,
    )
    .unwrap();
    assert_eq!(
        migrate::status(&mut conn, &repo).unwrap().current,
        ids(&["b2", "b3"])
    );
    assert!(inspect(&mut conn).unwrap().table("post").is_some());
}
