//! The small commands and the lines they print.

use std::collections::BTreeSet;
use std::path::Path;

use super::{Application, listing};
use crate::connection::AnyConnection;
use crate::migrate::{self, Status};
use crate::url::DatabaseUrl;
use crate::{Repository, Revision, admin};

pub fn init(app: &Application, dir: &Path) -> anyhow::Result<()> {
    for path in Repository::init(dir, &readme(app))? {
        let verb = if path.is_dir() {
            "Creating directory"
        } else {
            "Generating"
        };
        println!("  {verb} {} ...  done", path.display());
    }
    println!(
        "Next: {} writes a revision from the models, {} an empty one to fill in.",
        app.command("db migrate -m MESSAGE"),
        app.command("db revision -m MESSAGE")
    );
    Ok(())
}

/// The README a new repository gets.
fn readme(app: &Application) -> String {
    format!(
        "A migration repository of {name}.\n\n\
         versions/ holds one TOML file per revision: the operations that take the database\n\
         from the revision before it (down_revision) to this one, and back. Run\n\
         `{name} db migrate -m MESSAGE` to write one from the models, `{name} db revision -m MESSAGE`\n\
         for an empty one to fill in by hand; review it, then run `{name} db upgrade`.\n",
        name = app.name
    )
}

pub fn write_revision(repo: &mut Repository, revision: Revision) -> anyhow::Result<()> {
    let path = repo.add(revision)?;
    println!("  Generating {} ...  done", path.display());
    Ok(())
}

pub fn squash(
    repo: &mut Repository,
    from: &str,
    to: &str,
    message: Option<String>,
) -> anyhow::Result<()> {
    let message = message.unwrap_or_else(|| format!("squash of {from} to {to}"));
    let squashed = crate::squash::squash(repo, from, to, &message, &now())?;
    println!("  Generating {} ...  done", squashed.path.display());
    println!(
        "Squashed {} revisions into {} (the same schema after it, checked by replay):",
        squashed.replaced.len(),
        squashed.id
    );
    for revision in &squashed.replaced {
        println!("  {}, {}", revision.id, revision.message);
    }
    if let Some(why) = &squashed.no_downgrade {
        println!("It cannot be downgraded: {why}.");
    }
    println!(
        "Keep their files until every database is at {} or past it: a database partway through them finishes the run from them.",
        squashed.id
    );
    Ok(())
}

pub(super) fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn merge_parents(repo: &Repository, texts: &[String]) -> anyhow::Result<Vec<String>> {
    let mut parents = BTreeSet::new();
    for text in texts {
        if text == "heads" {
            parents.extend(repo.graph().heads());
        } else {
            parents.insert(repo.resolve(text)?.id.clone());
        }
    }
    if parents.len() < 2 {
        anyhow::bail!(
            "a merge joins two or more revisions; {} given (the heads are: {})",
            parents.len(),
            repo.graph().heads().join(", ")
        );
    }
    Ok(repo
        .graph()
        .order()
        .iter()
        .filter(|id| parents.contains(*id))
        .cloned()
        .collect())
}

