//! Squashing a run of revisions into one. The squash runs the run's operations in order,
//! in one transaction, and lists the revisions it replaces (`replaces`); their files stay
//! until every database is past them, because a database partway through the run finishes
//! it from them (see `migrate`). Revisions that followed the last of the run follow the
//! squash without their files being touched, so their checksums hold.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::compare::{CompareOptions, compare};
use crate::migrate::{MigrateError, replay};
use crate::repository::{Repository, RepositoryError};
use crate::revision::{Accepted, Revision};

#[derive(Debug, thiserror::Error)]
pub enum SquashError {
    #[error(transparent)]
    Repository(#[from] RepositoryError),
    #[error(transparent)]
    Migrate(Box<MigrateError>),
    #[error("a squash replaces two revisions or more; {0} alone is already one revision")]
    TooShort(String),
    #[error(
        "{to} does not follow {from} in a straight line: {reason}; give the first and the last revision of a run with no merges in it"
    )]
    NotALine {
        from: String,
        to: String,
        reason: String,
    },
    #[error(
        "revision {id} is followed by {others} as well as by the next revision of the run; a squash cannot replace a revision that another branch starts from (squash up to {id} instead)"
    )]
    BranchesOff { id: String, others: String },
    #[error(
        "revision {0} runs outside a transaction; squash the revisions before it and those after it separately"
    )]
    OutsideTransaction(String),
    #[error("the squash would not leave the schema the revisions it replaces leave: {0}")]
    SchemaDiffers(String),
}

impl From<MigrateError> for SquashError {
    fn from(error: MigrateError) -> Self {
        SquashError::Migrate(Box::new(error))
    }
}

/// What `squash` wrote.
#[derive(Debug)]
pub struct Squashed {
    pub path: PathBuf,
    pub id: String,
    /// The replaced revisions, in the order they ran.
    pub replaced: Vec<Revision>,
    /// Why the squash cannot be downgraded, if it cannot.
    pub no_downgrade: Option<String>,
}

/// Writes one revision replacing the run from `from` to `to` (ids or prefixes; `base` for
/// `from` is the first revision of the line), after checking by replay that it leaves the
/// same schema.
pub fn squash(
    repo: &mut Repository,
    from: &str,
    to: &str,
    message: &str,
    created: &str,
) -> Result<Squashed, SquashError> {
    let run = straight_run(repo, from, to)?;
    let first = &run[0];
    let last = run.last().expect("two or more");
    let mut squash = Revision::new(message, first.down.clone(), created);
    squash.replaces = run.iter().map(|r| r.id.clone()).collect();
    // The squash is on the lines the run was on, and waits for what the run waited for.
    let mut names = BTreeSet::new();
    squash.branch_labels = run
        .iter()
        .flat_map(|r| &r.branch_labels)
        .filter(|label| names.insert(label.to_string()))
        .cloned()
        .collect();
    squash.depends_on = run
        .iter()
        .flat_map(|r| &r.depends_on)
        .filter(|d| !squash.replaces.contains(d) && names.insert(d.to_string()))
        .cloned()
        .collect();
    squash.upgrade = run.iter().flat_map(|r| r.upgrade.clone()).collect();
    let irreversible = run
        .iter()
        .find(|r| r.downgrade.is_empty() && !r.upgrade.is_empty());
    let no_downgrade = irreversible.map(|r| {
        format!(
            "revision {} ({}) has no downgrade operations, so neither has the squash",
            r.id, r.message
        )
    });
    if irreversible.is_none() {
        squash.downgrade = run.iter().rev().flat_map(|r| r.downgrade.clone()).collect();
    }
    let mut rules = BTreeSet::new();
    squash.accept = run
        .iter()
        .flat_map(|r| &r.accept)
        .filter(|a| rules.insert(a.rule.clone()))
        .map(|a| Accepted {
            rule: a.rule.clone(),
            reason: a.reason.clone(),
        })
        .collect();
    squash.notes = vec![format!(
        "CHECK: this squash replaces {} revisions, from {} to {}; their files stay for databases partway through them. Once every database is at this revision or past it, they can be deleted.",
        run.len(),
        first.id,
        last.id
    )];
    squash
        .notes
        .extend(no_downgrade.iter().map(|n| format!("CHECK: {n}")));

    let before = repo.clone();
    let squash_id = squash.id.clone();
    let path = repo.add(squash)?;
    if let Err(difference) = same_schemas(&before, repo, &last.id, &squash_id) {
        // The file is ours and new: taking it back leaves the repository as it was.
        let _ = std::fs::remove_file(&path);
        *repo = before;
        return Err(difference);
    }
    Ok(Squashed {
        path,
        id: squash_id,
        replaced: run,
        no_downgrade,
    })
}

