//! Builds the application's own `migrations/versions/*.toml` into the binary.

fn main() {
    dbmigrate_build::embed_migrations("migrations/versions");
}
