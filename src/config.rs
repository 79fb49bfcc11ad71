//! Settings, from the environment or from a `.env` file in the working directory (the role
//! `.flaskenv` plays for Flask); variables already in the environment win.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dbmigrate::apply::{LockPolicy, PolicyError};
use dbmigrate::cli::Context;
use dbmigrate::{DatabaseUrl, UrlError};

/// The SQLite file used when DATABASE_URL is not set, in the working directory.
const DEFAULT_DATABASE: &str = "app.db";

/// The key used when SECRET_KEY is not set: fine on a laptop, never in production.
const DEVELOPMENT_SECRET_KEY: &str = "you-will-never-guess";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Environment,
    Default,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    pub database_url_origin: Origin,
    pub secret_key: String,
    pub secret_key_origin: Origin,
    pub posts_per_page: u32,
    /// Connections the web server keeps to a PostgreSQL or MySQL server.
    pub db_pool_size: u32,
    /// The longest a page waits on the database (`DB_TIMEOUT`).
    pub db_timeout: Duration,
    /// How long the web server waits for a client to send a request's head (`CLIENT_TIMEOUT`).
    pub client_timeout: Duration,
    /// The longest a request may take, its body included (`REQUEST_TIMEOUT`).
    pub request_timeout: Duration,
    /// Connections the web server keeps open at once (`MAX_CONNECTIONS`).
    pub max_connections: u32,
    /// Reverse proxies whose `X-Forwarded-For` says who the client is (`TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<IpAddr>,
    /// Whether the session cookie is marked `Secure` (`SESSION_COOKIE_SECURE`): always, never,
    /// or, unset, when a trusted proxy says the visitor came over HTTPS.
    pub session_cookie_secure: Option<bool>,
    /// The migration repository every command uses, when set (`MIGRATIONS_DIR`).
    pub migrations_dir: Option<PathBuf>,
    /// Tables of the database autogenerate leaves alone (`MIGRATIONS_IGNORE_TABLES`).
    pub ignored_tables: Vec<String>,
    /// How a migration waits for a table's lock (`MIGRATION_LOCK_TIMEOUT`,
    /// `MIGRATION_LOCK_RETRIES`).
    pub lock_policy: LockPolicy,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    DatabaseUrl(#[from] UrlError),
    #[error(
        "DATABASE_URL is set but empty; give it a URL, or unset it for the default, sqlite:///{DEFAULT_DATABASE}"
    )]
    EmptyDatabaseUrl,
    #[error("cannot read {path}: {reason}; fix or remove that file")]
    DotEnv { path: String, reason: String },
    #[error("{name} is a comma-separated list of IP addresses; '{value}' is not one")]
    NotAnAddress { name: &'static str, value: String },
    #[error(transparent)]
    LockPolicy(#[from] PolicyError),
    #[error("{name} is true or false, not '{value}'")]
    NotABoolean { name: &'static str, value: String },
    #[error("{name} must be a whole number from 1 to {max}, not '{value}'")]
    OutOfRange {
        name: &'static str,
        max: u32,
        value: String,
    },
}

impl Settings {
    /// Reads `.env` from `dir` into the process environment, then the settings from it.
    pub fn load(dir: &Path) -> Result<Self, ConfigError> {
        let dotenv = dir.join(".env");
        if dotenv.is_file() {
            dotenvy::from_path(&dotenv).map_err(|e| ConfigError::DotEnv {
                path: dotenv.display().to_string(),
                reason: e.to_string(),
            })?;
        }
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The settings from `read` (a variable's value, set or not); an empty value is no
    /// value, except for DATABASE_URL, where it is a mistake to point out.
    pub fn from_lookup(read: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let lookup = |name: &str| read(name).filter(|v| !v.trim().is_empty());
        let (database_url, database_url_origin) = match read("DATABASE_URL") {
            Some(url) if url.trim().is_empty() => return Err(ConfigError::EmptyDatabaseUrl),
            Some(url) => (DatabaseUrl::parse(&url)?, Origin::Environment),
            None => (DatabaseUrl::sqlite_file(DEFAULT_DATABASE), Origin::Default),
        };
        let (secret_key, secret_key_origin) = match lookup("SECRET_KEY") {
            Some(key) => (key, Origin::Environment),
            None => (DEVELOPMENT_SECRET_KEY.to_string(), Origin::Default),
        };
        let number = |name: &'static str, max: u32, default: u32| match lookup(name) {
            Some(value) => value
                .trim()
                .parse()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or(ConfigError::OutOfRange { name, max, value }),
            None => Ok(default),
        };
        let posts_per_page = number("POSTS_PER_PAGE", 1000, 20)?;
        let db_pool_size = number("DB_POOL_SIZE", 1000, DEFAULT_POOL_SIZE)?;
        let seconds =
            |name, default| number(name, 3600, default).map(|n| Duration::from_secs(n.into()));
        let client_timeout = seconds("CLIENT_TIMEOUT", 10)?;
        let db_timeout = seconds("DB_TIMEOUT", 5)?;
        let request_timeout = seconds("REQUEST_TIMEOUT", 30)?;
        let max_connections = number("MAX_CONNECTIONS", 100_000, 1000)?;
        let trusted_proxies = lookup("TRUSTED_PROXIES")
            .map(|list| {
                list.split(',')
                    .map(|entry| {
                        entry.trim().parse().map_err(|_| ConfigError::NotAnAddress {
                            name: "TRUSTED_PROXIES",
                            value: entry.trim().to_string(),
                        })
                    })
                    .collect::<Result<Vec<IpAddr>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        let session_cookie_secure = lookup("SESSION_COOKIE_SECURE")
            .map(|value| match value.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(ConfigError::NotABoolean {
                    name: "SESSION_COOKIE_SECURE",
                    value,
                }),
            })
            .transpose()?;
        Ok(Settings {
            database_url,
            database_url_origin,
            secret_key,
            secret_key_origin,
            posts_per_page,
            db_pool_size,
            db_timeout,
            client_timeout,
            request_timeout,
            max_connections,
            trusted_proxies,
            session_cookie_secure,
            migrations_dir: lookup("MIGRATIONS_DIR").map(PathBuf::from),
            ignored_tables: dbmigrate::cli::table_patterns(
                lookup("MIGRATIONS_IGNORE_TABLES").as_deref(),
            ),
            lock_policy: LockPolicy::from_settings(
                lookup("MIGRATION_LOCK_TIMEOUT").as_deref(),
                lookup("MIGRATION_LOCK_RETRIES").as_deref(),
            )?,
        })
    }

    /// What the `db` commands and the repository rule need.
    pub fn context(&self) -> Context {
        Context {
            url: self.database_url.clone(),
            migrations_dir: self.migrations_dir.clone(),
            // The site's own table on MySQL (the counter of changes), outside the models.
            ignored_tables: (self.ignored_tables.iter().cloned())
                .chain([crate::web::COUNTER_TABLE.to_string()])
                .collect(),
            lock_policy: self.lock_policy,
        }
    }

    /// The warning to show when the development secret key is in use.
    pub fn secret_key_warning(&self) -> Option<&'static str> {
        (self.secret_key_origin == Origin::Default).then_some(
            "warning: SECRET_KEY is not set; using the development key, \
             which anyone can read here. Set SECRET_KEY before deploying.",
        )
    }
}

/// Enough to keep a database server busy while some connections wait on the network: on 2
/// cores, 10 connections served 6.4–7.4k index pages/s from PostgreSQL where 4 served
/// 5.5–6.2k (with a p99 of 10–13 ms against 9–10 ms).
const DEFAULT_POOL_SIZE: u32 = 10;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn without_database_url_the_default_is_app_db_in_the_working_directory() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.database_url, DatabaseUrl::sqlite_file("app.db"));
        assert_eq!(s.database_url_origin, Origin::Default);
        assert!(s.secret_key_warning().is_some());
        assert_eq!(s.posts_per_page, 20);
    }

    #[test]
    fn a_set_secret_key_brings_no_warning() {
        let s = settings(&[("SECRET_KEY", "k"), ("POSTS_PER_PAGE", "5")]).unwrap();
        assert!(s.secret_key_warning().is_none());
        assert_eq!(s.posts_per_page, 5);
    }

    #[test]
    fn an_empty_database_url_is_pointed_out_not_taken_for_the_default() {
        assert!(matches!(
            settings(&[("DATABASE_URL", " ")]),
            Err(ConfigError::EmptyDatabaseUrl)
        ));
        assert!(
            settings(&[("SECRET_KEY", "")])
                .unwrap()
                .secret_key_warning()
                .is_some()
        );
    }

    #[test]
    fn a_bad_posts_per_page_is_refused() {
        assert!(matches!(
            settings(&[("POSTS_PER_PAGE", "0")]),
            Err(ConfigError::OutOfRange {
                name: "POSTS_PER_PAGE",
                ..
            })
        ));
    }

    #[test]
    fn the_secure_cookie_setting_is_a_boolean_or_unset() {
        assert_eq!(settings(&[]).unwrap().session_cookie_secure, None);
        let forced = settings(&[("SESSION_COOKIE_SECURE", "True")]).unwrap();
        assert_eq!(forced.session_cookie_secure, Some(true));
        assert!(matches!(
            settings(&[("SESSION_COOKIE_SECURE", "sometimes")]),
            Err(ConfigError::NotABoolean { .. })
        ));
    }

    #[test]
    fn trusted_proxies_are_a_list_of_addresses() {
        let s = settings(&[("TRUSTED_PROXIES", "10.0.0.1, ::1")]).unwrap();
        assert_eq!(s.trusted_proxies.len(), 2);
        assert!(settings(&[]).unwrap().trusted_proxies.is_empty());
        assert!(matches!(
            settings(&[("TRUSTED_PROXIES", "10.0.0.1,nginx")]),
            Err(ConfigError::NotAnAddress { value, .. }) if value == "nginx"
        ));
    }
}
