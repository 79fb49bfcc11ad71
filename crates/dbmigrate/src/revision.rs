//! Revision files: one TOML file per revision, with its id, the revisions it follows, a
//! message, when it was created, and the operations that upgrade and downgrade. The format
//! is meant to be read and edited by hand; parse errors name the file and the line.

use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::ops::Op;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub id: String,
    /// The revisions this one follows: none for a first revision, several for a merge.
    pub down: Vec<String>,
    /// Names of the line of revisions this one is on (Alembic's `branch_labels`), for
    /// targets such as `LABEL@head`.
    pub branch_labels: Vec<String>,
    /// Revisions (ids or branch labels) of other lines that must run before this one,
    /// which does not follow them (Alembic's `depends_on`).
    pub depends_on: Vec<String>,
    pub message: String,
    /// When it was created, as written in the file (RFC 3339).
    pub created: String,
    /// Whether the revision runs in one transaction (the default); `transaction = false`
    /// for what PostgreSQL cannot do in one, such as building an index concurrently.
    pub transaction: bool,
    /// Lint findings accepted in the file, by rule.
    pub accept: Vec<Accepted>,
    /// For a squash: the revisions it stands for, in the order they ran. A database that
    /// ran all of them is at this revision; one that ran some finishes the rest from their
    /// files.
    pub replaces: Vec<String>,
    pub upgrade: Vec<Op>,
    pub downgrade: Vec<Op>,
    /// Where it was read from, for messages: a path, or a name inside the binary.
    pub source: String,
    /// SHA-256 of the file, line endings normalised: what the history table keeps, so that
    /// an edit after applying is noticed.
    pub checksum: String,
    /// The file as it was read or written, for `db show --file`.
    pub text: String,
    /// Written as comments at the top of a new file, for its reviewer (`CHECK: …` for what
    /// needs a look); not read back.
    pub notes: Vec<String>,
    /// For a revision `db import` wrote: the other tool's migration it is.
    pub imported: Option<crate::import::Imported>,
}

/// `text` in lines of at most `width` characters, broken between words.
fn wrapped(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// A revision file that cannot be read as one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}, line {line}: {message}")]
pub struct RevisionFileError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevisionFile {
    revision: String,
    #[serde(default)]
    down_revision: DownRevision,
    #[serde(default)]
    branch_labels: Names,
    #[serde(default)]
    depends_on: Names,
    #[serde(default)]
    message: String,
    created: Option<toml::value::Datetime>,
    #[serde(default = "in_a_transaction")]
    transaction: bool,
    #[serde(default)]
    accept: Vec<Accepted>,
    #[serde(default)]
    replaces: Vec<String>,
    #[serde(default)]
    upgrade: Vec<Op>,
    #[serde(default)]
    downgrade: Vec<Op>,
    imported: Option<crate::import::Imported>,
}

/// A lint finding the revision's author has looked at and accepts, with why.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Accepted {
    pub rule: String,
    pub reason: String,
}

fn in_a_transaction() -> bool {
    true
}

#[derive(Deserialize, Default)]
#[serde(untagged, expecting = "a revision id, or a list of them for a merge")]
enum DownRevision {
    #[default]
    Base,
    One(String),
    Several(Vec<String>),
}

/// One name or a list of them, as Alembic's `branch_labels` and `depends_on` take.
#[derive(Deserialize, Default)]
#[serde(untagged, expecting = "a name, or a list of names")]
enum Names {
    #[default]
    None,
    One(String),
    Several(Vec<String>),
}

impl Names {
    fn into_vec(self) -> Vec<String> {
        match self {
            Names::None => Vec::new(),
            Names::One(name) => vec![name],
            Names::Several(names) => names,
        }
    }
}

impl DownRevision {
    fn into_ids(self) -> Vec<String> {
        match self {
            DownRevision::Base => Vec::new(),
            DownRevision::One(id) if id.is_empty() => Vec::new(),
            DownRevision::One(id) => vec![id],
            DownRevision::Several(ids) => ids,
        }
    }
}

