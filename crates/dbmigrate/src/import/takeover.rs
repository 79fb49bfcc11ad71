//! A database another tool migrated, taken over at the imported revision of the last
//! version its history table records, after the checksums it recorded are found to be the
//! files' (sqlx, refinery): the history is written as if those revisions had run here.

use std::hash::{Hash, Hasher};

use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Binary, Bool, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl, sql_query};
use sha2::{Digest, Sha384};
use siphasher::sip::SipHasher13;

use super::{Imported, Tool};
use crate::connection::AnyConnection;
use crate::history;
use crate::inspect;
use crate::migrate::MigrateError;
use crate::ops::Op;
use crate::repository::Repository;
use crate::revision::Revision;
use crate::url::Dialect;

/// Where a database another tool migrated is taken over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Takeover {
    pub tool: Tool,
    /// The imported revision of the last version the tool ran.
    pub revision: String,
    /// How many of the tool's migrations ran.
    pub applied: usize,
}

impl std::fmt::Display for Takeover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "The database was migrated by {} ({} migration(s) in {}); it is taken over at revision {}, their last",
            self.tool,
            self.applied,
            self.tool.history_table(),
            self.revision
        )
    }
}

/// What the tool's history table says of one migration.
struct Ran {
    version: String,
    name: String,
    /// sqlx: the SHA-384 bytes; refinery: the checksum as decimal text.
    checksum: Vec<u8>,
    succeeded: bool,
}

#[derive(QueryableByName)]
struct SqlxRow {
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Text)]
    description: String,
    #[diesel(sql_type = Bool)]
    success: bool,
    #[diesel(sql_type = Binary)]
    checksum: Vec<u8>,
}

#[derive(QueryableByName)]
struct RefineryRow {
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    checksum: String,
}

#[derive(QueryableByName)]
struct DieselRow {
    #[diesel(sql_type = Text)]
    version: String,
}

fn what_ran(conn: &mut AnyConnection, tool: Tool) -> Result<Vec<Ran>, MigrateError> {
    let table = tool.history_table();
    let bigint = match conn.dialect() {
        Dialect::Mysql => "SIGNED",
        _ => "BIGINT",
    };
    Ok(match tool {
        Tool::Sqlx => sql_query(format!(
            "SELECT version, description, success, checksum FROM {table} ORDER BY version"
        ))
        .load::<SqlxRow>(conn)?
        .into_iter()
        .map(|row| Ran {
            version: row.version.to_string(),
            name: row.description,
            checksum: row.checksum,
            succeeded: row.success,
        })
        .collect(),
        Tool::Refinery => sql_query(format!(
            "SELECT CAST(version AS {bigint}) AS version, COALESCE(name, '') AS name, \
             COALESCE(checksum, '') AS checksum FROM {table} ORDER BY version"
        ))
        .load::<RefineryRow>(conn)?
        .into_iter()
        .map(|row| Ran {
            version: row.version.to_string(),
            name: row.name,
            checksum: row.checksum.into_bytes(),
            succeeded: true,
        })
        .collect(),
        Tool::Diesel => sql_query(format!("SELECT version FROM {table} ORDER BY version"))
            .load::<DieselRow>(conn)?
            .into_iter()
            .map(|row| Ran {
                version: row.version,
                name: String::new(),
                checksum: Vec::new(),
                succeeded: true,
            })
            .collect(),
    })
}

/// The revision's SQL as the tool read it from its file.
fn imported_sql(revision: &Revision) -> &str {
    match revision.upgrade.as_slice() {
        [Op::Sql { sql, .. }] => sql,
        _ => "",
    }
}

/// Whether the checksum the tool recorded is the one it computes for the revision's file.
fn checksum_agrees(tool: Tool, ran: &Ran, imported: &Imported, sql: &str) -> bool {
    match tool {
        Tool::Diesel => true,
        Tool::Sqlx => ran.checksum == Sha384::digest(sql.as_bytes()).as_slice(),
        Tool::Refinery => {
            let recorded = String::from_utf8_lossy(&ran.checksum);
            let Ok(version) = imported.version.parse::<i64>() else {
                return false;
            };
            let narrow = i32::try_from(version)
                .ok()
                .map(|v| refinery_checksum(&imported.name, v, sql));
            let wide = refinery_checksum(&imported.name, version, sql);
            [narrow, Some(wide)]
                .into_iter()
                .flatten()
                .any(|sum| sum.to_string() == recorded.trim())
        }
    }
}

/// refinery's checksum: SipHash-1-3 with zero keys over the name, the version and the SQL,
/// each written by its `Hash` implementation.
pub fn refinery_checksum<V: Hash>(name: &str, version: V, sql: &str) -> u64 {
    let mut hasher = SipHasher13::new();
    name.hash(&mut hasher);
    version.hash(&mut hasher);
    sql.hash(&mut hasher);
    hasher.finish()
}

/// The takeover a database with no history of ours needs, if the repository holds imported
/// revisions and the database the history table of their tool. Refused when the table
/// records a version the files do not have, a failed migration, a checksum other than the
/// file's, or a version run while one before it was not.
pub fn find_takeover(
    conn: &mut AnyConnection,
    repo: &Repository,
) -> Result<Option<Takeover>, MigrateError> {
    let imported: Vec<(&Revision, &Imported)> = repo
        .graph()
        .order()
        .iter()
        .filter_map(|id| repo.revision(id))
        .filter_map(|r| r.imported.as_ref().map(|i| (r, i)))
        .collect();
    let Some((_, first)) = imported.first() else {
        return Ok(None);
    };
    let tool = first.tool;
    let tables = inspect::table_names(conn)?;
    if !tables.iter().any(|t| t == tool.history_table()) {
        return Ok(None);
    }
    let ran = what_ran(conn, tool)?;
    let mut last = None;
    for (position, ran) in ran.iter().enumerate() {
        let refused = |why: String| MigrateError::ImportedHistory {
            tool,
            version: ran.version.clone(),
            why,
        };
        let Some(at) = imported.iter().position(|(_, i)| i.version == ran.version) else {
            return Err(refused(format!(
                "{} records it ({}), but no imported revision has it: import the tool's migrations again with the missing file",
                tool.history_table(),
                ran.name
            )));
        };
        let (revision, details) = imported[at];
        if !ran.succeeded {
            return Err(refused(format!(
                "{} records it as failed: repair the database with {tool} first",
                tool.history_table()
            )));
        }
        if !checksum_agrees(tool, ran, details, imported_sql(revision)) {
            return Err(refused(format!(
                "the checksum {tool} recorded is not that of the SQL in {}: it (or the file it was imported from) changed after {tool} ran it",
                revision.source
            )));
        }
        if at != position {
            return Err(refused(format!(
                "it ran, but version {} before it did not",
                imported[position].1.version
            )));
        }
        last = Some(revision.id.clone());
    }
    Ok(last.map(|revision| Takeover {
        tool,
        revision,
        applied: ran.len(),
    }))
}

/// Writes the history of `takeover`: its revision and all it follows.
pub fn take_over(
    conn: &mut AnyConnection,
    repo: &Repository,
    takeover: &Takeover,
) -> Result<(), MigrateError> {
    let dialect = conn.dialect();
    let records = crate::migrate::history_up_to(repo, &takeover.revision, dialect);
    history::ensure(conn)?;
    conn.transaction(|conn| conn.batch_execute(&records))?;
    Ok(())
}
