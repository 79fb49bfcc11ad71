//! The revision graph as a picture: `db history --graph` draws it in the terminal, newest
//! first, as `git log --graph` does, branches and merges included; `--format dot` writes it
//! for Graphviz. Several heads are where people get lost; a picture shows them at once.

use std::collections::BTreeSet;

use super::listing::{Current, line};
use crate::Repository;

/// One text row of lanes: `|` for a lane that goes on, `*` for the revision itself.
fn lanes_row(lanes: &[String], node: Option<usize>) -> String {
    let mut row = String::new();
    for index in 0..lanes.len() {
        row.push(if Some(index) == node { '*' } else { '|' });
        row.push(' ');
    }
    row
}

/// A row where lane `from` ends in a lane to its left, the lanes right of it moving one
/// step left.
fn join_row(width: usize, from: usize) -> String {
    let row: String = (0..width)
        .map(|index| if index < from { "| " } else { "/ " })
        .collect();
    row.trim_end().to_string()
}

/// A row where lane `at` splits into itself and `extra` new lanes to its right.
fn split_row(width: usize, at: usize, extra: usize) -> String {
    let mut row = String::new();
    for index in 0..width {
        row.push_str(if index <= at { "| " } else { "\\ " });
    }
    for _ in 0..extra {
        row.push_str("\\ ");
    }
    row.trim_end().to_string()
}

/// `db history --graph`: every revision, newest first, with the lanes that join them.
pub fn graph(repo: &Repository, current: Current) -> String {
    let mut out = String::new();
    let mut lanes: Vec<String> = Vec::new();
    for revision in repo.in_order().rev() {
        let column = match lanes.iter().position(|l| *l == revision.id) {
            Some(column) => column,
            None => {
                lanes.push(revision.id.clone());
                lanes.len() - 1
            }
        };
        // Several children reached this revision by lanes of their own: they join here.
        while let Some(other) = lanes
            .iter()
            .enumerate()
            .skip(column + 1)
            .find(|(_, l)| **l == revision.id)
            .map(|(index, _)| index)
        {
            out.push_str(&join_row(lanes.len(), other));
            out.push('\n');
            lanes.remove(other);
        }
        let mut text = line(repo, revision, current);
        if !revision.depends_on.is_empty() {
            text.push_str(&format!(" (after {})", revision.depends_on.join(", ")));
        }
        out.push_str(&format!("{}{text}\n", lanes_row(&lanes, Some(column))));
        match revision.down.as_slice() {
            [] => {
                lanes.remove(column);
                if column < lanes.len() {
                    out.push_str(&join_row(lanes.len() + 1, column));
                    out.push('\n');
                }
            }
            [parent] => lanes[column] = parent.clone(),
            [first, rest @ ..] => {
                lanes[column] = first.clone();
                out.push_str(&split_row(lanes.len(), column, rest.len()));
                out.push('\n');
                for (offset, parent) in rest.iter().enumerate() {
                    lanes.insert(column + 1 + offset, parent.clone());
                }
            }
        }
    }
    out
}

