//! The application's own migrations (`migrations/versions` in the source tree), built into
//! the binary, and the application as the `db` command set knows it.

use dbmigrate::cli::{Application, Chosen, Source};
use dbmigrate::{Repository, RepositoryError};

mod files {
    include!(concat!(env!("OUT_DIR"), "/built_in_migrations.rs"));
}

/// What `microblog db …` knows of microblog.
pub const APPLICATION: Application = Application {
    name: "microblog",
    schema: crate::models::schema,
    built_in: files::FILES,
};

pub fn built_in() -> Result<Repository, RepositoryError> {
    APPLICATION.built_in_repository()
}

/// The built-in migrations, as the repository rule would give them.
pub fn built_in_chosen() -> Result<Chosen, RepositoryError> {
    Ok(Chosen {
        repository: built_in()?,
        source: Source::BuiltIn(APPLICATION.name.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_migrations_build_exactly_the_models_schema() {
        let repo = built_in().unwrap();
        let all = repo.graph().order().iter().cloned().collect();
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
