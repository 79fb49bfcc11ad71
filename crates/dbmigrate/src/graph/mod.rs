//! The revision graph: each revision names the revisions it follows (none for a base,
//! several for a merge), and may name others it depends on without following them (a
//! revision of another line that must run first, as Alembic's `depends_on`). A branch label
//! names a line of revisions, as Alembic's `branch_labels` do: the labelled revision, the
//! revisions after it, and those before it back to where history last branched. Problems
//! with the graph are named errors, each with what to do.

use std::collections::{BTreeMap, BTreeSet};

mod lines;

pub use lines::BranchStep;
use lines::labels_of;

/// What the graph needs of a revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    pub id: String,
    pub down: Vec<String>,
    /// Revisions (ids, unique prefixes or branch labels) that must be applied before this
    /// one, which does not follow them: they stay on their own lines, with their own heads.
    pub depends_on: Vec<String>,
    /// Names of the line of revisions this one is on.
    pub branch_labels: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("two revision files have the id '{0}'; give one of them a new id")]
    DuplicateId(String),
    #[error(
        "revision '{revision}' follows '{missing}', which is not in the repository; fix its down_revision"
    )]
    MissingDownRevision { revision: String, missing: String },
    #[error("the revisions {} form a cycle; fix their down_revision so that history runs one way", .0.join(" -> "))]
    Cycle(Vec<String>),
    #[error("no revision matches '{0}'")]
    UnknownRevision(String),
    #[error("'{prefix}' matches several revisions ({}); give more characters", .matches.join(", "))]
    AmbiguousPrefix {
        prefix: String,
        matches: Vec<String>,
    },
    #[error("the repository has several heads ({})", .0.join(", "))]
    MultipleHeads(Vec<String>),
    #[error(
        "revision '{revision}' depends on '{missing}', which is neither a revision nor a branch label of the repository; fix its depends_on"
    )]
    MissingDependency { revision: String, missing: String },
    #[error(
        "the branch label '{label}' is on two revisions, {first} and {second}; a label names one line: rename one of them"
    )]
    DuplicateLabel {
        label: String,
        first: String,
        second: String,
    },
    #[error(
        "revision '{revision}' has the branch label '{label}', which {why}; choose another label"
    )]
    BadLabel {
        revision: String,
        label: String,
        why: &'static str,
    },
    #[error(
        "the line '{branch}' has several heads ({}); name one of them, or use {branch}@heads",
        .heads.join(", ")
    )]
    BranchHeads { branch: String, heads: Vec<String> },
    #[error("'{0}' is not one of head, heads, base, +N or -N after the @")]
    BadBranchStep(String),
    #[error(
        "'{0}' is a step along a line, not one revision: it is a target of db upgrade or db downgrade"
    )]
    StepNotRevision(String),
}

#[derive(Debug, Clone)]
pub struct Graph {
    /// Each node's `depends_on` holds revision ids, labels and prefixes resolved.
    nodes: BTreeMap<String, Node>,
    /// Every id, parents (and dependencies) before children; ties in id order, so the
    /// order is stable.
    order: Vec<String>,
    /// Each branch label and the revision it is on.
    labels: BTreeMap<String, String>,
}

