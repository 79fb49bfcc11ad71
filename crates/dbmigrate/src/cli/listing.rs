//! How revisions are listed by `db history`, `db heads`, `db branches`, `db current` and
//! `db show`: Alembic's lines (`e517276bb1c2 -> 780739b227a7 (head), posts table`) and its
//! verbose blocks.

use std::collections::{BTreeMap, BTreeSet};

use crate::{Repository, Revision};

/// The revisions the database is at, when the listing should mark them.
pub type Current<'a> = Option<&'a BTreeSet<String>>;

fn children(repo: &Repository) -> BTreeMap<&str, Vec<&str>> {
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for revision in repo.in_order() {
        for down in &revision.down {
            children.entry(down).or_default().push(&revision.id);
        }
    }
    children
}

fn markers(repo: &Repository, revision: &Revision, current: Current) -> String {
    let mut out = String::new();
    for label in repo.graph().lines_through(&revision.id) {
        out.push_str(&format!(" ({label})"));
    }
    if repo.graph().heads().contains(&revision.id) {
        out.push_str(" (head)");
    }
    if children(repo)
        .get(revision.id.as_str())
        .is_some_and(|c| c.len() > 1)
    {
        out.push_str(" (branchpoint)");
    }
    if revision.down.len() > 1 {
        out.push_str(" (mergepoint)");
    }
    if current.is_some_and(|c| c.contains(&revision.id)) {
        out.push_str(" (current)");
    }
    out
}

fn down_text(revision: &Revision) -> String {
    if revision.down.is_empty() {
        "<base>".to_string()
    } else {
        revision.down.join(", ")
    }
}

/// `<down> -> <id> (markers), <message>`
pub fn line(repo: &Repository, revision: &Revision, current: Current) -> String {
    format!(
        "{} -> {}{}, {}",
        down_text(revision),
        revision.id,
        markers(repo, revision, current),
        revision.message
    )
}

/// `<id> (markers)`
pub fn short(repo: &Repository, revision: &Revision, current: Current) -> String {
    format!("{}{}", revision.id, markers(repo, revision, current))
}

pub fn verbose(repo: &Repository, revision: &Revision, current: Current) -> String {
    let mut out = format!("Rev: {}\n", short(repo, revision, current));
    match revision.down.as_slice() {
        [] => out.push_str("Parent: <base>\n"),
        [one] => out.push_str(&format!("Parent: {one}\n")),
        several => out.push_str(&format!("Merges: {}\n", several.join(", "))),
    }
    if !revision.depends_on.is_empty() {
        out.push_str(&format!(
            "Also depends on: {}\n",
            revision.depends_on.join(", ")
        ));
    }
    if let Some(branches) = children(repo).get(revision.id.as_str())
        && branches.len() > 1
    {
        out.push_str(&format!("Branches into: {}\n", branches.join(", ")));
    }
    let lines = repo.graph().lines_through(&revision.id);
    if !lines.is_empty() {
        out.push_str(&format!("Branch names: {}\n", lines.join(", ")));
    }
    out.push_str(&format!("Path: {}\n\n", revision.source));
    out.push_str(&format!("    {}\n\n", revision.message));
    out.push_str(&format!("    Revision ID: {}\n", revision.id));
    out.push_str(&format!("    Revises: {}\n", revision.down.join(", ")));
    out.push_str(&format!("    Create Date: {}\n", revision.created));
    if !revision.replaces.is_empty() {
        out.push_str(&format!("    Replaces: {}\n", revision.replaces.join(", ")));
    }
    out
}

/// `db show`: the verbose block and what the revision does, each way.
pub fn show(repo: &Repository, revision: &Revision, current: Current) -> String {
    let mut out = verbose(repo, revision, current);
    for (title, ops) in [
        ("Upgrade", &revision.upgrade),
        ("Downgrade", &revision.downgrade),
    ] {
        out.push_str(&format!("\n{title}:\n"));
        if ops.is_empty() {
            out.push_str("    (nothing)\n");
        }
        for op in ops {
            out.push_str(&format!("    {}\n", op.describe()));
        }
    }
    out
}

