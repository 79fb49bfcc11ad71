//! docs/tutorial.md and the examples of docs/migrations.md are executed as written: every
//! command in them runs, in order, in a new empty directory, and its output must be what
//! the page shows. A change that alters the output fails here until the page is updated.

use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

#[test]
fn the_tutorials_commands_print_what_it_shows() {
    let microblog = Path::new(env!("CARGO_BIN_EXE_microblog"));
    let followers = microblog.with_file_name("followers");
    assert!(
        followers.exists(),
        "{} is missing: the tutorial runs the example too (cargo build --workspace)",
        followers.display()
    );
    trycmd::TestCases::new()
        .register_bin("microblog", microblog)
        .register_bin("followers", followers)
        .case("docs/tutorial.md")
        .case("docs/migrations.md");
}

#[test]
fn the_tutorials_model_declarations_are_the_applications() {
    let tutorial = read("docs/tutorial.md");
    let blocks: Vec<&str> = tutorial
        .split("```rust\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap())
        .collect();
    assert_eq!(blocks.len(), 3, "the User, Post and chapter 6 declarations");
    let models = read("src/models/mod.rs");
    assert!(
        models.contains(blocks[0]),
        "User differs from src/models/mod.rs:\n{}",
        blocks[0]
    );
    assert!(
        models.contains(blocks[1]),
        "Post differs from src/models/mod.rs:\n{}",
        blocks[1]
    );
    let chapter_6 = read("examples/followers/src/lib.rs");
    assert!(
        chapter_6.contains(blocks[2]),
        "examples/followers has other fields:\n{}",
        blocks[2]
    );
}