/// The revisions from `from` to `to`, oldest first, each the only follower of the one before.
fn straight_run(repo: &Repository, from: &str, to: &str) -> Result<Vec<Revision>, SquashError> {
    let to = repo.resolve(to)?.clone();
    let from = match from {
        // The first revision of the line that leads to `to`.
        "base" => {
            let mut first = to.clone();
            while let [one] = first.down.as_slice() {
                first = repo.revision(one).expect("in the graph").clone();
            }
            first
        }
        text => repo.resolve(text)?.clone(),
    };
    if from.id == to.id {
        return Err(SquashError::TooShort(from.id));
    }
    let not_a_line = |reason: String| SquashError::NotALine {
        from: from.id.clone(),
        to: to.id.clone(),
        reason,
    };
    let mut run = vec![to.clone()];
    let mut at = to.clone();
    while at.id != from.id {
        at = match at.down.as_slice() {
            [one] => repo.revision(one).expect("in the graph").clone(),
            [] => return Err(not_a_line(format!("{} is not before it", from.id))),
            _ => return Err(not_a_line(format!("{} is a merge", at.id))),
        };
        run.push(at.clone());
    }
    run.reverse();
    for pair in run.windows(2) {
        let others: Vec<String> = repo
            .in_order()
            .filter(|r| r.down.contains(&pair[0].id) && r.id != pair[1].id)
            .map(|r| r.id.clone())
            .collect();
        if !others.is_empty() {
            return Err(SquashError::BranchesOff {
                id: pair[0].id.clone(),
                others: others.join(", "),
            });
        }
    }
    if let Some(outside) = run.iter().find(|r| !r.transaction) {
        return Err(SquashError::OutsideTransaction(outside.id.clone()));
    }
    Ok(run)
}

