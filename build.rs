//! Builds the application's own `migrations/versions/*.toml` into the binary, so that a
//! deployed binary can `db upgrade` with no source tree.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let versions = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/versions");
    println!("cargo::rerun-if-changed={}", versions.display());
    let mut files: Vec<_> = std::fs::read_dir(&versions)
        .expect("migrations/versions is readable")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut code = String::from("pub const FILES: &[(&str, &str)] = &[\n");
    for path in &files {
        println!("cargo::rerun-if-changed={}", path.display());
        let name = path.file_name().unwrap().to_string_lossy();
        writeln!(
            code,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("built_in_migrations.rs");
    std::fs::write(out, code).expect("OUT_DIR is writable");
}
