//! `microblog db import diesel|sqlx|refinery DIR` on each database: another tool's
//! migrations become revisions, a database that tool migrated is taken over where its
//! history table says it is, and one whose recorded checksum is not the file's is refused
//! with nothing changed.
//!
//! Each tool's history is made here as the tool makes it (its table as its sources create
//! it, its rows as it writes them): the checksums are computed the tools' way with code
//! other than the engine's (sqlx: SHA-384 of the file; refinery: the standard library's
//! SipHash-1-3 with zero keys, which refinery used before it named the algorithm).

use std::hash::{Hash, Hasher};
use std::path::Path;

use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use sha2::{Digest, Sha384};

use dbmigrate::testing::TestDb;
use dbmigrate::{Dialect, connect, on_each_database};

mod support;

const CREATE_USERS: &str =
    "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(64) NOT NULL);\n";
const ADD_EMAIL: &str = "ALTER TABLE users ADD COLUMN email VARCHAR(120);\r\n";

#[derive(Clone, Copy, PartialEq)]
enum Tool {
    Diesel,
    Sqlx,
    Refinery,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Diesel => "diesel",
            Tool::Sqlx => "sqlx",
            Tool::Refinery => "refinery",
        }
    }
}

/// The tool's two migrations in `dir`, named as the tool names them.
fn write_migrations(tool: Tool, dir: &Path) {
    let write = |path: &str, text: &str| {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    match tool {
        Tool::Diesel => {
            write("2024-01-01-000000_create_users/up.sql", CREATE_USERS);
            write(
                "2024-01-01-000000_create_users/down.sql",
                "DROP TABLE users;\n",
            );
            write("2024-01-02-000000_add_email/up.sql", ADD_EMAIL);
            write(
                "2024-01-02-000000_add_email/down.sql",
                "ALTER TABLE users DROP COLUMN email;\n",
            );
        }
        Tool::Sqlx => {
            write("20240101000000_create_users.up.sql", CREATE_USERS);
            write(
                "20240101000000_create_users.down.sql",
                "DROP TABLE users;\n",
            );
            write("20240102000000_add_email.up.sql", ADD_EMAIL);
            write(
                "20240102000000_add_email.down.sql",
                "ALTER TABLE users DROP COLUMN email;\n",
            );
        }
        Tool::Refinery => {
            write("V1__create_users.sql", CREATE_USERS);
            write("later/V2__add_email.sql", ADD_EMAIL);
        }
    }
}

/// The database as the tool leaves it after running its first migration; `checksum_off`
/// records a checksum other than the file's.
fn migrated_by(tool: Tool, db: &TestDb, checksum_off: bool) {
    let mut conn = connect(&db.url).unwrap();
    conn.batch_execute(CREATE_USERS).unwrap();
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let statements = match tool {
        Tool::Diesel => vec![
            "CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (\
             version VARCHAR(50) PRIMARY KEY NOT NULL, \
             run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"
                .to_string(),
            "INSERT INTO __diesel_schema_migrations (version) VALUES ('20240101000000')".into(),
        ],
        Tool::Sqlx => {
            let mut digest = Sha384::digest(CREATE_USERS.as_bytes()).to_vec();
            if checksum_off {
                digest[0] ^= 1;
            }
            let (timestamp, blob, literal) = match db.dialect() {
                Dialect::Postgres => (
                    "TIMESTAMPTZ NOT NULL DEFAULT now()",
                    "BYTEA",
                    format!("decode('{}', 'hex')", hex(&digest)),
                ),
                _ => (
                    "TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP",
                    "BLOB",
                    format!("X'{}'", hex(&digest)),
                ),
            };
            vec![
                format!(
                    "CREATE TABLE IF NOT EXISTS _sqlx_migrations (version BIGINT PRIMARY KEY, \
                     description TEXT NOT NULL, installed_on {timestamp}, success BOOLEAN NOT NULL, \
                     checksum {blob} NOT NULL, execution_time BIGINT NOT NULL)"
                ),
                format!(
                    "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                     VALUES (20240101000000, 'create users', TRUE, {literal}, 1234)"
                ),
            ]
        }
        Tool::Refinery => {
            // SipHash-1-3 with zero keys, as refinery computed it before it named it.
            let mut hasher = std::hash::DefaultHasher::new();
            "create_users".hash(&mut hasher);
            1i32.hash(&mut hasher);
            CREATE_USERS.hash(&mut hasher);
            let checksum = hasher.finish() ^ u64::from(checksum_off);
            vec![
                "CREATE TABLE IF NOT EXISTS refinery_schema_history(version int4 PRIMARY KEY, \
                 name VARCHAR(255), applied_on VARCHAR(255), checksum VARCHAR(255))"
                    .to_string(),
                format!(
                    "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
                     VALUES (1, 'create_users', '2024-01-01T00:00:00Z', '{checksum}')"
                ),
            ]
        }
    };
    for statement in statements {
        diesel::sql_query(statement).execute(&mut conn).unwrap();
    }
}

fn email_column_exists(db: &TestDb) -> bool {
    let mut conn = connect(&db.url).unwrap();
    let schema = dbmigrate::inspect::inspect(&mut conn).unwrap();
    schema
        .table("users")
        .is_some_and(|t| t.find_column("email").is_some())
}

fn imported(tool: Tool, app: &Path, url: &str) {
    let folder = app.join("theirs");
    write_migrations(tool, &folder);
    assert_eq!(support::db(app, url, &["init"]).code, Some(0));
    let imported = support::db(app, url, &["import", tool.name(), "theirs"]);
    assert_eq!(imported.code, Some(0), "{imported:?}");
    assert_eq!(
        imported.stdout.matches("Importing ").count(),
        2,
        "{imported:?}"
    );
}

fn taken_over_where_the_tool_left_it(tool: Tool, db: &TestDb) {
    let url = db.url_string();
    let app = tempfile::tempdir().unwrap();
    imported(tool, app.path(), &url);
    migrated_by(tool, db, false);

    let current = support::db(app.path(), &url, &["current"]);
    assert!(
        current.stdout.contains("taken over at the next"),
        "{current:?}"
    );
    let upgraded = support::db(app.path(), &url, &["upgrade"]);
    assert_eq!(upgraded.code, Some(0), "{upgraded:?}");
    assert!(
        upgraded.stderr.contains("it is taken over at revision"),
        "{upgraded:?}"
    );
    assert_eq!(
        upgraded.stdout.matches("Running upgrade").count(),
        1,
        "{upgraded:?}"
    );
    assert!(email_column_exists(db));
    assert!(
        support::db(app.path(), &url, &["current"])
            .stdout
            .contains("(head)")
    );

    // The revisions undo as the tool's down files say, where it had them.
    let downgraded = support::db(app.path(), &url, &["downgrade"]);
    if tool == Tool::Refinery {
        assert_eq!(downgraded.code, Some(1), "{downgraded:?}");
        assert!(email_column_exists(db));
    } else {
        assert_eq!(downgraded.code, Some(0), "{downgraded:?}");
        assert!(!email_column_exists(db));
    }

    // A new database runs them all.
    let fresh = TestDb::new(db.dialect()).unwrap();
    let upgraded = support::db(app.path(), &fresh.url_string(), &["upgrade"]);
    assert_eq!(
        upgraded.stdout.matches("Running upgrade").count(),
        2,
        "{upgraded:?}"
    );
    assert!(email_column_exists(&fresh));
}

fn refused_when_a_checksum_is_not_the_files(tool: Tool, db: &TestDb) {
    let url = db.url_string();
    let app = tempfile::tempdir().unwrap();
    imported(tool, app.path(), &url);
    migrated_by(tool, db, true);
    let upgraded = support::db(app.path(), &url, &["upgrade"]);
    assert_eq!(upgraded.code, Some(1), "{upgraded:?}");
    assert!(
        upgraded
            .stderr
            .contains(&format!("error: {} version 1", tool.name()))
            || upgraded
                .stderr
                .contains(&format!("error: {} version 2024", tool.name())),
        "{upgraded:?}"
    );
    assert!(
        upgraded.stderr.contains("_create_users.toml"),
        "{upgraded:?}"
    );
    assert!(!email_column_exists(db));
    let mut conn = connect(&db.url).unwrap();
    let tables = dbmigrate::inspect::table_names(&mut conn).unwrap();
    assert!(
        !tables.iter().any(|t| t == "dbmigrate_history"),
        "{tables:?}"
    );
}

on_each_database! {
    fn a_database_diesel_migrated_is_taken_over_where_diesel_left_it(db: &TestDb) {
        taken_over_where_the_tool_left_it(Tool::Diesel, db);
    }

    fn a_database_sqlx_migrated_is_taken_over_where_sqlx_left_it(db: &TestDb) {
        taken_over_where_the_tool_left_it(Tool::Sqlx, db);
    }

    fn a_database_refinery_migrated_is_taken_over_where_refinery_left_it(db: &TestDb) {
        taken_over_where_the_tool_left_it(Tool::Refinery, db);
    }

    fn an_sqlx_checksum_other_than_the_files_is_refused_with_nothing_changed(db: &TestDb) {
        refused_when_a_checksum_is_not_the_files(Tool::Sqlx, db);
    }

    fn a_refinery_checksum_other_than_the_files_is_refused_with_nothing_changed(db: &TestDb) {
        refused_when_a_checksum_is_not_the_files(Tool::Refinery, db);
    }
}

#[test]
fn importing_the_same_tool_twice_is_refused() {
    let app = tempfile::tempdir().unwrap();
    let url = format!("sqlite:///{}", app.path().join("app.db").display());
    imported(Tool::Sqlx, app.path(), &url);
    let again = support::db(app.path(), &url, &["import", "sqlx", "theirs"]);
    assert_eq!(again.code, Some(1), "{again:?}");
    assert!(
        again.stderr.contains("already holds sqlx migrations"),
        "{again:?}"
    );
}