impl Revision {
    /// Reads a revision from the text of its file; `source` names the file in errors.
    pub fn parse(text: &str, source: &str) -> Result<Revision, RevisionFileError> {
        let file: RevisionFile = toml::from_str(text).map_err(|e| RevisionFileError {
            file: source.to_string(),
            line: e.span().map_or(1, |span| line_of(text, span.start)),
            message: e.message().trim().to_string(),
        })?;
        let at_key = |key: &str, message: String| RevisionFileError {
            file: source.to_string(),
            line: key_line(text, key),
            message,
        };
        if !is_valid_id(&file.revision) {
            return Err(at_key(
                "revision",
                format!(
                    "'{}' is not a usable revision id: use letters, digits and '_' only",
                    file.revision
                ),
            ));
        }
        let down = file.down_revision.into_ids();
        if let Some(bad) = down.iter().find(|id| !is_valid_id(id)) {
            return Err(at_key(
                "down_revision",
                format!("'{bad}' is not a usable revision id"),
            ));
        }
        if let Some(bad) = file.replaces.iter().find(|id| !is_valid_id(id)) {
            return Err(at_key(
                "replaces",
                format!("'{bad}' is not a usable revision id"),
            ));
        }
        if file.replaces.contains(&file.revision) || down.iter().any(|d| file.replaces.contains(d))
        {
            return Err(at_key(
                "replaces",
                "a squash cannot replace itself or the revision it follows".into(),
            ));
        }
        if let Some(bare) = file.accept.iter().find(|a| a.reason.trim().is_empty()) {
            return Err(at_key(
                "accept",
                format!("accepting '{}' needs a reason", bare.rule),
            ));
        }
        Ok(Revision {
            id: file.revision,
            down,
            branch_labels: file.branch_labels.into_vec(),
            depends_on: file.depends_on.into_vec(),
            message: file.message,
            created: file.created.map(|c| c.to_string()).unwrap_or_default(),
            transaction: file.transaction,
            accept: file.accept,
            replaces: file.replaces,
            upgrade: file.upgrade,
            downgrade: file.downgrade,
            source: source.to_string(),
            checksum: checksum(text),
            text: text.to_string(),
            notes: Vec::new(),
            imported: file.imported,
        })
    }

    /// A new revision with a fresh id, no operations yet.
    pub fn new(message: &str, down: Vec<String>, created: &str) -> Revision {
        Revision {
            id: new_id(),
            down,
            branch_labels: Vec::new(),
            depends_on: Vec::new(),
            message: message.to_string(),
            created: created.to_string(),
            transaction: true,
            accept: Vec::new(),
            replaces: Vec::new(),
            upgrade: Vec::new(),
            downgrade: Vec::new(),
            source: String::new(),
            checksum: String::new(),
            text: String::new(),
            notes: Vec::new(),
            imported: None,
        }
    }

    /// The file name: `<id>_<slug of the message>.toml`.
    pub fn file_name(&self) -> String {
        let slug = slug(&self.message);
        if slug.is_empty() {
            format!("{}.toml", self.id)
        } else {
            format!("{}_{slug}.toml", self.id)
        }
    }

