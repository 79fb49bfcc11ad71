//! Taking over a database that has the tables but no history of ours, such as one made by
//! Flask-Migrate: when its schema is the schema of one of the repository's revisions
//! (replayed from the revision files, not trusted from an id), the history is written as if
//! that revision and those before it had run here, and upgrading goes on from there.
//! Revision ids alone prove nothing: a reader's own Flask database has ids of its own.

use std::fmt;

use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{QueryableByName, RunQueryDsl, sql_query};

use super::{MigrateError, replay};
use crate::apply;
use crate::compare::{CompareOptions, compare, same_reference};
use crate::connection::AnyConnection;
use crate::history;
use crate::inspect;
use crate::ops::Op;
use crate::repository::Repository;
use crate::revision::Revision;
use crate::schema::{ForeignKey, Schema};

/// A database to take over at a revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adoption {
    pub revision: String,
    pub message: String,
    /// What Alembic's `alembic_version` table says, when the database has one.
    pub alembic_version: Vec<String>,
    /// Foreign keys named otherwise than the revision names them, as
    /// `(table, live name, revision's name)`: renamed when the database is taken over, so
    /// that later revisions find them by their names.
    pub renamed_keys: Vec<(String, String, String)>,
}

impl fmt::Display for Adoption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "The database has tables but no migration history")?;
        if !self.alembic_version.is_empty() {
            write!(
                f,
                " (it was made by Alembic or Flask-Migrate, at their revision {})",
                self.alembic_version.join(", ")
            )?;
        }
        write!(
            f,
            "; its schema is exactly that of revision {} ({}), so it is taken over at that revision",
            self.revision, self.message
        )?;
        for (table, from, to) in &self.renamed_keys {
            write!(f, "; foreign key {from} of {table} is renamed {to}")?;
        }
        Ok(())
    }
}

/// What the live schema matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    One(Adoption),
    /// Several revisions leave this same schema (ones that change only data), and nothing
    /// tells which of them ran.
    Several(Vec<String>),
    /// No revision: how the database differs from the repository's head.
    None(Vec<String>),
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    version_num: String,
}

/// The revisions Alembic's table records, or nothing when there is no such table.
fn alembic_versions(conn: &mut AnyConnection) -> Result<Vec<String>, MigrateError> {
    if !inspect::table_names(conn)?
        .iter()
        .any(|t| t == "alembic_version")
    {
        return Ok(Vec::new());
    }
    let rows: Vec<Version> = sql_query("SELECT version_num FROM alembic_version").load(conn)?;
    Ok(rows.into_iter().map(|r| r.version_num).collect())
}

/// The revision whose schema the database has, if exactly one does.
pub fn find(conn: &mut AnyConnection, repo: &Repository) -> Result<Match, MigrateError> {
    let dialect = conn.dialect();
    let live = inspect::inspect(conn)?.comparable_for(dialect);
    let versions = alembic_versions(conn)?;
    let exact = CompareOptions {
        detect_renames: false,
    };
    let mut matching = Vec::new();
    for revision in candidates(repo) {
        let schema = replay(repo, &super::reached_at(repo, &revision.id))?;
        let schema = schema.comparable_for(dialect);
        if compare(&live, &schema, exact).is_empty() {
            matching.push((revision, schema));
        }
    }
    let chosen = match matching.len() {
        0 => {
            let head = replay(repo, &repo.graph().order().iter().cloned().collect())?
                .comparable_for(dialect);
            let differences = compare(&live, &head, exact)
                .changes
                .into_iter()
                .map(|c| c.detected)
                .collect();
            return Ok(Match::None(differences));
        }
        1 => matching.remove(0),
        _ => match matching.iter().position(|(r, _)| versions.contains(&r.id)) {
            Some(index) => matching.remove(index),
            None => {
                return Ok(Match::Several(
                    matching.into_iter().map(|(r, _)| r.id.clone()).collect(),
                ));
            }
        },
    };
    let (revision, schema) = chosen;
    Ok(Match::One(Adoption {
        revision: revision.id.clone(),
        message: revision.message.clone(),
        alembic_version: versions,
        renamed_keys: renamed_keys(&live, &schema),
    }))
}

/// The revisions a database can be taken over at: those of the graph, and those a squash
/// replaced whose files are here, but the last of each run (the squash itself stands for it).
fn candidates(repo: &Repository) -> Vec<&Revision> {
    let mut candidates = Vec::new();
    for revision in repo.in_order() {
        if let Some((_, run)) = revision.replaces.split_last() {
            candidates.extend(run.iter().filter_map(|id| repo.replaced(id)));
        }
        candidates.push(revision);
    }
    candidates
}

fn renamed_keys(live: &Schema, wanted: &Schema) -> Vec<(String, String, String)> {
    let mut renamed = Vec::new();
    for table in &wanted.tables {
        let Some(live_table) = live.table(&table.name) else {
            continue;
        };
        for key in &table.foreign_keys {
            if let Some(live_key) = live_table
                .foreign_keys
                .iter()
                .find(|l| same_reference(l, key) && l.name != key.name)
            {
                renamed.push((table.name.clone(), live_key.name.clone(), key.name.clone()));
            }
        }
    }
    renamed
}

/// Writes the history of `adoption` (the revision and all it follows) and renames the
/// foreign keys, in one transaction where the database allows.
pub fn take_over(
    conn: &mut AnyConnection,
    repo: &Repository,
    adoption: &Adoption,
) -> Result<(), MigrateError> {
    let dialect = conn.dialect();
    let live = inspect::inspect(conn)?;
    let mut ops = Vec::new();
    for (table, from, to) in &adoption.renamed_keys {
        let key = live
            .table(table)
            .and_then(|t| t.foreign_keys.iter().find(|k| k.name == *from))
            .expect("found when matched");
        let renamed = ForeignKey {
            name: to.clone(),
            ..key.clone()
        };
        match dialect.rename_foreign_key(table, from, &renamed) {
            Some(sql) => ops.push(Op::Sql {
                sql,
                sqlite: None,
                postgresql: None,
                mysql: None,
            }),
            None => ops.extend([
                Op::DropForeignKey {
                    table: table.clone(),
                    name: from.clone(),
                },
                Op::CreateForeignKey {
                    table: table.clone(),
                    name: to.clone(),
                    columns: key.columns.clone(),
                    ref_table: key.ref_table.clone(),
                    ref_columns: key.ref_columns.clone(),
                    on_delete: key.on_delete,
                    online: None,
                },
            ]),
        }
    }
    let records = super::history_up_to(repo, &adoption.revision, dialect);
    history::ensure(conn)?;
    apply::apply(conn, &ops, &live, |c| c.batch_execute(&records)).map_err(|cause| {
        MigrateError::TakeOver {
            revision: adoption.revision.clone(),
            cause,
        }
    })?;
    Ok(())
}
