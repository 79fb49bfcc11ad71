//! Round trips on a scratch database: each revision, in order, goes up, down and up again,
//! and after each step the live catalog must be the schema the revision files say (their
//! operations replayed). A downgrade that forgets a column is found here, before it is
//! needed on a real database. (Diesel's `redo` runs the cycle without comparing anything.)

use std::collections::BTreeSet;

use super::{DowngradeTarget, Event, MigrateError, UpgradeTarget, downgrade, replay, upgrade};
use crate::compare::{CompareOptions, compare};
use crate::connection::AnyConnection;
use crate::inspect::inspect;
use crate::repository::Repository;
use crate::schema::Schema;
use crate::url::DatabaseUrl;

/// Which step left the database other than its revision says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Upgrade,
    Downgrade,
    UpgradeAgain,
}

/// A revision whose step does not leave the schema its files say.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(.revision, .message, *.stage, .differences))]
pub struct Mismatch {
    pub revision: String,
    pub message: String,
    pub stage: Stage,
    /// What the database has, compared with what it should have.
    pub differences: Vec<String>,
}

fn describe(revision: &str, message: &str, stage: Stage, differences: &[String]) -> String {
    let what = match stage {
        Stage::Upgrade => "its upgrade does not build the schema its operations say",
        Stage::Downgrade => "its downgrade does not restore the schema before it",
        Stage::UpgradeAgain => {
            "upgraded again after its downgrade, it does not build the same schema"
        }
    };
    format!(
        "revision {revision} ({message}): {what}; the database, compared with what it should be: {}",
        differences.join(", ")
    )
}

/// What a round trip reports as it goes.
pub enum Step<'a> {
    /// A revision went up, down and up again, each time as its files say.
    Verified(&'a crate::revision::Revision),
}

/// Runs every revision of `repo` up, down and up on `conn`, an empty scratch database;
/// the first mismatch, if there is one.
pub fn verify(
    conn: &mut AnyConnection,
    url: &DatabaseUrl,
    repo: &Repository,
    ignored: &[String],
    mut on: impl FnMut(Step),
) -> Result<Option<Mismatch>, MigrateError> {
    let dialect = conn.dialect();
    let mut applied: BTreeSet<String> = BTreeSet::new();
    let quiet = |_: Event| {};
    for revision in repo.in_order() {
        let before = replay(repo, &applied)?;
        let mut after_set = applied.clone();
        after_set.insert(revision.id.clone());
        let after = replay(repo, &after_set)?;
        let check = |conn: &mut AnyConnection, expected: &Schema, stage| {
            let mut live = inspect(conn)?;
            // Tables the application keeps outside its revisions' schema.
            live.tables
                .retain(|t| !crate::autogenerate::is_ignored(&t.name, ignored));
            let live = live.comparable_for(dialect);
            let exact = CompareOptions {
                detect_renames: false,
            };
            let differences: Vec<String> = compare(&expected.comparable_for(dialect), &live, exact)
                .changes
                .into_iter()
                .map(|c| c.detected.trim_start_matches("Detected ").to_string())
                .collect();
            Ok::<_, MigrateError>((!differences.is_empty()).then(|| Mismatch {
                revision: revision.id.clone(),
                message: revision.message.clone(),
                stage,
                differences,
            }))
        };
        let to_revision = UpgradeTarget::Revision(revision.id.clone());
        upgrade(conn, url, repo, &to_revision, quiet)?;
        if let Some(mismatch) = check(conn, &after, Stage::Upgrade)? {
            return Ok(Some(mismatch));
        }
        downgrade(conn, url, repo, &DowngradeTarget::Relative(1), quiet)?;
        if let Some(mismatch) = check(conn, &before, Stage::Downgrade)? {
            return Ok(Some(mismatch));
        }
        upgrade(conn, url, repo, &to_revision, quiet)?;
        if let Some(mismatch) = check(conn, &after, Stage::UpgradeAgain)? {
            return Ok(Some(mismatch));
        }
        applied = after_set;
        on(Step::Verified(revision));
    }
    Ok(None)
}
