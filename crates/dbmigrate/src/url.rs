//! Database URLs in the forms users bring from SQLAlchemy and from the Rust ecosystem.
//!
//! `sqlite:///relative.db`, `sqlite:////abs/path.db`, `sqlite://app.db`, `sqlite::memory:`,
//! `postgresql://`, `postgres://`, `postgresql+psycopg2://`, `mysql://`, `mariadb://`,
//! `mysql+pymysql://`: the driver part after `+` is ignored, because the binary always uses
//! its own driver for each database.

use std::fmt;

pub use crate::dialect::Dialect;
use std::path::{Path, PathBuf};

/// Where a SQLite database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqliteLocation {
    Memory,
    File(PathBuf),
}

/// A parsed database URL. Server URLs are kept in the form the drivers accept
/// (`postgres://…`, `mysql://…`); [`DatabaseUrl::masked`] is the form to show people.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(SqliteLocation),
    Server { dialect: Dialect, url: url::Url },
}

/// Why a URL was not accepted. Every variant carries the URL with its password masked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error(
        "cannot parse the database URL {url}: {reason}; expected a form like \
         sqlite:///app.db, postgresql://user:password@host/dbname or mysql://user@host/dbname"
    )]
    Unparseable { url: String, reason: String },
    #[error(
        "unknown database kind '{scheme}' in the database URL {url}; \
         use a sqlite://, postgresql:// or mysql:// URL"
    )]
    UnknownScheme { scheme: String, url: String },
    #[error("the database URL {url} names no database; add one after the host, as in {example}")]
    MissingDatabaseName { url: String, example: String },
}

impl DatabaseUrl {
    pub fn parse(input: &str) -> Result<Self, UrlError> {
        let input = input.trim();
        let Some((scheme, rest)) = input.split_once(':') else {
            return Err(UrlError::Unparseable {
                url: mask_password(input),
                reason: "it has no scheme such as sqlite: or postgresql:".into(),
            });
        };
        let family = scheme
            .split('+')
            .next()
            .unwrap_or(scheme)
            .to_ascii_lowercase();
        match Dialect::from_scheme(&family) {
            Some(Dialect::Sqlite) => Ok(DatabaseUrl::Sqlite(parse_sqlite_location(rest))),
            Some(dialect) => Self::parse_server(input, dialect),
            None => Err(UrlError::UnknownScheme {
                scheme: scheme.to_string(),
                url: mask_password(input),
            }),
        }
    }