/// The squash must leave what the last replaced revision left, and every head the same.
fn same_schemas(
    before: &Repository,
    after: &Repository,
    last: &str,
    squash: &str,
) -> Result<(), SquashError> {
    let exact = CompareOptions {
        detect_renames: false,
    };
    let everything = |repo: &Repository| repo.graph().order().iter().cloned().collect();
    let pairs = [
        (
            before.graph().ancestors_and_self(last),
            after.graph().ancestors_and_self(squash),
        ),
        (everything(before), everything(after)),
    ];
    for (old, new) in pairs {
        let differences: Vec<String> =
            compare(&replay(before, &old)?, &replay(after, &new)?, exact)
                .changes
                .into_iter()
                .map(|c| c.detected)
                .collect();
        if !differences.is_empty() {
            return Err(SquashError::SchemaDiffers(differences.join("; ")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Op;
    use crate::schema::{Column, ColumnType, Table};

    fn revision(id: &str, down: &[&str], table: &str) -> Revision {
        let mut revision = Revision::new(table, down.iter().map(|d| d.to_string()).collect(), "");
        revision.id = id.into();
        revision.upgrade = Table::new(table).id_column("id").creation_ops();
        revision.downgrade = vec![Op::DropTable {
            table: table.into(),
        }];
        revision
    }

    fn repository(revisions: &[Revision]) -> (tempfile::TempDir, Repository) {
        let dir = tempfile::tempdir().unwrap();
        Repository::init(&dir.path().join("m"), "").unwrap();
        let mut repo = Repository::open(&dir.path().join("m")).unwrap();
        for revision in revisions {
            repo.add(revision.clone()).unwrap();
        }
        (dir, repo)
    }

    #[test]
    fn a_squash_runs_the_replaced_operations_in_order_and_is_followed_by_their_follower() {
        let (dir, mut repo) = repository(&[
            revision("a1", &[], "one"),
            revision("b2", &["a1"], "two"),
            revision("c3", &["b2"], "three"),
        ]);
        let squashed = squash(&mut repo, "a1", "b2", "first two", "").unwrap();
        let reopened = Repository::open(&dir.path().join("m")).unwrap();
        let squash = reopened.revision(&squashed.id).unwrap();
        assert_eq!(squash.replaces, ["a1", "b2"]);
        assert_eq!(squash.upgrade.len(), 2);
        assert_eq!(
            squash.downgrade,
            [
                Op::DropTable {
                    table: "two".into()
                },
                Op::DropTable {
                    table: "one".into()
                }
            ]
        );
        assert_eq!(
            reopened.revision("c3").unwrap().down,
            [squashed.id.as_str()]
        );
        assert!(reopened.revision("a1").is_none());
        assert!(reopened.replaced("a1").is_some());
        let order: Vec<&str> = reopened.in_order().map(|r| r.id.as_str()).collect();
        assert_eq!(order, [squashed.id.as_str(), "c3"]);
    }

    #[test]
    fn a_run_with_a_branch_or_a_merge_in_it_is_refused() {
        let (_dir, mut repo) = repository(&[
            revision("a1", &[], "one"),
            revision("b2", &["a1"], "two"),
            revision("x9", &["a1"], "other"),
            revision("c3", &["b2", "x9"], "three"),
        ]);
        let error = squash(&mut repo, "a1", "b2", "m", "").unwrap_err();
        assert!(matches!(error, SquashError::BranchesOff { .. }), "{error}");
        let error = squash(&mut repo, "b2", "c3", "m", "").unwrap_err();
        assert!(matches!(error, SquashError::NotALine { .. }), "{error}");
        let error = squash(&mut repo, "a1", "a1", "m", "").unwrap_err();
        assert!(matches!(error, SquashError::TooShort(_)), "{error}");
        assert_eq!(repo.in_order().count(), 4, "nothing written");
    }

    #[test]
    fn a_revision_cannot_follow_the_middle_of_a_squashed_run() {
        let (dir, mut repo) =
            repository(&[revision("a1", &[], "one"), revision("b2", &["a1"], "two")]);
        squash(&mut repo, "a1", "b2", "both", "").unwrap();
        let late = revision("c3", &["a1"], "late");
        let versions = dir.path().join("m/versions");
        std::fs::write(versions.join(late.file_name()), late.to_toml()).unwrap();
        let error = Repository::open(&dir.path().join("m")).unwrap_err();
        assert!(
            matches!(error, RepositoryError::FollowsInsideSquash { .. }),
            "{error}"
        );
    }

    #[test]
    fn a_squash_keeps_the_tables_the_run_leaves() {
        let mut add = revision("b2", &["a1"], "two");
        add.upgrade = vec![Op::AddColumn {
            table: "one".into(),
            column: Column::new("note", ColumnType::Text),
            online: None,
        }];
        add.downgrade = vec![Op::DropColumn {
            table: "one".into(),
            column: "note".into(),
        }];
        let (_dir, mut repo) = repository(&[revision("a1", &[], "one"), add]);
        let squashed = squash(&mut repo, "a1", "b2", "both", "").unwrap();
        let schema = replay(&repo, &repo.graph().ancestors_and_self(&squashed.id)).unwrap();
        assert!(
            schema
                .table("one")
                .unwrap()
                .columns
                .iter()
                .any(|c| c.name == "note")
        );
    }
}