/// `db history`: newest first, limited to `range` (`FROM:TO`, either end optional).
pub fn history(
    repo: &Repository,
    range: Option<&str>,
    verbose_blocks: bool,
    current: Current,
) -> anyhow::Result<String> {
    let selected = match range {
        Some(range) => in_range(repo, range, current)?,
        None => repo.graph().order().iter().cloned().collect(),
    };
    let mut out = String::new();
    for revision in repo.in_order().rev().filter(|r| selected.contains(&r.id)) {
        if verbose_blocks {
            out.push_str(&verbose(repo, revision, current));
            out.push('\n');
        } else {
            out.push_str(&line(repo, revision, current));
            out.push('\n');
        }
    }
    Ok(out)
}

fn in_range(repo: &Repository, range: &str, current: Current) -> anyhow::Result<BTreeSet<String>> {
    let Some((from, to)) = range.split_once(':') else {
        anyhow::bail!("'{range}' is not a range: write FROM:TO, for example base:head or e517:");
    };
    let graph = repo.graph();
    let all: BTreeSet<String> = graph.order().iter().cloned().collect();
    let ends = |text: &str| -> anyhow::Result<Option<Vec<String>>> {
        Ok(match text {
            "" | "base" | "head" | "heads" => None,
            "current" => Some(
                current
                    .ok_or_else(|| anyhow::anyhow!("'current' needs the database"))?
                    .iter()
                    .cloned()
                    .collect(),
            ),
            id => Some(vec![repo.resolve(id)?.id.clone()]),
        })
    };
    let below: BTreeSet<String> = match ends(to)? {
        None => all.clone(),
        Some(ids) => ids
            .iter()
            .flat_map(|id| graph.ancestors_and_self(id))
            .collect(),
    };
    let above: BTreeSet<String> = match ends(from)? {
        None => all.clone(),
        Some(ids) => all
            .iter()
            .filter(|id| {
                let ancestors = graph.ancestors_and_self(id);
                ids.iter().any(|start| ancestors.contains(start))
            })
            .cloned()
            .collect(),
    };
    Ok(below.intersection(&above).cloned().collect())
}

/// `db branches`: each branch point and the revisions that follow it.
pub fn branches(repo: &Repository, verbose_blocks: bool) -> String {
    let children = children(repo);
    let mut out = String::new();
    for id in repo.graph().branch_points() {
        let revision = repo.revision(&id).expect("in the graph");
        if verbose_blocks {
            out.push_str(&verbose(repo, revision, None));
        } else {
            out.push_str(&format!("{}\n", short(repo, revision, None)));
        }
        for child in &children[id.as_str()] {
            let child = repo.revision(child).expect("in the graph");
            out.push_str(&format!(
                "    -> {}, {}\n",
                short(repo, child, None),
                child.message
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(id: &str, down: &[&str], message: &str) -> String {
        let down: Vec<String> = down.iter().map(|d| format!("\"{d}\"")).collect();
        format!(
            "revision = \"{id}\"\ndown_revision = [{}]\nmessage = \"{message}\"\n",
            down.join(", ")
        )
    }

    fn branched() -> Repository {
        let files = [
            file("a1", &[], "users table"),
            file("b2", &["a1"], "posts table"),
            file("b3", &["a1"], "about me"),
        ];
        let named: Vec<(&str, &str)> = files.iter().map(|f| ("f.toml", f.as_str())).collect();
        Repository::built_in("test", &named).unwrap()
    }

    #[test]
    fn history_lists_newest_first_with_alembics_markers() {
        let repo = branched();
        let current = BTreeSet::from(["b2".to_string()]);
        assert_eq!(
            history(&repo, None, false, Some(&current)).unwrap(),
            "a1 -> b3 (head), about me\n\
             a1 -> b2 (head) (current), posts table\n\
             <base> -> a1 (branchpoint), users table\n"
        );
    }

    #[test]
    fn a_range_keeps_what_lies_between_its_ends() {
        let repo = branched();
        let listed = history(&repo, Some("a1:b2"), false, None).unwrap();
        assert_eq!(listed.lines().count(), 2, "{listed}");
        let listed = history(&repo, Some("b3:"), false, None).unwrap();
        assert_eq!(listed, "a1 -> b3 (head), about me\n");
        assert!(history(&repo, Some("b3"), false, None).is_err());
    }

    #[test]
    fn branches_show_where_history_forks() {
        assert_eq!(
            branches(&branched(), false),
            "a1 (branchpoint)\n    -> b2 (head), posts table\n    -> b3 (head), about me\n"
        );
    }
}
