//! Revisions run while other sessions use the database. A migration whose table another
//! session holds stays out of the lock's queue (the site's queries are not kept waiting),
//! says who holds it, runs once it is let go, and fails cleanly when it never is. On
//! PostgreSQL the forms that keep the site running build the catalog the revision says,
//! validated; a step that fails undoes what the steps before it did.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Bool};
use diesel::{QueryableByName, RunQueryDsl, sql_query};

use dbmigrate::apply::{ApplyError, LockPolicy, Notice};
use dbmigrate::autogenerate::compare_with_database;
use dbmigrate::compare::CompareOptions;
use dbmigrate::inspect::inspect;
use dbmigrate::migrate::{self, Event, MigrateError, UpgradeTarget};
use dbmigrate::ops::Op;
use dbmigrate::schema::{Column, ColumnType, Table};
use dbmigrate::testing::{TestDb, assert_catalog_is, repository, revision_file};
use dbmigrate::{AnyConnection, Dialect, Repository, Timeouts, connect, on_each_database};

/// `account (id, name, code)` and `note (id, account_id, body)`, as revision `a1`.
fn tables() -> String {
    let account = Table::new("account")
        .id_column("id")
        .column(Column::new("name", ColumnType::String(Some(64))))
        .column(Column::new("code", ColumnType::Integer));
    let note = Table::new("note")
        .id_column("id")
        .column(Column::new("account_id", ColumnType::Integer))
        .column(Column::new("body", ColumnType::String(Some(100))));
    let mut ops = account.creation_ops();
    ops.extend(note.creation_ops());
    let drops = ["note", "account"].map(|t| Op::DropTable { table: t.into() });
    revision_file("a1", &[], "a1", ops, drops.to_vec())
}

fn add_column(table: &str, column: Column) -> Op {
    Op::AddColumn {
        table: table.into(),
        column,
        online: None,
    }
}

fn about_me() -> (Op, Op) {
    let add = add_column("account", Column::new("about_me", ColumnType::Text));
    let drop = Op::DropColumn {
        table: "account".into(),
        column: "about_me".into(),
    };
    (add, drop)
}

/// Short waits, so that a test sees several tries in a second or two.
fn quick(retries: u32) -> LockPolicy {
    LockPolicy {
        timeout: Duration::from_millis(300),
        retries,
        first_pause: Duration::from_millis(100),
        longest_pause: Duration::from_millis(300),
    }
}

