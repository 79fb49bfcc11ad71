//! The revision graph: each revision names the revisions it follows (none for a base,
//! several for a merge). Problems with the graph are named errors, each with what to do.

use std::collections::{BTreeMap, BTreeSet};

/// What the graph needs of a revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub id: String,
    pub down: Vec<String>,
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
}

#[derive(Debug, Clone)]
pub struct Graph {
    nodes: BTreeMap<String, Node>,
    /// Every id, parents before children; ties in id order, so the order is stable.
    order: Vec<String>,
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
        let order = topological_order(&map)?;
        Ok(Graph { nodes: map, order })
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

    /// `id` and everything it follows, directly or not.
    pub fn ancestors_and_self(&self, id: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![id.to_string()];
        while let Some(current) = stack.pop() {
            if seen.insert(current.clone())
                && let Some(node) = self.nodes.get(&current)
            {
                stack.extend(node.down.iter().cloned());
            }
        }
        seen
    }

    /// The revision an id or a unique prefix of one names.
    pub fn resolve(&self, text: &str) -> Result<String, GraphError> {
        if self.nodes.contains_key(text) {
            return Ok(text.to_string());
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
    /// (everything, for `None`, the base).
    pub fn downgrade_path(&self, applied: &BTreeSet<String>, target: Option<&str>) -> Vec<String> {
        let keep = target
            .map(|t| self.ancestors_and_self(t))
            .unwrap_or_default();
        self.order
            .iter()
            .rev()
            .filter(|id| applied.contains(*id) && !keep.contains(*id))
            .cloned()
            .collect()
    }
}

fn topological_order(nodes: &BTreeMap<String, Node>) -> Result<Vec<String>, GraphError> {
    let mut remaining: BTreeMap<&str, BTreeSet<&str>> = nodes
        .values()
        .map(|n| (n.id.as_str(), n.down.iter().map(String::as_str).collect()))
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
mod tests {
    use super::*;

    fn node(id: &str, down: &[&str]) -> Node {
        Node {
            id: id.into(),
            down: down.iter().map(|d| d.to_string()).collect(),
        }
    }

    fn set(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_line_of_history_has_one_head_and_paths_both_ways() {
        let graph =
            Graph::new([node("c3", &["b2"]), node("a1", &[]), node("b2", &["a1"])]).unwrap();
        assert_eq!(graph.order(), ["a1", "b2", "c3"]);
        assert_eq!(graph.head().unwrap().as_deref(), Some("c3"));
        assert_eq!(graph.upgrade_path(&set(&["a1"]), "c3"), ["b2", "c3"]);
        assert_eq!(
            graph.downgrade_path(&set(&["a1", "b2", "c3"]), Some("a1")),
            ["c3", "b2"]
        );
        assert_eq!(
            graph.downgrade_path(&set(&["a1", "b2"]), None),
            ["b2", "a1"]
        );
    }

    #[test]
    fn two_heads_are_named_until_merged() {
        let branched = [node("a1", &[]), node("b2", &["a1"]), node("c3", &["a1"])];
        let graph = Graph::new(branched.clone()).unwrap();
        assert_eq!(
            graph.head(),
            Err(GraphError::MultipleHeads(vec!["b2".into(), "c3".into()]))
        );
        assert_eq!(graph.branch_points(), ["a1"]);
        let merged = Graph::new(branched.into_iter().chain([node("d4", &["b2", "c3"])])).unwrap();
        assert_eq!(merged.head().unwrap().as_deref(), Some("d4"));
        assert_eq!(merged.upgrade_path(&set(&["a1", "b2"]), "d4"), ["c3", "d4"]);
    }

    #[test]
    fn graph_problems_are_named() {
        assert_eq!(
            Graph::new([node("a1", &[]), node("a1", &[])]).unwrap_err(),
            GraphError::DuplicateId("a1".into())
        );
        assert_eq!(
            Graph::new([node("b2", &["zz"])]).unwrap_err(),
            GraphError::MissingDownRevision {
                revision: "b2".into(),
                missing: "zz".into()
            }
        );
        let cycle =
            Graph::new([node("a1", &[]), node("b2", &["c3"]), node("c3", &["b2"])]).unwrap_err();
        assert_eq!(
            cycle,
            GraphError::Cycle(vec!["b2".into(), "c3".into(), "b2".into()])
        );
        assert!(cycle.to_string().contains("b2 -> c3 -> b2"));
    }

    #[test]
    fn a_unique_prefix_names_a_revision() {
        let graph = Graph::new([node("abc123", &[]), node("abd456", &["abc123"])]).unwrap();
        assert_eq!(graph.resolve("abc").unwrap(), "abc123");
        assert!(matches!(
            graph.resolve("ab"),
            Err(GraphError::AmbiguousPrefix { .. })
        ));
        assert_eq!(
            graph.resolve("zz"),
            Err(GraphError::UnknownRevision("zz".into()))
        );
    }
}
