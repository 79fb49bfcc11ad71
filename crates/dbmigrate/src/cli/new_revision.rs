//! Where a new revision goes (`db revision`, `db migrate`): after the head, after another
//! revision (`--head`, `--splice`), or at the start of a line of its own (`--head base`),
//! with the names of its line (`--branch-label`) and what it waits for (`--depends-on`), as
//! Alembic spells them.

use clap::Args;

use super::Application;
use crate::{Repository, Revision};

/// The options of a new revision, shared by `db revision` and `db migrate`.
#[derive(Args, Debug, Default, Clone)]
pub struct NewRevision {
    #[arg(short, long)]
    pub message: Option<String>,
    /// The revision the new one follows: a head, LABEL@head, or base to start a line of its
    /// own [default: the head]
    #[arg(long, value_name = "REVISION")]
    pub head: Option<String>,
    /// Let --head name a revision that is not a head: the new revision starts a branch there.
    #[arg(long)]
    pub splice: bool,
    /// A name for the new revision's line, for targets such as LABEL@head; repeat for several.
    #[arg(long = "branch-label", value_name = "LABEL")]
    pub branch_labels: Vec<String>,
    /// A revision (or branch label) of another line that must be applied before the new one,
    /// which does not follow it; repeat for several.
    #[arg(long = "depends-on", value_name = "REVISION")]
    pub depends_on: Vec<String>,
    /// The new revision's id, instead of a generated one.
    #[arg(long, value_name = "ID", value_parser = super::revision_id)]
    pub rev_id: Option<String>,
}

impl NewRevision {
    pub fn message(&self) -> &str {
        self.message.as_deref().unwrap_or_default()
    }

    /// The revisions the new one follows: the head, `--head`'s revision, or none for base.
    pub fn follows(&self, repo: &Repository, app: &Application) -> anyhow::Result<Vec<String>> {
        let Some(text) = self.head.as_deref() else {
            let heads = repo.graph().heads();
            if heads.len() > 1 {
                anyhow::bail!(
                    "the repository has several heads ({}): name the one the new revision follows with --head (a revision or LABEL@head), start a line of its own with --head base, or join them first with {}",
                    heads.join(", "),
                    app.command("db merge -m MESSAGE heads")
                );
            }
            return Ok(heads);
        };
        if text == "base" {
            return Ok(Vec::new());
        }
        let id = repo.resolve(text)?.id.clone();
        if !self.splice && !repo.graph().heads().contains(&id) {
            anyhow::bail!(
                "{id} is not a head: a revision after it would start a branch in the middle of history; pass --splice if that is what you mean"
            );
        }
        Ok(vec![id])
    }

    /// `revision` with the id, branch labels and dependencies asked for. A dependency
    /// given as a branch label stays a label (it names the line wherever it goes); one
    /// given as a revision is written as its whole id.
    pub fn shape(&self, repo: &Repository, mut revision: Revision) -> anyhow::Result<Revision> {
        if let Some(id) = &self.rev_id {
            revision.id = id.clone();
        }
        revision.branch_labels = self.branch_labels.clone();
        revision.depends_on = self
            .depends_on
            .iter()
            .map(|text| match repo.graph().labelled(text) {
                Some(_) => Ok(text.clone()),
                None => Ok(repo.resolve(text)?.id.clone()),
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(revision)
    }
}
