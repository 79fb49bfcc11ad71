use super::*;

fn node(id: &str, down: &[&str]) -> Node {
    Node {
        id: id.into(),
        down: down.iter().map(|d| d.to_string()).collect(),
        ..Node::default()
    }
}

fn labelled(id: &str, down: &[&str], label: &str) -> Node {
    Node {
        branch_labels: vec![label.into()],
        ..node(id, down)
    }
}

fn depending(id: &str, down: &[&str], on: &str) -> Node {
    Node {
        depends_on: vec![on.into()],
        ..node(id, down)
    }
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_line_of_history_has_one_head_and_paths_both_ways() {
    let graph = Graph::new([node("c3", &["b2"]), node("a1", &[]), node("b2", &["a1"])]).unwrap();
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

/// Two independent lines, `main` (a1 → b2) and `audit` (x1 → y2 → z3), where z3 needs b2.
fn two_lines() -> Graph {
    Graph::new([
        node("a1", &[]),
        labelled("b2", &["a1"], "main"),
        labelled("x1", &[], "audit"),
        node("y2", &["x1"]),
        depending("z3", &["y2"], "main"),
    ])
    .unwrap()
}

#[test]
fn a_label_names_its_line_and_label_at_head_its_head() {
    let graph = two_lines();
    assert_eq!(graph.heads(), ["b2", "z3"], "a dependency joins no lines");
    assert_eq!(
        graph.resolve("audit").unwrap(),
        "x1",
        "a label alone is its revision"
    );
    assert_eq!(graph.resolve("audit@head").unwrap(), "z3");
    assert_eq!(graph.resolve("main@head").unwrap(), "b2");
    assert_eq!(
        graph.branch("main").unwrap(),
        set(&["a1", "b2"]),
        "back to the base"
    );
    assert_eq!(graph.branch("audit").unwrap(), set(&["x1", "y2", "z3"]));
}

#[test]
fn a_dependency_runs_first_and_is_undone_last() {
    let graph = two_lines();
    assert_eq!(
        graph.node("z3").unwrap().depends_on,
        ["b2"],
        "the label resolved"
    );
    assert_eq!(
        graph.upgrade_path(&set(&[]), "z3"),
        ["a1", "x1", "b2", "y2", "z3"]
    );
    let all = set(&["a1", "b2", "x1", "y2", "z3"]);
    assert_eq!(
        graph.downgrade_path(&all, Some("a1")),
        ["z3", "b2"],
        "z3 needs b2"
    );
    assert_eq!(
        graph.downgrade_path(&all, Some("x1")),
        ["z3", "y2"],
        "main stays"
    );
    assert_eq!(graph.undo_path(&all, &["y2".into()]), ["z3", "y2"]);
}

#[test]
fn a_line_that_branches_names_its_heads() {
    let graph = Graph::new([
        labelled("a1", &[], "main"),
        node("b2", &["a1"]),
        node("c3", &["a1"]),
    ])
    .unwrap();
    assert_eq!(
        graph.resolve("main@head"),
        Err(GraphError::BranchHeads {
            branch: "main".into(),
            heads: vec!["b2".into(), "c3".into()]
        })
    );
    assert_eq!(graph.branch_heads("main").unwrap(), ["b2", "c3"]);
    assert_eq!(
        graph.branch("c3").unwrap(),
        set(&["c3"]),
        "stops at the branch point"
    );
}

#[test]
fn heads_of_labelled_lines_are_not_unmerged_but_a_fork_within_a_line_is() {
    assert_eq!(two_lines().unmerged_heads(), Vec::<String>::new());
    let forked = Graph::new([
        labelled("a1", &[], "main"),
        node("b2", &["a1"]),
        node("c3", &["a1"]),
        labelled("x1", &[], "audit"),
    ])
    .unwrap();
    assert_eq!(forked.unmerged_heads(), ["b2", "c3"]);
}

#[test]
fn labels_and_dependencies_are_checked() {
    let twice = Graph::new([labelled("a1", &[], "x"), labelled("b2", &["a1"], "x")]);
    assert!(matches!(twice, Err(GraphError::DuplicateLabel { .. })));
    for bad in ["head", "a@b", "b2", "", "two words"] {
        let graph = Graph::new([labelled("a1", &[], bad), node("b2", &["a1"])]);
        assert!(matches!(graph, Err(GraphError::BadLabel { .. })), "{bad:?}");
    }
    assert_eq!(
        Graph::new([depending("a1", &[], "nowhere")]).unwrap_err(),
        GraphError::MissingDependency {
            revision: "a1".into(),
            missing: "nowhere".into()
        }
    );
    let cycle = Graph::new([depending("a1", &[], "b2"), node("b2", &["a1"])]);
    assert!(matches!(cycle, Err(GraphError::Cycle(_))));
}

#[test]
fn steps_along_a_line_are_read() {
    assert_eq!(
        BranchStep::split("audit@+2"),
        Some(Ok(("audit", BranchStep::Up(2))))
    );
    assert_eq!(
        BranchStep::split("audit@-1"),
        Some(Ok(("audit", BranchStep::Down(1))))
    );
    assert_eq!(
        BranchStep::split("audit@base"),
        Some(Ok(("audit", BranchStep::Base)))
    );
    assert!(matches!(BranchStep::split("audit@later"), Some(Err(_))));
    assert!(
        matches!(BranchStep::split("@head"), Some(Err(_))),
        "a line must be named"
    );
    assert_eq!(BranchStep::split("audit"), None);
}