pub fn position(repo: &Repository, status: &Status) -> String {
    if status.current.is_empty() {
        return "<base>".to_string();
    }
    status
        .current
        .iter()
        .map(|id| listing::short(repo, repo.revision(id).expect("applied"), None))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn current(
    repo: &Repository,
    conn: &mut AnyConnection,
    url: &DatabaseUrl,
    verbose: bool,
) -> anyhow::Result<()> {
    let status = migrate::status(conn, repo)?;
    if verbose {
        println!("Current revision(s) for {url}:");
    }
    if status.is_empty()
        && let Some(takeover) = crate::import::find_takeover(conn, repo)?
    {
        let revision = repo.revision(&takeover.revision).expect("imported");
        println!(
            "{} (where {}'s {} table says the database is: taken over at the next `db upgrade`)",
            listing::short(repo, revision, None),
            takeover.tool,
            takeover.tool.history_table()
        );
        return Ok(());
    }
    for id in &status.current {
        let revision = repo.revision(id).expect("applied");
        let mut marks = String::new();
        if status.edited.contains(id) {
            marks.push_str(" (edited since it was applied)");
        }
        if let Some(expanded) = status.expanded.iter().find(|e| &e.revision == id) {
            marks.push_str(&format!(
                " (expanded side by side: the release built for it reads through {}; `db contract` once the release before it is gone)",
                expanded.view_schema
            ));
        }
        if verbose {
            println!("{}{marks}", listing::verbose(repo, revision, None));
        } else {
            println!("{}{marks}", listing::short(repo, revision, None));
        }
    }
    for stopped in &status.stopped {
        println!(
            "{} (its {} stopped after step {}: `db upgrade` goes on, `db downgrade` undoes it)",
            stopped.revision, stopped.direction, stopped.steps_done
        );
    }
    for partial in &status.partial {
        println!(
            "{} (partway through squash {}: `db upgrade` finishes its run)",
            partial.at, partial.squash
        );
    }
    for id in &status.unknown {
        match status.expanded.iter().find(|e| &e.revision == id) {
            Some(_) => println!(
                "{id} (not in {}: a later release's revision, expanded side by side; this release still reads the tables as they were)",
                repo.location()
            ),
            None => println!("{id} (not in {})", repo.location()),
        }
    }
    if status.current.is_empty() && status.unknown.is_empty() && status.partial.is_empty() {
        eprintln!("The database has no revision applied (it is at <base>).");
    }
    Ok(())
}

pub fn create_database(url: &DatabaseUrl) -> anyhow::Result<()> {
    let name = url.database_name().unwrap_or_default();
    match admin::create_database(url) {
        Ok(true) => println!("Created the database '{name}' on {url}"),
        Ok(false) => println!("The database '{name}' already exists on {url}"),
        Err(admin::AdminError::Sqlite { .. }) => {
            println!("{url} is a SQLite file; it is created when first used, nothing to do.")
        }
        Err(error) => return Err(error.into()),
    }
    Ok(())
}

/// `db models`: the declarations of the database's tables (those `ignored` left out unless
/// named), or of the tables named.
pub fn models(
    conn: &mut AnyConnection,
    tables: &[String],
    ignored: &[String],
) -> anyhow::Result<()> {
    let mut schema = crate::inspect::inspect(conn)?;
    schema.tables.retain(|table| {
        tables.contains(&table.name) || !crate::autogenerate::is_ignored(&table.name, ignored)
    });
    print!("{}", crate::declarations::declarations(&schema, tables)?);
    Ok(())
}

/// `db import TOOL DIR`: the tool's migrations as revisions after the head, in their order.
pub fn import(
    app: &Application,
    mut repo: Repository,
    tool: crate::import::Tool,
    dir: &Path,
) -> anyhow::Result<()> {
    if let Some(done) = repo
        .in_order()
        .find(|r| r.imported.as_ref().is_some_and(|i| i.tool == tool))
    {
        anyhow::bail!(
            "the repository already holds {tool} migrations (revision {}, from {}): import them once",
            done.id,
            done.source
        );
    }
    let migrations = crate::import::read_migrations(tool, dir)?;
    let head = repo.head()?.map(|r| r.id.clone());
    let created = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    for (migration, revision) in
        migrations
            .iter()
            .zip(crate::import::revisions(&migrations, head, &created))
    {
        let (id, message) = (revision.id.clone(), revision.message.clone());
        repo.add(revision)?;
        println!(
            "Importing {} as {id}, {message} ... done",
            migration.file.display()
        );
    }
    println!(
        "Next: {} takes over a database {tool} migrated, where its {} table says it is; a new database runs them all.",
        app.command("db upgrade"),
        tool.history_table()
    );
    Ok(())
}