    /// The file's text; reading it back gives the same revision.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        let title = if self.message.is_empty() {
            "(no message)"
        } else {
            &self.message
        };
        writeln!(out, "# {title}").unwrap();
        for note in &self.notes {
            out.push_str("#\n");
            for line in wrapped(note, 86) {
                writeln!(out, "# {line}").unwrap();
            }
        }
        out.push_str(
            "#\n# Operations run in order, each written once and turned into the SQL of the\n\
             # database it runs on. Review and edit before `db upgrade`; the README lists them all.\n\n",
        );
        writeln!(out, "revision = {}", quoted(&self.id)).unwrap();
        match self.down.as_slice() {
            [] => out.push_str("# the first revision: no down_revision\n"),
            [one] => writeln!(out, "down_revision = {}", quoted(one)).unwrap(),
            several => {
                let ids: Vec<String> = several.iter().map(|id| quoted(id)).collect();
                writeln!(out, "down_revision = [{}]", ids.join(", ")).unwrap();
            }
        }
        for (key, names) in [
            ("branch_labels", &self.branch_labels),
            ("depends_on", &self.depends_on),
        ] {
            if !names.is_empty() {
                let names: Vec<String> = names.iter().map(|n| quoted(n)).collect();
                writeln!(out, "{key} = [{}]", names.join(", ")).unwrap();
            }
        }
        writeln!(out, "message = {}", quoted(&self.message)).unwrap();
        if !self.created.is_empty() {
            writeln!(out, "created = {}", self.created).unwrap();
        }
        if !self.transaction {
            out.push_str("transaction = false\n");
        }
        if !self.accept.is_empty() {
            let accepted: Vec<String> = self
                .accept
                .iter()
                .map(|a| {
                    format!(
                        "{{ rule = {}, reason = {} }}",
                        quoted(&a.rule),
                        quoted(&a.reason)
                    )
                })
                .collect();
            writeln!(out, "accept = [{}]", accepted.join(", ")).unwrap();
        }
        if !self.replaces.is_empty() {
            let ids: Vec<String> = self.replaces.iter().map(|id| quoted(id)).collect();
            writeln!(out, "replaces = [{}]", ids.join(", ")).unwrap();
        }
        if let Some(imported) = &self.imported {
            writeln!(
                out,
                "imported = {{ tool = {}, version = {}, name = {} }}",
                quoted(&imported.tool.to_string()),
                quoted(&imported.version),
                quoted(&imported.name)
            )
            .unwrap();
        }
        write_ops(&mut out, "upgrade", &self.upgrade);
        write_ops(&mut out, "downgrade", &self.downgrade);
        out
    }
}

fn write_ops(out: &mut String, section: &str, ops: &[Op]) {
    if ops.is_empty() {
        write!(
            out,
            "\n# No {section} operations yet. For example:\n\
             # [[{section}]]\n\
             # op = \"add_column\"\n\
             # table = \"user\"\n\
             # column = {{ name = \"about_me\", type = \"string(140)\" }}\n"
        )
        .unwrap();
    }
    for op in ops {
        writeln!(out, "\n[[{section}]]").unwrap();
        let toml::Value::Table(fields) = toml::Value::try_from(op).expect("operations serialize")
        else {
            unreachable!("an operation serializes as a table")
        };
        for (key, value) in fields {
            match value {
                toml::Value::Array(items)
                    if !items.is_empty() && items.iter().all(toml::Value::is_table) =>
                {
                    writeln!(out, "{key} = [").unwrap();
                    for item in items {
                        writeln!(out, "    {item},").unwrap();
                    }
                    out.push_str("]\n");
                }
                value => writeln!(out, "{key} = {value}").unwrap(),
            }
        }
    }
}

fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// Letters, digits and `_`: what a revision id may be made of.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn key_line(text: &str, key: &str) -> usize {
    text.lines()
        .position(|line| {
            line.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map_or(1, |at| at + 1)
}

/// Twelve random hex digits, as Alembic's ids.
pub fn new_id() -> String {
    // RandomState is seeded from the operating system's randomness.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{:012x}", hasher.finish() & 0xffff_ffff_ffff)
}

/// Lower case words joined by '_', at most 40 characters, for file names.
pub fn slug(message: &str) -> String {
    let words: Vec<String> = message
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut slug = String::new();
    for word in words {
        if slug.len() + word.len() + 1 > 40 && !slug.is_empty() {
            break;
        }
        if !slug.is_empty() {
            slug.push('_');
        }
        slug.push_str(&word);
    }
    slug.chars().take(40).collect()
}

/// SHA-256 of what a revision does: its text with line endings normalised, and without
/// its `accept` entry, so that accepting a lint finding later is not an edit.
pub fn checksum(text: &str) -> String {
    let normalised = text.replace("\r\n", "\n");
    let mut kept = String::with_capacity(normalised.len());
    let mut open_brackets = 0i32;
    for line in normalised.split_inclusive('\n') {
        let starts_accept = open_brackets == 0 && line.trim_start().starts_with("accept");
        if starts_accept || open_brackets > 0 {
            open_brackets += line.matches('[').count() as i32 - line.matches(']').count() as i32;
            continue;
        }
        kept.push_str(line);
    }
    let digest = Sha256::digest(kept.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, ColumnType, Table};

    #[test]
    fn accepting_a_lint_finding_is_not_an_edit() {
        let text = "revision = \"a1\"\nmessage = \"x\"\n";
        let accepted = "revision = \"a1\"\nmessage = \"x\"\naccept = [\n  { rule = \"drop-table\", reason = \"r\" },\n]\n";
        assert_eq!(checksum(text), checksum(accepted));
        assert_ne!(
            checksum(text),
            checksum("revision = \"a1\"\nmessage = \"y\"\n")
        );
    }

    fn users_table_revision() -> Revision {
        let mut revision = Revision::new("users table", vec![], "2026-11-25T18:00:00Z");
        revision.upgrade = Table::new("user")
            .id_column("id")
            .column(Column::new("username", ColumnType::String(Some(64))))
            .index("username", true)
            .creation_ops();
        revision.downgrade = vec![Op::DropTable {
            table: "user".into(),
        }];
        revision
    }

    #[test]
    fn a_written_revision_reads_back_the_same() {
        let revision = users_table_revision();
        let text = revision.to_toml();
        let read = Revision::parse(&text, "x.toml").unwrap();
        assert_eq!(read.id, revision.id);
        assert_eq!(read.down, revision.down);
        assert_eq!(read.message, "users table");
        assert_eq!(read.created, "2026-11-25T18:00:00Z");
        assert_eq!(read.upgrade, revision.upgrade);
        assert_eq!(read.downgrade, revision.downgrade);
        assert_eq!(read.checksum, checksum(&text));
    }

    #[test]
    fn a_written_revision_is_laid_out_for_reading() {
        let mut revision = users_table_revision();
        revision.id = "e517276bb1c2".into();
        let text = revision.to_toml();
        assert!(text.contains("revision = \"e517276bb1c2\"\n"), "{text}");
        assert!(text.contains(
            "columns = [\n    { name = \"id\", type = \"integer\", nullable = false, autoincrement = true },\n"
        ), "{text}");
        assert!(text.contains("\n[[downgrade]]\nop = \"drop_table\"\ntable = \"user\"\n"));
    }

    #[test]
    fn merges_and_first_revisions_have_their_own_down_revision_forms() {
        let merge = Revision::new("merge", vec!["a1".into(), "b2".into()], "");
        let read = Revision::parse(&merge.to_toml(), "m.toml").unwrap();
        assert_eq!(read.down, ["a1", "b2"]);
        let text = "revision = \"c3\"\ndown_revision = \"\"\n";
        assert!(Revision::parse(text, "c.toml").unwrap().down.is_empty());
    }

    #[test]
    fn a_mistake_in_a_file_is_reported_with_its_line() {
        let text = "revision = \"a1\"\nmessage = \"x\"\n\n[[upgrade]]\nop = \"drop_table\"\ntabel = \"user\"\n";
        let error = Revision::parse(text, "migrations/versions/a1_x.toml").unwrap_err();
        assert_eq!(error.file, "migrations/versions/a1_x.toml");
        assert!(
            (4..=6).contains(&error.line),
            "line {} for {error}",
            error.line
        );
        assert!(error.message.contains("tabel"), "{error}");

        let error = Revision::parse("revision = \"a b\"\n", "f.toml").unwrap_err();
        assert_eq!(error.line, 1);
        let error = Revision::parse("message = \"x\"\nrevision = \n", "f.toml").unwrap_err();
        assert_eq!(error.line, 2, "{error}");
        let error = Revision::parse("message = \"no id\"\n", "f.toml").unwrap_err();
        assert!(error.message.contains("revision"), "{error}");
    }

    #[test]
    fn ids_are_twelve_hex_digits_and_differ() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(a.len(), 12);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn file_names_carry_a_slug_of_the_message() {
        assert_eq!(slug("posts table"), "posts_table");
        assert_eq!(slug("Index post.user_id!"), "index_post_user_id");
        assert_eq!(slug(""), "");
        assert!(slug(&"word ".repeat(30)).len() <= 40);
    }

    #[test]
    fn line_endings_do_not_change_the_checksum() {
        assert_eq!(checksum("a\r\nb\n"), checksum("a\nb\n"));
        assert_ne!(checksum("a\n"), checksum("b\n"));
    }
}
