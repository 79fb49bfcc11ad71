//! A migration repository: a directory whose `versions/` folder holds one file per
//! revision, or the same files built into a binary. Loading one checks every file and the
//! graph they form, so that nothing runs from a repository with a problem in it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::graph::{Graph, GraphError, Node};
use crate::revision::{Revision, RevisionFileError};

pub const VERSIONS: &str = "versions";

/// Where a repository's files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Directory(PathBuf),
    /// Built into the program, under the name it gives.
    BuiltIn(String),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Directory(path) => write!(f, "{}", path.display()),
            Location::BuiltIn(name) => write!(f, "{name}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    #[error("there is no migration repository at {0}")]
    Missing(PathBuf),
    #[error("{0} exists and is not empty; a new repository needs a new or empty directory")]
    NotEmpty(PathBuf),
    #[error("cannot {action} {path}: {cause}")]
    Io {
        action: &'static str,
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(transparent)]
    File(#[from] RevisionFileError),
    #[error("{first} and {second} both have the revision id '{id}'; give one of them a new id")]
    DuplicateId {
        id: String,
        first: String,
        second: String,
    },
    #[error("in {location}: {cause}")]
    Graph {
        location: Location,
        cause: GraphError,
    },
    #[error(
        "revisions {first} and {second} both replace revision '{id}'; a revision can be squashed only once"
    )]
    SquashedTwice {
        id: String,
        first: String,
        second: String,
    },
    #[error(
        "{file} follows revision '{id}', which squash {squash} replaced partway through its run; a revision can follow only the last one a squash replaced ('{last}'): set its down_revision to '{squash}'"
    )]
    FollowsInsideSquash {
        file: String,
        id: String,
        squash: String,
        last: String,
    },
    #[error("{0} cannot be changed: new revisions are written to a repository on disk")]
    ReadOnly(Location),
    #[error(
        "{file} holds revision '{id}', but its name does not start with that id; rename it {id}_….toml, so that the folder says what it holds"
    )]
    MisnamedFile { file: String, id: String },
}