impl Graph {
    pub fn new(nodes: impl IntoIterator<Item = Node>) -> Result<Self, GraphError> {
        let mut map = BTreeMap::new();
        for node in nodes {
            if map.contains_key(&node.id) {
                return Err(GraphError::DuplicateId(node.id));
            }
            map.insert(node.id.clone(), node);
        }
        for node in map.values() {
            if let Some(missing) = node.down.iter().find(|d| !map.contains_key(*d)) {
                return Err(GraphError::MissingDownRevision {
                    revision: node.id.clone(),
                    missing: missing.clone(),
                });
            }
        }
        let labels = labels_of(&map)?;
        let mut graph = Graph {
            nodes: map,
            order: Vec::new(),
            labels,
        };
        let mut resolved = BTreeMap::new();
        for node in graph.nodes.values() {
            let depends_on = node
                .depends_on
                .iter()
                .map(|text| {
                    graph
                        .resolve(text)
                        .map_err(|_| GraphError::MissingDependency {
                            revision: node.id.clone(),
                            missing: text.clone(),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            resolved.insert(node.id.clone(), depends_on);
        }
        for (id, depends_on) in resolved {
            graph.nodes.get_mut(&id).expect("a node").depends_on = depends_on;
        }
        graph.order = topological_order(&graph.nodes)?;
        Ok(graph)
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn contains(&self, id: &str) -> bool {
        self.nodes.contains_key(id)
    }

    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.get(id)
    }

    /// Every id, each after the revisions it follows.
    pub fn order(&self) -> &[String] {
        &self.order
    }

    /// Revisions that no other revision follows.
    pub fn heads(&self) -> Vec<String> {
        let followed: BTreeSet<&String> = self.nodes.values().flat_map(|n| &n.down).collect();
        self.order
            .iter()
            .filter(|id| !followed.contains(id))
            .cloned()
            .collect()
    }

    /// The single head, or why there is not one.
    pub fn head(&self) -> Result<Option<String>, GraphError> {
        let heads = self.heads();
        match heads.len() {
            0 => Ok(None),
            1 => Ok(heads.into_iter().next()),
            _ => Err(GraphError::MultipleHeads(heads)),
        }
    }

    /// Revisions that several revisions follow: where history branched.
    pub fn branch_points(&self) -> Vec<String> {
        self.order
            .iter()
            .filter(|id| self.nodes.values().filter(|n| n.down.contains(id)).count() > 1)
            .cloned()
            .collect()
    }

    /// `id` and everything that must run before it: what it follows and what it depends
    /// on, directly or not.
    pub fn ancestors_and_self(&self, id: &str) -> BTreeSet<String> {
        self.reach(id, |node| node.down.iter().chain(&node.depends_on))
    }

    /// `id` and everything that must be undone before it: what follows it or depends on
    /// it, directly or not.
    pub fn descendants_and_self(&self, id: &str) -> BTreeSet<String> {
        self.reach(id, |node| {
            self.nodes
                .values()
                .filter(|other| {
                    other.down.contains(&node.id) || other.depends_on.contains(&node.id)
                })
                .map(|other| &other.id)
                .collect::<Vec<_>>()
        })
    }

    fn reach<'a, I>(&'a self, id: &str, next: impl Fn(&'a Node) -> I) -> BTreeSet<String>
    where
        I: IntoIterator<Item = &'a String>,
    {
        let mut seen = BTreeSet::new();
        let mut stack = vec![id.to_string()];
        while let Some(current) = stack.pop() {
            if seen.insert(current.clone())
                && let Some(node) = self.nodes.get(&current)
            {
                stack.extend(next(node).into_iter().cloned());
            }
        }
        seen
    }

    /// The revision an id, a unique prefix of one, a branch label (the revision it is on)
    /// or `LABEL@head` names.
    pub fn resolve(&self, text: &str) -> Result<String, GraphError> {
        if self.nodes.contains_key(text) {
            return Ok(text.to_string());
        }
        if let Some(id) = self.labels.get(text) {
            return Ok(id.clone());
        }
        if let Some(split) = BranchStep::split(text) {
            let (branch, step) = split?;
            if step != BranchStep::Head {
                return Err(GraphError::StepNotRevision(text.to_string()));
            }
            let heads = self.branch_heads(branch)?;
            return match <[String; 1]>::try_from(heads) {
                Ok([head]) => Ok(head),
                Err(heads) => Err(GraphError::BranchHeads {
                    branch: branch.to_string(),
                    heads,
                }),
            };
        }
        let matches: Vec<String> = self
            .nodes
            .keys()
            .filter(|id| id.starts_with(text))
            .cloned()
            .collect();
        match matches.len() {
            1 => Ok(matches.into_iter().next().expect("one match")),
            0 => Err(GraphError::UnknownRevision(text.to_string())),
            _ => Err(GraphError::AmbiguousPrefix {
                prefix: text.to_string(),
                matches,
            }),
        }
    }

    /// What to apply, in order, to go from the `applied` revisions to having `target` and
    /// all it follows.
    pub fn upgrade_path(&self, applied: &BTreeSet<String>, target: &str) -> Vec<String> {
        let wanted = self.ancestors_and_self(target);
        self.order
            .iter()
            .filter(|id| wanted.contains(*id) && !applied.contains(*id))
            .cloned()
            .collect()
    }

    /// What to undo, in order, so that no applied revision remains that follows `target`
    /// or depends on it (everything, for `None`, the base). Other lines stay as they are.
    pub fn downgrade_path(&self, applied: &BTreeSet<String>, target: Option<&str>) -> Vec<String> {
        let undone = target.map(|target| {
            let mut after = self.descendants_and_self(target);
            after.remove(target);
            after
        });
        self.undo_in_order(applied, |id| {
            undone.as_ref().is_none_or(|after| after.contains(id))
        })
    }

    /// What to undo, in order, so that none of `revisions` stays applied, nor anything
    /// that follows or depends on them.
    pub fn undo_path(&self, applied: &BTreeSet<String>, revisions: &[String]) -> Vec<String> {
        let undone: BTreeSet<String> = revisions
            .iter()
            .flat_map(|id| self.descendants_and_self(id))
            .collect();
        self.undo_in_order(applied, |id| undone.contains(id))
    }

    fn undo_in_order(
        &self,
        applied: &BTreeSet<String>,
        undo: impl Fn(&String) -> bool,
    ) -> Vec<String> {
        self.order
            .iter()
            .rev()
            .filter(|id| applied.contains(*id) && undo(id))
            .cloned()
            .collect()
    }
}

fn topological_order(nodes: &BTreeMap<String, Node>) -> Result<Vec<String>, GraphError> {
    let mut remaining: BTreeMap<&str, BTreeSet<&str>> = nodes
        .values()
        .map(|n| {
            let before = n.down.iter().chain(&n.depends_on).map(String::as_str);
            (n.id.as_str(), before.collect())
        })
        .collect();
    let mut order = Vec::with_capacity(nodes.len());
    while !remaining.is_empty() {
        let ready: Vec<&str> = remaining
            .iter()
            .filter(|(_, down)| down.is_empty())
            .map(|(id, _)| *id)
            .collect();
        if ready.is_empty() {
            return Err(GraphError::Cycle(find_cycle(&remaining)));
        }
        for id in ready {
            remaining.remove(id);
            for down in remaining.values_mut() {
                down.remove(id);
            }
            order.push(id.to_string());
        }
    }
    Ok(order)
}

/// A cycle among revisions that all wait on each other, for the message.
fn find_cycle(waiting: &BTreeMap<&str, BTreeSet<&str>>) -> Vec<String> {
    let start = *waiting.keys().next().expect("not empty");
    let mut path = vec![start];
    let mut current = start;
    loop {
        let next = *waiting[current]
            .iter()
            .next()
            .expect("everything left waits");
        if let Some(at) = path.iter().position(|id| *id == next) {
            let mut cycle: Vec<String> = path[at..].iter().map(|s| s.to_string()).collect();
            cycle.push(next.to_string());
            return cycle;
        }
        path.push(next);
        current = next;
    }
}

#[cfg(test)]
mod tests;