/// `db history --format dot`: the graph for Graphviz, heads at the top, the database's
/// revisions filled.
pub fn dot(repo: &Repository, current: Current) -> String {
    let heads: BTreeSet<String> = repo.graph().heads().into_iter().collect();
    let escaped = |text: &str| text.replace('\\', "\\\\").replace('"', "\\\"");
    let quoted = |text: &str| format!("\"{}\"", escaped(text));
    let mut out = String::from("digraph revisions {\n    rankdir=BT;\n    node [shape=box];\n");
    for revision in repo.in_order() {
        let mut attributes = vec![format!(
            "label=\"{}\\n{}\"",
            escaped(&revision.id),
            escaped(&revision.message)
        )];
        if heads.contains(&revision.id) {
            attributes.push("peripheries=2".into());
        }
        if current.is_some_and(|c| c.contains(&revision.id)) {
            attributes.push("style=filled".into());
        }
        out.push_str(&format!(
            "    {} [{}];\n",
            quoted(&revision.id),
            attributes.join(", ")
        ));
        for parent in &revision.down {
            out.push_str(&format!(
                "    {} -> {};\n",
                quoted(&revision.id),
                quoted(parent)
            ));
        }
        for dependency in repo
            .graph()
            .node(&revision.id)
            .map_or(&[][..], |n| &n.depends_on)
        {
            out.push_str(&format!(
                "    {} -> {} [style=dashed];\n",
                quoted(&revision.id),
                quoted(dependency)
            ));
        }
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repository(files: &[(&str, &[&str], &str)]) -> Repository {
        let texts: Vec<String> = files
            .iter()
            .map(|(id, down, message)| {
                let down: Vec<String> = down.iter().map(|d| format!("\"{d}\"")).collect();
                format!(
                    "revision = \"{id}\"\ndown_revision = [{}]\nmessage = \"{message}\"\n",
                    down.join(", ")
                )
            })
            .collect();
        let named: Vec<(&str, &str)> = texts.iter().map(|t| ("f.toml", t.as_str())).collect();
        Repository::built_in("test", &named).unwrap()
    }

    #[test]
    fn a_straight_history_is_one_lane() {
        let repo = repository(&[("a1", &[], "users"), ("b2", &["a1"], "posts")]);
        assert_eq!(
            graph(&repo, None),
            "* a1 -> b2 (head), posts\n* <base> -> a1, users\n"
        );
    }

    #[test]
    fn a_branch_and_its_merge_are_drawn_as_lanes() {
        let repo = repository(&[
            ("a1", &[], "users"),
            ("b2", &["a1"], "posts"),
            ("c3", &["a1"], "about me"),
            ("d4", &["b2", "c3"], "join"),
        ]);
        let current = BTreeSet::from(["d4".to_string()]);
        assert_eq!(
            graph(&repo, Some(&current)),
            "* b2, c3 -> d4 (head) (mergepoint) (current), join\n\
             | \\\n\
             | * a1 -> c3, about me\n\
             * | a1 -> b2, posts\n\
             | /\n\
             * <base> -> a1 (branchpoint), users\n"
        );
    }

    #[test]
    fn two_heads_show_as_two_lanes_from_their_branch_point() {
        let repo = repository(&[
            ("a1", &[], "users"),
            ("b2", &["a1"], "posts"),
            ("c3", &["a1"], "about me"),
        ]);
        assert_eq!(
            graph(&repo, None),
            "* a1 -> c3 (head), about me\n\
             | * a1 -> b2 (head), posts\n\
             | /\n\
             * <base> -> a1 (branchpoint), users\n"
        );
    }

    #[test]
    fn labelled_lines_and_their_dependencies_are_drawn() {
        let texts = [
            "revision = \"a1\"\nbranch_labels = [\"main\"]\nmessage = \"users\"\n",
            "revision = \"x1\"\nbranch_labels = \"audit\"\ndepends_on = \"main\"\nmessage = \"audit log\"\n",
        ];
        let named: Vec<(&str, &str)> = texts.iter().map(|t| ("f.toml", *t)).collect();
        let repo = Repository::built_in("test", &named).unwrap();
        assert_eq!(
            graph(&repo, None),
            "* <base> -> x1 (audit) (head), audit log (after main)\n\
             * <base> -> a1 (main) (head), users\n"
        );
        assert!(dot(&repo, None).contains("\"x1\" -> \"a1\" [style=dashed];"));
    }

    #[test]
    fn dot_marks_heads_and_the_databases_revisions() {
        let repo = repository(&[("a1", &[], "users"), ("b2", &["a1"], "posts")]);
        let current = BTreeSet::from(["a1".to_string()]);
        let text = dot(&repo, Some(&current));
        assert!(text.contains("\"b2\" -> \"a1\";"), "{text}");
        assert!(
            text.contains("\"b2\" [label=\"b2\\nposts\", peripheries=2];"),
            "{text}"
        );
        assert!(
            text.contains("\"a1\" [label=\"a1\\nusers\", style=filled];"),
            "{text}"
        );
    }
}
