//! The application's own migrations (`migrations/versions` in the source tree), built into
//! the binary.

use dbmigrate::{Repository, RepositoryError};

mod files {
    include!(concat!(env!("OUT_DIR"), "/built_in_migrations.rs"));
}

/// How messages name the built-in repository.
pub const BUILT_IN_NAME: &str = "the migrations built into microblog";

pub fn built_in() -> Result<Repository, RepositoryError> {
    Repository::built_in(BUILT_IN_NAME, files::FILES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_built_in_migrations_build_exactly_the_models_schema() {
        let repo = built_in().unwrap();
        let all: BTreeSet<String> = repo.graph().order().iter().cloned().collect();
        let built = dbmigrate::migrate::replay(&repo, &all).unwrap();
        assert_eq!(built.canonical(), crate::models::schema().canonical());
    }

    #[test]
    fn the_built_in_migrations_have_one_head_and_every_revision_can_be_undone() {
        let repo = built_in().unwrap();
        assert!(repo.head().unwrap().is_some());
        for revision in repo.in_order() {
            assert!(!revision.downgrade.is_empty(), "{}", revision.id);
        }
    }
}
