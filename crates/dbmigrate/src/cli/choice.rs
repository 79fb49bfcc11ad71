//! Which migration repository a command uses. One rule for every command of the
//! application, `db …`, serving and the shell alike: `-d DIR` where the command takes it,
//! else the `MIGRATIONS_DIR` setting, else `migrations/` in the working directory when it
//! exists, else the migrations built into the program.

use std::fmt;
use std::path::{Path, PathBuf};

use super::{Application, Context};
use crate::repository::{Repository, RepositoryError};

pub const DEFAULT_DIRECTORY: &str = "migrations";

/// Where the chosen repository came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `-d DIR`.
    Option(PathBuf),
    /// The `MIGRATIONS_DIR` setting.
    Setting(PathBuf),
    /// `migrations/` in the working directory.
    WorkingDirectory,
    /// The migrations built into the program (its name).
    BuiltIn(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Option(dir) => write!(f, "the migration repository {} (-d)", dir.display()),
            Source::Setting(dir) => write!(
                f,
                "the migration repository {} (MIGRATIONS_DIR)",
                dir.display()
            ),
            Source::WorkingDirectory => write!(
                f,
                "the migration repository {DEFAULT_DIRECTORY}/ in the working directory"
            ),
            Source::BuiltIn(name) => write!(
                f,
                "the migrations built into {name} (there is no {DEFAULT_DIRECTORY}/ here)"
            ),
        }
    }
}

pub struct Chosen {
    pub repository: Repository,
    pub source: Source,
}

/// Where the rule points, without reading anything.
pub fn source(explicit: Option<&Path>, context: &Context, app: &Application) -> Source {
    if let Some(dir) = explicit {
        Source::Option(dir.to_path_buf())
    } else if let Some(dir) = &context.migrations_dir {
        Source::Setting(dir.clone())
    } else if Path::new(DEFAULT_DIRECTORY).is_dir() {
        Source::WorkingDirectory
    } else {
        Source::BuiltIn(app.name.to_string())
    }
}

/// The repository the rule picks, loaded and checked.
pub fn choose(
    explicit: Option<&Path>,
    context: &Context,
    app: &Application,
) -> Result<Chosen, RepositoryError> {
    let source = source(explicit, context, app);
    let repository = match &source {
        Source::Option(dir) | Source::Setting(dir) => Repository::open(dir)?,
        Source::WorkingDirectory => Repository::open(Path::new(DEFAULT_DIRECTORY))?,
        Source::BuiltIn(_) => app.built_in_repository()?,
    };
    Ok(Chosen { repository, source })
}

/// The repository on disk that new revisions are written to: the same rule without the
/// built-in migrations, which cannot be written.
pub fn choose_on_disk(
    explicit: Option<&Path>,
    context: &Context,
) -> Result<Chosen, RepositoryError> {
    let dir = init_directory(explicit, context);
    let source = match (explicit, &context.migrations_dir) {
        (Some(dir), _) => Source::Option(dir.to_path_buf()),
        (None, Some(dir)) => Source::Setting(dir.clone()),
        (None, None) => Source::WorkingDirectory,
    };
    Ok(Chosen {
        repository: Repository::open(&dir)?,
        source,
    })
}

/// The directory `db init` creates.
pub fn init_directory(explicit: Option<&Path>, context: &Context) -> PathBuf {
    explicit
        .map(Path::to_path_buf)
        .or_else(|| context.migrations_dir.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DIRECTORY))
}
