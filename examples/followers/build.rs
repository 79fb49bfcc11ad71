//! Builds the example's own `migrations/versions/*.toml` into its binary.

fn main() {
    dbmigrate_build::embed_migrations("migrations/versions");
}
