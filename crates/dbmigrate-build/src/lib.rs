//! For an application's `build.rs`: builds its migration repository's revision files into
//! the binary, so that a deployed binary can upgrade its database with no source tree.
//!
//! ```ignore
//! // build.rs
//! fn main() {
//!     dbmigrate_build::embed_migrations("migrations/versions");
//! }
//! // src/migrations.rs
//! mod files {
//!     include!(concat!(env!("OUT_DIR"), "/built_in_migrations.rs"));
//! }
//! // files::FILES: &[(&str, &str)], the file names and texts, in name order
//! ```

#![warn(missing_docs)]

use std::fmt::Write as _;
use std::path::Path;

/// Writes `$OUT_DIR/built_in_migrations.rs` with every `*.toml` file of `versions`
/// (relative to the package), and asks Cargo to build again when one changes or is added.
/// A missing directory gives an empty list.
pub fn embed_migrations(versions: &str) {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("run from a build script");
    let versions = Path::new(&manifest).join(versions);
    println!("cargo::rerun-if-changed={}", versions.display());
    let mut files: Vec<_> = std::fs::read_dir(&versions)
        .map(|entries| {
            entries
                .map(|entry| entry.expect("a directory entry").path())
                .filter(|path| path.extension().is_some_and(|e| e == "toml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut code = String::from("pub const FILES: &[(&str, &str)] = &[\n");
    for path in &files {
        println!("cargo::rerun-if-changed={}", path.display());
        let name = path.file_name().expect("a file").to_string_lossy();
        writeln!(
            code,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .expect("writing to a string");
    }
    code.push_str("];\n");
    let out = std::env::var("OUT_DIR").expect("run from a build script");
    std::fs::write(Path::new(&out).join("built_in_migrations.rs"), code)
        .expect("OUT_DIR is writable");
}