#[derive(QueryableByName)]
struct Number {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn number(conn: &mut AnyConnection, sql: &str) -> i64 {
    sql_query(sql).get_result::<Number>(conn).unwrap().n
}

/// A session in a transaction that has read `account` (or, on SQLite, holds the write
/// lock), as a report or a console left open would; and its id on the server.
fn holder(db: &TestDb) -> (AnyConnection, Option<i64>) {
    let mut conn = connect(&db.url).unwrap();
    let id = match db.dialect() {
        Dialect::Postgres => Some(number(&mut conn, "SELECT pg_backend_pid()::bigint AS n")),
        Dialect::Mysql => Some(number(
            &mut conn,
            "SELECT CAST(CONNECTION_ID() AS SIGNED) AS n",
        )),
        Dialect::Sqlite => None,
    };
    match db.dialect() {
        Dialect::Sqlite => conn
            .batch_execute("BEGIN IMMEDIATE; UPDATE account SET code = code WHERE 1 = 0")
            .unwrap(),
        _ => {
            conn.batch_execute("BEGIN").unwrap();
            number(&mut conn, "SELECT COUNT(*) AS n FROM account");
        }
    }
    // Long enough that it is not taken for one of the site's own short transactions.
    std::thread::sleep(Duration::from_millis(200));
    (conn, id)
}

fn upgrade_noting(
    db: &TestDb,
    repo: &Repository,
    policy: &LockPolicy,
) -> (Result<Vec<String>, MigrateError>, Vec<Notice>) {
    let mut conn = connect(&db.url).unwrap();
    let mut notices = Vec::new();
    let options = migrate::Options {
        policy: *policy,
        ..Default::default()
    };
    let result = migrate::upgrade_with(
        &mut conn,
        &db.url,
        repo,
        &UpgradeTarget::Head,
        &options,
        |e| {
            if let Event::Notice(notice) = e {
                notices.push(notice.clone());
            }
        },
    );
    (result, notices)
}

fn at_a1(db: &TestDb, repo: &Repository) {
    let mut conn = connect(&db.url).unwrap();
    let target = UpgradeTarget::Revision("a1".into());
    migrate::upgrade(&mut conn, &db.url, repo, &target, |_| {}).unwrap();
    conn.batch_execute("INSERT INTO account (name, code) VALUES ('ann', 1), ('bob', 2)")
        .unwrap();
    conn.batch_execute("INSERT INTO note (account_id, body) VALUES (1, 'hello'), (2, 'world')")
        .unwrap();
}

fn applied(db: &TestDb, repo: &Repository) -> BTreeSet<String> {
    migrate::status(&mut connect(&db.url).unwrap(), repo)
        .unwrap()
        .applied
}

on_each_database! {
    fn a_revision_waits_out_of_the_lock_queue_while_a_session_holds_its_table_then_runs(db: &TestDb) {
        let (add, drop) = about_me();
        let repo = repository(&[tables(), revision_file("b2", &["a1"], "b2", vec![add], vec![drop])]);
        at_a1(db, &repo);
        let (mut held, holder_id) = holder(db);
        let (let_go, when) = mpsc::channel::<()>();
        let releasing = std::thread::spawn(move || {
            when.recv().unwrap();
            // Longer than one try waits anywhere (MySQL counts whole seconds).
            std::thread::sleep(Duration::from_millis(1500));
            held.batch_execute("COMMIT").unwrap();
        });
        // The site meanwhile: reads of the held table that must never wait long.
        let migrating = Arc::new(AtomicBool::new(true));
        let reads = {
            let (url, migrating) = (db.url.clone(), migrating.clone());
            let timeouts = Timeouts { wait: Duration::from_secs(5), statement: Some(Duration::from_secs(5)) };
            std::thread::spawn(move || {
                let mut site = dbmigrate::connection::connect_with(&url, timeouts).unwrap();
                if site.dialect() == Dialect::Postgres {
                    // A read fails only for waiting on a lock: a busy machine may make a read
                    // slow, and that is not what this test is about.
                    site.batch_execute("SET lock_timeout = '250ms'").unwrap();
                }
                let mut failed = 0;
                while migrating.load(Ordering::Relaxed) {
                    failed += usize::from(site.batch_execute("SELECT COUNT(*) FROM account").is_err());
                    std::thread::sleep(Duration::from_millis(20));
                }
                failed
            })
        };
        let_go.send(()).unwrap();
        let (result, notices) = upgrade_noting(db, &repo, &quick(20));
        migrating.store(false, Ordering::Relaxed);
        releasing.join().unwrap();
        let failed_reads = reads.join().unwrap();
        assert_eq!(result.unwrap(), ["b2"]);
        let waits: Vec<_> = notices
            .iter()
            .filter_map(|n| match n {
                Notice::LockBusy(wait) => Some(wait),
                _ => None,
            })
            .collect();
        assert!(!waits.is_empty(), "it waited for the lock: {notices:?}");
        let said = waits[0].to_string();
        assert!(said.contains("'account'") && said.contains("the site is not waiting"), "{said}");
        if let Some(id) = holder_id {
            assert!(waits.iter().any(|w| w.holders.iter().any(|h| h.pid == id)), "the holder is named: {said}");
            assert!(said.contains(&format!("session {id} (")), "{said}");
        }
        if db.dialect() == Dialect::Postgres {
            // Its first try saw the holder and did not queue: the reads never waited.
            assert!(!waits[0].timed_out, "{said}");
            assert!(said.contains("idle in transaction"), "{said}");
            assert_eq!(failed_reads, 0, "no read of the held table waited 250 ms for a lock");
        }
        let catalog = inspect(&mut connect(&db.url).unwrap()).unwrap();
        assert!(catalog.table("account").unwrap().find_column("about_me").is_some());
    }

    fn a_revision_whose_lock_never_comes_fails_cleanly_naming_the_holder(db: &TestDb) {
        let (add, drop) = about_me();
        let repo = repository(&[tables(), revision_file("b2", &["a1"], "b2", vec![add], vec![drop])]);
        at_a1(db, &repo);
        let before = inspect(&mut connect(&db.url).unwrap()).unwrap();
        let (mut held, holder_id) = holder(db);
        let (result, notices) = upgrade_noting(db, &repo, &quick(2));
        let error = result.unwrap_err();
        let message = error.to_string();
        assert!(matches!(&error, MigrateError::StepFailed(f) if matches!(f.cause, ApplyError::LockNotGranted(_))), "{message}");
        assert!(message.contains("the lock on 'account' could not be had in 3 tries"), "{message}");
        assert!(message.contains("Nothing of this revision was kept"), "{message}");
        if let Some(id) = holder_id {
            assert!(message.contains(&format!("session {id} (")), "{message}");
        }
        assert_eq!(notices.iter().filter(|n| matches!(n, Notice::LockBusy(_))).count(), 2);
        held.batch_execute("ROLLBACK").unwrap();
        assert_eq!(applied(db, &repo), BTreeSet::from(["a1".to_string()]));
        assert_catalog_is(&mut connect(&db.url).unwrap(), &before, "exactly as before");
        let (result, _) = upgrade_noting(db, &repo, &quick(2));
        assert_eq!(result.unwrap(), ["b2"], "once let go, it runs");
    }

    fn each_online_form_leaves_the_catalog_the_revision_says(db: &TestDb) {
        let ops = vec![
            Op::CreateIndex { table: "note".into(), name: "ix_note_body".into(), columns: vec!["body".into()], unique: false, predicate: None, concurrently: None },
            Op::CreateForeignKey { table: "note".into(), name: "fk_note_account".into(), columns: vec!["account_id".into()], ref_table: "account".into(), ref_columns: vec!["id".into()], on_delete: None, online: None },
            Op::CreateCheckConstraint { table: "note".into(), name: "ck_note_account".into(), condition: "account_id > 0".into(), online: None },
            Op::CreateUniqueConstraint { table: "account".into(), name: "uq_account_name".into(), columns: vec!["name".into()], online: None },
            Op::AlterColumn { table: "account".into(), column: "code".into(), ty: None, nullable: Some(false), set_default: None, drop_default: false, new_name: None, online: None },
            add_column("account", Column::new("rank", ColumnType::Integer).not_null().default(dbmigrate::ColumnDefault::Literal("0".into()))),
            Op::Backfill { table: "note".into(), set: [("body".to_string(), "UPPER(body)".to_string())].into(), condition: None, batch_size: Some(1), pause_ms: None },
        ];
        let repo = repository(&[tables(), revision_file("b2", &["a1"], "b2", ops, vec![])]);
        at_a1(db, &repo);
        // With the site stopped: NOT NULL would otherwise wait for `db contract`.
        let mut conn = connect(&db.url).unwrap();
        let stopped = migrate::Options { policy: quick(5), side_by_side: false };
        let result = migrate::upgrade_with(&mut conn, &db.url, &repo, &UpgradeTarget::Head, &stopped, |_| {});
        result.unwrap();
        let mut conn = connect(&db.url).unwrap();
        let expected = migrate::replay(&repo, &applied(db, &repo)).unwrap();
        let differences = compare_with_database(&mut conn, &expected, CompareOptions::default(), &[]).unwrap();
        assert!(differences.is_empty(), "the revision's schema: {:?}", differences.changes);
        assert_eq!(number(&mut conn, "SELECT COUNT(*) AS n FROM note WHERE body = 'HELLO'"), 1, "the backfill ran");
        if db.dialect() == Dialect::Postgres {
            #[derive(QueryableByName)]
            struct Valid {
                #[diesel(sql_type = Bool)]
                valid: bool,
            }
            let all_valid = |conn: &mut AnyConnection, sql: &str| {
                sql_query(sql).load::<Valid>(conn).unwrap().iter().all(|v| v.valid)
            };
            assert!(all_valid(&mut conn, "SELECT convalidated AS valid FROM pg_constraint WHERE conrelid IN ('note'::regclass, 'account'::regclass)"));
            assert!(all_valid(&mut conn, "SELECT indisvalid AS valid FROM pg_index WHERE indrelid IN ('note'::regclass, 'account'::regclass)"));
            let script = migrate::upgrade_sql(&repo, Dialect::Postgres, Some("a1"), &UpgradeTarget::Head, &LockPolicy::default()).unwrap();
            for form in [
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS \"ix_note_body\"",
                "FOREIGN KEY (\"account_id\") REFERENCES \"account\" (\"id\") NOT VALID",
                "VALIDATE CONSTRAINT \"fk_note_account\"",
                "CHECK (account_id > 0) NOT VALID",
                "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \"uq_account_name\"",
                "ADD CONSTRAINT \"uq_account_name\" UNIQUE USING INDEX \"uq_account_name\"",
                "CHECK (\"code\" IS NOT NULL) NOT VALID",
                "ALTER COLUMN \"code\" SET NOT NULL",
            ] {
                assert!(script.contains(form), "{form} in:\n{script}");
            }
        }
    }

    fn a_step_that_fails_undoes_what_the_steps_before_it_did(db: &TestDb) {
        // A note of an account that does not exist: the key cannot hold.
        let ops = vec![
            add_column("account", Column::new("about_me", ColumnType::Text)),
            Op::CreateIndex { table: "note".into(), name: "ix_note_body".into(), columns: vec!["body".into()], unique: false, predicate: None, concurrently: None },
            Op::CreateForeignKey { table: "note".into(), name: "fk_note_account".into(), columns: vec!["account_id".into()], ref_table: "account".into(), ref_columns: vec!["id".into()], on_delete: None, online: None },
        ];
        let repo = repository(&[tables(), revision_file("b2", &["a1"], "b2", ops, vec![])]);
        at_a1(db, &repo);
        let mut conn = connect(&db.url).unwrap();
        conn.batch_execute("INSERT INTO note (account_id, body) VALUES (99, 'orphan')").unwrap();
        let before = inspect(&mut conn).unwrap();
        let (result, notices) = upgrade_noting(db, &repo, &quick(1));
        let message = result.unwrap_err().to_string();
        assert!(message.contains("fk_note_account") || message.contains("foreign key"), "{message}");
        assert!(message.contains("Nothing of this revision was kept"), "{message}");
        assert_eq!(applied(db, &repo), BTreeSet::from(["a1".to_string()]));
        assert_catalog_is(&mut conn, &before, "exactly as before");
        if db.dialect() != Dialect::Sqlite {
            assert!(notices.iter().any(|n| matches!(n, Notice::Undoing { .. })), "{notices:?}");
        }
        let tables = dbmigrate::inspect::table_names(&mut conn).unwrap();
        assert!(!tables.iter().any(|t| t == dbmigrate::history::PROGRESS_TABLE), "no progress is left behind");
    }
}