/// A revision file is named `<id>_<slug>.toml` (or `<id>.toml`).
fn named_after(file_name: &str, revision: &Revision) -> Result<(), RepositoryError> {
    let rest = file_name.strip_prefix(revision.id.as_str());
    if rest.is_some_and(|r| r.starts_with('_') || r.starts_with('.')) {
        Ok(())
    } else {
        Err(RepositoryError::MisnamedFile {
            file: revision.source.clone(),
            id: revision.id.clone(),
        })
    }
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RepositoryError {
    let path = path.to_path_buf();
    move |cause| RepositoryError::Io {
        action,
        path,
        cause,
    }
}

#[derive(Debug, Clone)]
pub struct Repository {
    location: Location,
    /// The revisions of the graph.
    revisions: BTreeMap<String, Revision>,
    /// Files of revisions a squash replaced, kept for databases partway through them.
    replaced: BTreeMap<String, Revision>,
    /// Each replaced id, whether or not its file is still here, with the squash replacing it.
    squashed_into: BTreeMap<String, String>,
    graph: Graph,
}

impl Repository {
    /// Reads every `*.toml` file in `dir/versions`.
    pub fn open(dir: &Path) -> Result<Repository, RepositoryError> {
        let versions = dir.join(VERSIONS);
        if !versions.is_dir() {
            return Err(RepositoryError::Missing(dir.to_path_buf()));
        }
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&versions)
            .map_err(io("read", &versions))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        let mut revisions = Vec::with_capacity(paths.len());
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(io("read", &path))?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let revision = Revision::parse(&text, &path.display().to_string())?;
            named_after(&name, &revision)?;
            revisions.push(revision);
        }
        Repository::from_revisions(Location::Directory(dir.to_path_buf()), revisions)
    }

    /// A repository from files held in memory, as `(file name, text)`.
    pub fn built_in(name: &str, files: &[(&str, &str)]) -> Result<Repository, RepositoryError> {
        let revisions = files
            .iter()
            .map(|(file, text)| Revision::parse(text, &format!("{file} in {name}")))
            .collect::<Result<Vec<_>, _>>()?;
        Repository::from_revisions(Location::BuiltIn(name.to_string()), revisions)
    }

    fn from_revisions(
        location: Location,
        list: Vec<Revision>,
    ) -> Result<Repository, RepositoryError> {
        let mut revisions: BTreeMap<String, Revision> = BTreeMap::new();
        for revision in list {
            if let Some(first) = revisions.get(&revision.id) {
                return Err(RepositoryError::DuplicateId {
                    id: revision.id.clone(),
                    first: first.source.clone(),
                    second: revision.source,
                });
            }
            revisions.insert(revision.id.clone(), revision);
        }
        let mut squashed_into: BTreeMap<String, String> = BTreeMap::new();
        for squash in revisions.values() {
            for id in &squash.replaces {
                if let Some(first) = squashed_into.insert(id.clone(), squash.id.clone()) {
                    return Err(RepositoryError::SquashedTwice {
                        id: id.clone(),
                        first,
                        second: squash.id.clone(),
                    });
                }
            }
        }
        let last_of: BTreeMap<String, String> = revisions
            .values()
            .filter_map(|r| Some((r.id.clone(), r.replaces.last()?.clone())))
            .collect();
        let replaced: BTreeMap<String, Revision> = squashed_into
            .keys()
            .filter_map(|id| revisions.remove_entry(id))
            .collect();
        // A revision that followed the last of a squashed run follows the squash now, and
        // its file stays as it is, so that its checksum does not change.
        let outermost = |id: &str| {
            let mut id = id.to_string();
            while let Some(squash) = squashed_into.get(&id) {
                id = squash.clone();
            }
            id
        };
        for revision in revisions.values_mut() {
            for down in &mut revision.down {
                let Some(squash) = squashed_into.get(down.as_str()) else {
                    continue;
                };
                let last = last_of.get(squash);
                if last != Some(down) {
                    return Err(RepositoryError::FollowsInsideSquash {
                        file: revision.source.clone(),
                        id: down.clone(),
                        squash: squash.clone(),
                        last: last.cloned().unwrap_or_default(),
                    });
                }
                *down = outermost(down);
            }
        }
        let graph = Graph::new(revisions.values().map(|r| Node {
            id: r.id.clone(),
            down: r.down.clone(),
            depends_on: r.depends_on.iter().map(|d| outermost(d)).collect(),
            branch_labels: r.branch_labels.clone(),
        }))
        .map_err(|cause| RepositoryError::Graph {
            location: location.clone(),
            cause,
        })?;
        Ok(Repository {
            location,
            revisions,
            replaced,
            squashed_into,
            graph,
        })
    }

    /// Creates an empty repository at `dir`, which must not exist or be empty, with a
    /// README of the given text.
    pub fn init(dir: &Path, readme_text: &str) -> Result<Vec<PathBuf>, RepositoryError> {
        if dir.exists() {
            let mut entries = std::fs::read_dir(dir).map_err(io("read", dir))?;
            if entries.next().is_some() {
                return Err(RepositoryError::NotEmpty(dir.to_path_buf()));
            }
        }
        let versions = dir.join(VERSIONS);
        std::fs::create_dir_all(&versions).map_err(io("create", &versions))?;
        let readme = dir.join("README");
        std::fs::write(&readme, readme_text).map_err(io("write", &readme))?;
        Ok(vec![dir.to_path_buf(), versions, readme])
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    pub fn is_empty(&self) -> bool {
        self.revisions.is_empty()
    }

    pub fn revision(&self, id: &str) -> Option<&Revision> {
        self.revisions.get(id)
    }

    /// The squash that replaced `id`, if one did.
    pub fn squashed_into(&self, id: &str) -> Option<&str> {
        self.squashed_into.get(id).map(String::as_str)
    }

    /// A revision a squash replaced, if its file is still here.
    pub fn replaced(&self, id: &str) -> Option<&Revision> {
        self.replaced.get(id)
    }

    /// A revision of the graph, or a replaced one whose file is still here.
    pub fn any_revision(&self, id: &str) -> Option<&Revision> {
        self.revisions.get(id).or_else(|| self.replaced.get(id))
    }

    /// The revisions a squash replaced whose files are still here.
    pub fn replaced_files(&self) -> impl Iterator<Item = &Revision> {
        self.replaced.values()
    }

    /// Every revision, each after those it follows.
    pub fn in_order(&self) -> impl DoubleEndedIterator<Item = &Revision> {
        self.graph.order().iter().map(|id| &self.revisions[id])
    }

    /// The revision an id or a unique prefix of one names.
    pub fn resolve(&self, text: &str) -> Result<&Revision, RepositoryError> {
        self.graph
            .resolve(text)
            .map(|id| &self.revisions[&id])
            .map_err(|cause| RepositoryError::Graph {
                location: self.location.clone(),
                cause,
            })
    }

    /// The revisions of the line a branch label (or a revision) names.
    pub fn branch(
        &self,
        name: &str,
    ) -> Result<std::collections::BTreeSet<String>, RepositoryError> {
        self.graph
            .branch(name)
            .map_err(|cause| RepositoryError::Graph {
                location: self.location.clone(),
                cause,
            })
    }

    /// The single head, or why there is not one.
    pub fn head(&self) -> Result<Option<&Revision>, RepositoryError> {
        self.graph
            .head()
            .map(|head| head.map(|id| &self.revisions[&id]))
            .map_err(|cause| RepositoryError::Graph {
                location: self.location.clone(),
                cause,
            })
    }

    /// Writes a new revision's file and adds it; returns the file's path.
    pub fn add(&mut self, mut revision: Revision) -> Result<PathBuf, RepositoryError> {
        let Location::Directory(dir) = &self.location else {
            return Err(RepositoryError::ReadOnly(self.location.clone()));
        };
        let path = dir.join(VERSIONS).join(revision.file_name());
        let text = revision.to_toml();
        revision.source = path.display().to_string();
        revision.checksum = crate::revision::checksum(&text);
        revision.text = text.clone();
        let mut list: Vec<Revision> = self.revisions.values().cloned().collect();
        list.extend(self.replaced.values().cloned());
        list.push(revision);
        let grown = Repository::from_revisions(self.location.clone(), list)?;
        std::fs::write(&path, text).map_err(io("write", &path))?;
        *self = grown;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(id: &str, down: &str) -> String {
        format!("revision = \"{id}\"\ndown_revision = \"{down}\"\nmessage = \"{id}\"\n")
    }

    #[test]
    fn a_repository_on_disk_reads_its_revisions_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let repo_dir = dir.path().join("migrations");
        Repository::init(&repo_dir, "readme").unwrap();
        let mut repo = Repository::open(&repo_dir).unwrap();
        assert!(repo.is_empty());
        let first = repo
            .add(Revision::new("users table", vec![], "2026-11-25T18:00:00Z"))
            .unwrap();
        assert!(first.starts_with(repo_dir.join("versions")));
        let head = repo.head().unwrap().unwrap().id.clone();
        repo.add(Revision::new("posts table", vec![head.clone()], ""))
            .unwrap();
        let reopened = Repository::open(&repo_dir).unwrap();
        let messages: Vec<&str> = reopened.in_order().map(|r| r.message.as_str()).collect();
        assert_eq!(messages, ["users table", "posts table"]);
        assert_eq!(reopened.resolve(&head[..6]).unwrap().id, head);
    }

    #[test]
    fn init_refuses_a_directory_that_is_not_empty() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
        assert!(matches!(
            Repository::init(dir.path(), "readme"),
            Err(RepositoryError::NotEmpty(_))
        ));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("keep.txt")).unwrap(),
            "mine"
        );
    }

    #[test]
    fn a_duplicate_id_names_both_files() {
        let error = Repository::built_in(
            "test",
            &[("a.toml", &file("a1", "")), ("b.toml", &file("a1", ""))],
        )
        .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("a.toml in test") && message.contains("b.toml in test"),
            "{message}"
        );
    }

    #[test]
    fn a_missing_down_revision_is_named() {
        let error = Repository::built_in("test", &[("b.toml", &file("b2", "zz"))]).unwrap_err();
        assert!(error.to_string().contains("'zz'"), "{error}");
    }

    #[test]
    fn the_built_in_repository_cannot_be_written() {
        let mut repo = Repository::built_in("built-in", &[]).unwrap();
        assert!(matches!(
            repo.add(Revision::new("x", vec![], "")),
            Err(RepositoryError::ReadOnly(_))
        ));
    }
}