    fn parse_server(input: &str, dialect: Dialect) -> Result<Self, UrlError> {
        let (_, after_scheme) = input.split_once(':').expect("caller checked for a scheme");
        let (canonical_scheme, _) = dialect.sql().url_schemes();
        let unparseable = |reason: String| UrlError::Unparseable {
            url: mask_password(input),
            reason,
        };
        if !after_scheme.starts_with("//") {
            return Err(unparseable("the scheme must be followed by //host".into()));
        }
        let url = url::Url::parse(&format!("{canonical_scheme}:{after_scheme}"))
            .map_err(|e| unparseable(e.to_string()))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(unparseable("it names no host".into()));
        }
        if url.path().trim_start_matches('/').is_empty() {
            return Err(UrlError::MissingDatabaseName {
                url: mask_password(input),
                example: format!("{canonical_scheme}://user@localhost/dbname"),
            });
        }
        Ok(DatabaseUrl::Server { dialect, url })
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            DatabaseUrl::Sqlite(_) => Dialect::Sqlite,
            DatabaseUrl::Server { dialect, .. } => *dialect,
        }
    }

    pub fn sqlite_file(path: impl AsRef<Path>) -> Self {
        DatabaseUrl::Sqlite(SqliteLocation::File(path.as_ref().to_path_buf()))
    }

    /// The database name on a server, or `None` for SQLite.
    pub fn database_name(&self) -> Option<String> {
        match self {
            DatabaseUrl::Sqlite(_) => None,
            DatabaseUrl::Server { url, .. } => Some(decode(url.path().trim_start_matches('/'))),
        }
    }

    /// The same server with another database name: used to reach a maintenance database
    /// and to give each test its own database.
    pub fn with_database_name(&self, name: &str) -> Self {
        match self {
            DatabaseUrl::Sqlite(_) => self.clone(),
            DatabaseUrl::Server { dialect, url } => {
                let mut url = url.clone();
                url.set_path(&format!("/{name}"));
                DatabaseUrl::Server {
                    dialect: *dialect,
                    url,
                }
            }
        }
    }

    /// What a driver is given: a file path for SQLite, the canonical URL for a server.
    pub fn driver_string(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(SqliteLocation::Memory) => ":memory:".into(),
            DatabaseUrl::Sqlite(SqliteLocation::File(path)) => path.to_string_lossy().into_owned(),
            DatabaseUrl::Server { url, .. } => url.to_string(),
        }
    }

    /// The URL as shown to people: SQLAlchemy's spelling, absolute SQLite path, password masked.
    pub fn masked(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(SqliteLocation::Memory) => "sqlite::memory:".into(),
            DatabaseUrl::Sqlite(SqliteLocation::File(path)) => {
                let shown = std::path::absolute(path).unwrap_or_else(|_| path.clone());
                format!("sqlite:///{}", shown.display())
            }
            DatabaseUrl::Server { dialect, url } => {
                let mut shown = url.clone();
                if shown.password().is_some() {
                    let _ = shown.set_password(Some("***"));
                }
                let (driver, shown_scheme) = dialect.sql().url_schemes();
                shown.to_string().replacen(
                    &format!("{driver}://"),
                    &format!("{shown_scheme}://"),
                    1,
                )
            }
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.masked())
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// `rest` is what follows `sqlite:`.
fn parse_sqlite_location(rest: &str) -> SqliteLocation {
    let without_query = rest.split_once('?').map_or(rest, |(path, _)| path);
    let path = if let Some(after) = without_query.strip_prefix("///") {
        // SQLAlchemy: three slashes, then a relative path, or a fourth slash for an absolute one.
        after
    } else if let Some(after) = without_query.strip_prefix("//") {
        // sqlx/diesel: sqlite://app.db
        after
    } else {
        without_query
    };
    match path {
        "" | ":memory:" => SqliteLocation::Memory,
        path => SqliteLocation::File(PathBuf::from(decode(path))),
    }
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// Masks the password of a URL that may not even parse: everything between the first `:`
/// after `//` and the last `@`.
pub fn mask_password(input: &str) -> String {
    let Some(authority_start) = input.find("//").map(|i| i + 2) else {
        return input.to_string();
    };
    let authority_end = input[authority_start..]
        .find('/')
        .map_or(input.len(), |i| authority_start + i);
    let authority = &input[authority_start..authority_end];
    let Some(at) = authority.rfind('@') else {
        return input.to_string();
    };
    let Some(colon) = authority[..at].find(':') else {
        return input.to_string();
    };
    format!(
        "{}{}:***{}",
        &input[..authority_start],
        &authority[..colon],
        &input[authority_start + at..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_path(input: &str) -> PathBuf {
        match DatabaseUrl::parse(input).unwrap() {
            DatabaseUrl::Sqlite(SqliteLocation::File(path)) => path,
            other => panic!("{input} parsed as {other:?}"),
        }
    }

    #[test]
    fn sqlalchemy_sqlite_forms_give_relative_and_absolute_paths() {
        assert_eq!(
            sqlite_path("sqlite:///relative.db"),
            PathBuf::from("relative.db")
        );
        assert_eq!(
            sqlite_path("sqlite:////abs/path.db"),
            PathBuf::from("/abs/path.db")
        );
        assert_eq!(sqlite_path("sqlite://app.db"), PathBuf::from("app.db"));
        assert_eq!(sqlite_path("sqlite:app.db"), PathBuf::from("app.db"));
    }

    #[test]
    fn memory_forms_give_an_in_memory_database() {
        for input in ["sqlite::memory:", "sqlite://", "sqlite:///:memory:"] {
            assert_eq!(
                DatabaseUrl::parse(input).unwrap(),
                DatabaseUrl::Sqlite(SqliteLocation::Memory),
                "{input}"
            );
        }
    }

    #[test]
    fn driver_suffixes_and_aliases_pick_the_same_dialect() {
        for (input, dialect) in [
            ("postgresql://u@h/db", Dialect::Postgres),
            ("postgres://u@h/db", Dialect::Postgres),
            ("postgresql+psycopg2://u:p@h:5432/db", Dialect::Postgres),
            ("mysql://root@h/db", Dialect::Mysql),
            ("mariadb://root@h/db", Dialect::Mysql),
            ("mysql+pymysql://u:p@h:3306/db", Dialect::Mysql),
        ] {
            let url = DatabaseUrl::parse(input).unwrap();
            assert_eq!(url.dialect(), dialect, "{input}");
            assert_eq!(url.database_name().as_deref(), Some("db"));
        }
        let pg = DatabaseUrl::parse("postgresql+psycopg2://u:p@h:5432/db").unwrap();
        assert_eq!(pg.driver_string(), "postgres://u:p@h:5432/db");
    }

    #[test]
    fn passwords_never_show() {
        let url = DatabaseUrl::parse("postgresql://scott:tiger@localhost/mydb").unwrap();
        assert_eq!(url.masked(), "postgresql://scott:***@localhost/mydb");
        assert_eq!(
            mask_password("mysql://u:s3cret@h:notaport/db"),
            "mysql://u:***@h:notaport/db"
        );
        let err = DatabaseUrl::parse("mysql://u:s3cret@h:notaport/db").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn unknown_scheme_and_garbage_are_refused_with_the_url() {
        let err = DatabaseUrl::parse("oracle://u:pw@h/db").unwrap_err();
        assert!(matches!(err, UrlError::UnknownScheme { ref scheme, .. } if scheme == "oracle"));
        assert!(err.to_string().contains("oracle://u:***@h/db"), "{err}");
        assert!(matches!(
            DatabaseUrl::parse("not a url").unwrap_err(),
            UrlError::Unparseable { .. }
        ));
        assert!(matches!(
            DatabaseUrl::parse("postgresql://localhost").unwrap_err(),
            UrlError::MissingDatabaseName { .. }
        ));
    }

    #[test]
    fn another_database_on_the_same_server() {
        let url = DatabaseUrl::parse("postgresql://root@127.0.0.1:5432/test").unwrap();
        let other = url.with_database_name("mb_t1");
        assert_eq!(other.masked(), "postgresql://root@127.0.0.1:5432/mb_t1");
    }
}
