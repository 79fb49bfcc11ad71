//! Lines of revisions: branch labels (Alembic's `branch_labels`), what a label names, and
//! the steps along a line a target can take (`LABEL@head`, `LABEL@+2`, `LABEL@-1`).

use std::collections::{BTreeMap, BTreeSet};

use super::{Graph, GraphError, Node};

/// How far along a line a target goes: `LABEL@head`, `LABEL@+2`, `LABEL@-1`, `LABEL@base`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchStep {
    Head,
    Heads,
    Base,
    Up(usize),
    Down(usize),
}

impl BranchStep {
    /// Splits `LABEL@STEP` into the line's name and the step; `None` without an `@`.
    pub fn split(text: &str) -> Option<Result<(&str, BranchStep), GraphError>> {
        let (branch, step) = text.split_once('@')?;
        let bad = || GraphError::BadBranchStep(step.to_string());
        if branch.is_empty() {
            return Some(Err(bad()));
        }
        let count = |n: &str| n.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(bad);
        let step = match step {
            "head" => Ok(BranchStep::Head),
            "heads" => Ok(BranchStep::Heads),
            "base" => Ok(BranchStep::Base),
            _ if step.starts_with('+') => count(&step[1..]).map(BranchStep::Up),
            _ if step.starts_with('-') => count(&step[1..]).map(BranchStep::Down),
            _ => Err(bad()),
        };
        Some(step.map(|step| (branch, step)))
    }
}

/// Words a branch label cannot be: they already mean something as a target.
const RESERVED: &[&str] = &["head", "heads", "base", "current"];

impl Graph {
    /// The revision a branch label is on.
    pub fn labelled(&self, label: &str) -> Option<&str> {
        self.labels.get(label).map(String::as_str)
    }

    /// The line a branch label (or a revision) names: the revision, every revision that
    /// follows it, and those it follows back to where history last branched.
    pub fn branch(&self, name: &str) -> Result<BTreeSet<String>, GraphError> {
        let start = self.resolve(name)?;
        let mut line = self.reach(&start, |node| {
            self.nodes
                .values()
                .filter(|other| other.down.contains(&node.id))
                .map(|other| &other.id)
                .collect::<Vec<_>>()
        });
        let branch_points: BTreeSet<String> = self.branch_points().into_iter().collect();
        let mut current = start;
        while let Some(node) = self.nodes.get(&current) {
            match node.down.as_slice() {
                [parent] if !branch_points.contains(parent) => {
                    line.insert(parent.clone());
                    current = parent.clone();
                }
                _ => break,
            }
        }
        Ok(line)
    }

    /// The heads of the line `name` names.
    pub fn branch_heads(&self, name: &str) -> Result<Vec<String>, GraphError> {
        let line = self.branch(name)?;
        Ok(self
            .heads()
            .into_iter()
            .filter(|h| line.contains(h))
            .collect())
    }

    /// The labels of the lines revision `id` is on.
    pub fn lines_through(&self, id: &str) -> Vec<&str> {
        self.labels
            .keys()
            .filter(|label| self.branch(label).is_ok_and(|line| line.contains(id)))
            .map(String::as_str)
            .collect()
    }

    /// Heads that share a line: history that branched and was not merged. Heads of lines
    /// told apart by branch labels are not (a plugin's line beside the application's).
    pub fn unmerged_heads(&self) -> Vec<String> {
        let mut by_line: BTreeMap<Vec<&str>, Vec<String>> = BTreeMap::new();
        for head in self.heads() {
            by_line
                .entry(self.lines_through(&head))
                .or_default()
                .push(head);
        }
        let mut unmerged: Vec<String> = by_line
            .into_values()
            .filter(|h| h.len() > 1)
            .flatten()
            .collect();
        unmerged.sort_by_key(|id| self.order.iter().position(|o| o == id));
        unmerged
    }
}

/// Each branch label and the revision it is on, checked.
pub(super) fn labels_of(
    nodes: &BTreeMap<String, Node>,
) -> Result<BTreeMap<String, String>, GraphError> {
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    for node in nodes.values() {
        for label in &node.branch_labels {
            let bad = |why| GraphError::BadLabel {
                revision: node.id.clone(),
                label: label.clone(),
                why,
            };
            if label.is_empty()
                || label.contains(['@', ':', ','])
                || label.chars().any(char::is_whitespace)
            {
                return Err(bad("is empty or holds @, :, a comma or a space"));
            }
            if RESERVED.contains(&label.as_str()) || label.starts_with(['+', '-']) {
                return Err(bad("already means something as a target"));
            }
            if nodes.contains_key(label) {
                return Err(bad("is a revision's id"));
            }
            if let Some(first) = labels.insert(label.clone(), node.id.clone()) {
                return Err(GraphError::DuplicateLabel {
                    label: label.clone(),
                    first,
                    second: node.id.clone(),
                });
            }
        }
    }
    Ok(labels)
}
