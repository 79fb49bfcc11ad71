//! What an application checks before it serves or opens a shell, against the repository
//! the one rule chose: its head must be the schema the application's models describe; a
//! new, empty database is migrated to it; any other database must already be at it.

use super::{Application, Chosen};
use crate::compare::{CompareOptions, compare};
use crate::connection::AnyConnection;
use crate::migrate::{self, Event, Match, MigrateError, UpgradeTarget};
use crate::url::DatabaseUrl;
use crate::{history, inspect};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    /// The database was new and empty; these revisions were applied.
    Migrated(Vec<String>),
    /// The database was already at the head.
    Ready,
}

#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error(
        "the models compiled into {app} differ from the head of {repository}: {differences}; if a revision was added since {app} was built, rebuild {app}; if the models were changed, write the revision with {migrate} and apply it with {upgrade}"
    )]
    ModelsDiffer {
        app: String,
        repository: String,
        differences: String,
        migrate: String,
        upgrade: String,
    },
    #[error("the database is at {at}, behind the head {head} of {repository}; run {upgrade}")]
    Behind {
        at: String,
        head: String,
        repository: String,
        upgrade: String,
    },
    #[error(
        "the database has applied {revisions}, which {repository} does not have{why}; use the repository that made it (set MIGRATIONS_DIR), or record where the database is with {stamp}"
    )]
    UnknownRevision {
        revisions: String,
        repository: String,
        /// What may explain it, with its leading separator; empty when nothing does.
        why: String,
        stamp: String,
    },
    #[error("the database has tables but no migration history; {0}")]
    NoHistory(String),
    #[error(transparent)]
    Migrate(Box<MigrateError>),
    #[error("cannot read the database: {0}")]
    Database(#[from] diesel::result::Error),
}

impl From<MigrateError> for NotReady {
    fn from(error: MigrateError) -> Self {
        NotReady::Migrate(Box::new(error))
    }
}

/// What each connection of the application runs first: on a database where the
/// repository's head is expanded side by side, the schema of views of that revision goes
/// first in the search path, so that the application sees the shape it was built for.
pub fn session_setup(
    conn: &mut AnyConnection,
    repo: &crate::Repository,
) -> Result<Option<String>, MigrateError> {
    let status = migrate::status(conn, repo)?;
    let heads = repo.graph().heads();
    Ok(status
        .expanded
        .iter()
        .find(|e| heads.contains(&e.revision))
        .map(|e| {
            format!(
                "SELECT set_config('search_path', '\"{}\", ' || current_setting('search_path'), false)",
                e.view_schema
            )
        }))
}

/// Makes sure the database can be used by `app`'s models, migrating it only if it is new.
pub fn prepare_database(
    conn: &mut AnyConnection,
    url: &DatabaseUrl,
    app: &Application,
    chosen: &Chosen,
    on: impl FnMut(Event),
) -> Result<Prepared, NotReady> {
    let repo = &chosen.repository;
    let repository = chosen.source.to_string();
    let exact = CompareOptions {
        detect_renames: false,
    };
    let mut status = migrate::status(conn, repo)?;
    // A revision of a later release, expanded side by side: this release's shape is the
    // tables' own until it is contracted.
    let expanded: Vec<&String> = status.expanded.iter().map(|e| &e.revision).collect();
    status.unknown.retain(|id| !expanded.contains(&id));
    if !status.unknown.is_empty() {
        let revisions = match status.unknown.as_slice() {
            [one] => format!("revision {one}"),
            several => format!("{} revisions ({})", several.len(), several.join(", ")),
        };
        let why = if repo.in_order().next().is_none() {
            let built_in = if app.built_in.is_empty() {
                String::new()
            } else {
                format!(
                    ", such as {}, which are used only where there is no migrations/ folder",
                    app.built_in_name()
                )
            };
            format!(
                " (it has no revisions at all: if {} made it just now, the database was made from another repository{built_in})",
                app.command("db init")
            )
        } else {
            format!(
                " (a later release of {} may have made it: a release older than the database's shape cannot serve it)",
                app.name
            )
        };
        return Err(NotReady::UnknownRevision {
            revisions,
            repository,
            why,
            stamp: app.command("db stamp REVISION --purge"),
        });
    }
    let everything = repo.graph().order().iter().cloned().collect();
    let head = migrate::replay(repo, &everything)?;
    let differences: Vec<String> = compare(&head, (app.schema)(), exact)
        .changes
        .into_iter()
        .map(|c| c.detected.trim_start_matches("Detected ").to_string())
        .collect();
    if !differences.is_empty() {
        return Err(NotReady::ModelsDiffer {
            app: app.name.to_string(),
            repository: repository.clone(),
            differences: differences.join(", "),
            migrate: app.command("db migrate -m MESSAGE"),
            upgrade: app.command("db upgrade"),
        });
    }

    if status.is_at_head(repo) {
        return Ok(Prepared::Ready);
    }
    let untouched = status.is_empty()
        && inspect::table_names(conn)?
            .iter()
            .all(|t| inspect::ENGINE_TABLES.contains(&t.as_str()));
    if untouched {
        let applied = migrate::upgrade(conn, url, repo, &UpgradeTarget::Heads, on)?;
        return Ok(Prepared::Migrated(applied));
    }
    if status.is_empty() && !history::exists(conn).map_err(MigrateError::from)? {
        let upgrade = app.command("db upgrade");
        return Err(NotReady::NoHistory(
            match migrate::find_adoption(conn, repo)? {
                Match::One(adoption) => format!(
                    "its schema is that of revision {} ({}) of {repository}: run {upgrade} to take it over at that revision and bring it to the head",
                    adoption.revision, adoption.message
                ),
                Match::Several(revisions) => format!(
                    "its schema is that of several revisions of {repository} ({}); record the one it is at with {}",
                    revisions.join(", "),
                    app.command("db stamp REVISION")
                ),
                Match::None(differences) => format!(
                    "its schema is that of no revision of {repository} ({})",
                    differences.join("; ")
                ),
            },
        ));
    }
    Err(NotReady::Behind {
        at: status.position(),
        head: repo.graph().heads().join(", "),
        repository,
        upgrade: app.command("db upgrade"),
    })
}
