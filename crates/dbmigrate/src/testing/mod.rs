//! For tests (feature `testing`): each test gets its own database, a temporary SQLite file
//! or a new database on the PostgreSQL or MariaDB server, dropped when the test ends.
//! Without a server, its tests are skipped with a message, except under CI (`CI=1`, `true`
//! or `yes`), where that is a failure.

mod models;

pub use models::{assert_every_column_filters_and_orders, migrated_session};

use std::sync::atomic::{AtomicU32, Ordering};

use crate::{DatabaseUrl, Dialect, admin};

pub struct TestDb {
    pub url: DatabaseUrl,
    _dir: Option<tempfile::TempDir>,
}

/// The server the tests of `dialect` make their databases on; SQLite has none.
fn server_url(dialect: Dialect) -> Option<DatabaseUrl> {
    let (variable, default) = match dialect {
        Dialect::Postgres => (
            "DBMIGRATE_TEST_POSTGRES_URL",
            "postgresql://postgres@127.0.0.1:5432/test",
        ),
        Dialect::Mysql => (
            "DBMIGRATE_TEST_MYSQL_URL",
            "mysql://root@127.0.0.1:3306/test",
        ),
        Dialect::Sqlite => return None,
    };
    let url = std::env::var(variable).unwrap_or_else(|_| default.to_string());
    Some(DatabaseUrl::parse(&url).unwrap_or_else(|e| panic!("{variable}: {e}")))
}

fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "mbtest_{}_{}_{:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

impl TestDb {
    /// A fresh, empty database; `None` (after saying so) when the server is not there.
    pub fn new(dialect: Dialect) -> Option<TestDb> {
        let Some(server) = server_url(dialect) else {
            let dir = tempfile::tempdir().expect("temporary directory");
            return Some(TestDb {
                url: DatabaseUrl::sqlite_file(dir.path().join("test.db")),
                _dir: Some(dir),
            });
        };
        let url = server.with_database_name(&unique_name());
        match admin::create_database(&url) {
            Ok(_) => Some(TestDb { url, _dir: None }),
            Err(error) if under_ci() => {
                panic!("{dialect} is required under CI and is not usable: {error}")
            }
            Err(error) => {
                eprintln!("SKIPPED on {dialect}: the test server is not usable: {error}");
                None
            }
        }
    }

    pub fn dialect(&self) -> Dialect {
        self.url.dialect()
    }

    /// The URL as a user would write it in DATABASE_URL.
    pub fn url_string(&self) -> String {
        match &self.url {
            DatabaseUrl::Sqlite(_) => format!("sqlite:///{}", self.url.driver_string()),
            DatabaseUrl::Server { .. } => self.url.driver_string(),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.url.dialect() != Dialect::Sqlite
            && let Err(error) = admin::drop_database(&self.url)
        {
            eprintln!("could not drop the test database {}: {error}", self.url);
        }
    }
}

/// Asserts that the live catalog holds `expected`, in the form the database can tell apart
/// (MySQL keeps unique constraints as unique indexes, catalogs list in name order).
pub fn assert_catalog_is(conn: &mut crate::AnyConnection, expected: &crate::Schema, context: &str) {
    let dialect = conn.dialect();
    assert_eq!(
        crate::inspect::inspect(conn)
            .expect("the catalog reads")
            .normalized_for(dialect),
        expected.normalized_for(dialect),
        "{context}"
    );
}

/// The text of a revision file: `id`, following `down`, with these operations.
pub fn revision_file(
    id: &str,
    down: &[&str],
    message: &str,
    upgrade: Vec<crate::ops::Op>,
    downgrade: Vec<crate::ops::Op>,
) -> String {
    let down = down.iter().map(|d| d.to_string()).collect();
    let mut revision = crate::Revision::new(message, down, "");
    revision.id = id.to_string();
    revision.upgrade = upgrade;
    revision.downgrade = downgrade;
    revision.to_toml()
}

/// A repository of these revision files, built in (no folder).
pub fn repository(files: &[String]) -> crate::Repository {
    let named: Vec<(String, &str)> = files
        .iter()
        .enumerate()
        .map(|(i, text)| (format!("{i}.toml"), text.as_str()))
        .collect();
    let borrowed: Vec<(&str, &str)> = named.iter().map(|(n, t)| (n.as_str(), *t)).collect();
    crate::Repository::built_in("test", &borrowed).expect("the revisions read")
}

/// Whether `CI` is set to a true value (`1`, `true`, `yes`, `on`): then a test that cannot
/// run is a failure, never a silent skip.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

/// Runs `body` against a fresh database of `dialect`, if one can be had.
pub fn on(dialect: Dialect, body: impl FnOnce(&TestDb)) {
    if let Some(db) = TestDb::new(dialect) {
        body(&db);
    }
}

/// Declares one test per database: `name::sqlite`, `name::postgresql`, `name::mariadb`.
#[macro_export]
macro_rules! on_each_database {
    ($(fn $name:ident($db:ident: &TestDb) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn body($db: &$crate::testing::TestDb) $body

            #[test]
            fn sqlite() {
                $crate::testing::on($crate::Dialect::Sqlite, body);
            }

            #[test]
            fn postgresql() {
                $crate::testing::on($crate::Dialect::Postgres, body);
            }

            #[test]
            fn mariadb() {
                $crate::testing::on($crate::Dialect::Mysql, body);
            }
        }
    )*};
}
