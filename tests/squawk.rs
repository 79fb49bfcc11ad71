//! The PostgreSQL SQL `db upgrade --sql` writes, held to squawk's rules (a PostgreSQL
//! migration linter): for the application's revisions and for a revision of each change
//! that locks a table with rows, squawk finds nothing. The rules left out are about the
//! models' own types, which are the application's to choose (`integer-key` in `db lint`
//! names the one with a limit that bites), not about how a change is made.
//!
//! Needs `squawk` (`pip install squawk-cli`, which `scripts/setup --test` runs); without
//! it the test is not run, and under CI that is a failure.

mod support;

use std::path::Path;
use std::process::Command;

use support::{copy_of_app_repository, microblog};

/// Rules about column types, not about the statements that change a table.
const TYPE_RULES: &str = "prefer-text-field,prefer-bigint-over-int,prefer-bigint-over-smallint,prefer-identity,prefer-timestamp-tz";

/// What squawk says of `sql`: an empty list when it finds nothing. Its `ban-drop-constraint`
/// is not counted against the dropping of the CHECK constraint that proved a column NOT
/// NULL, once SET NOT NULL holds the same guarantee: the pattern squawk's own
/// `adding-not-nullable-field` advises, which it then flags.
fn squawk(sql: &str) -> Vec<String> {
    let file = tempfile::NamedTempFile::with_suffix(".sql").unwrap();
    std::fs::write(file.path(), sql).unwrap();
    let output = Command::new("squawk")
        .args(["--reporter", "gcc", "--exclude", TYPE_RULES])
        .arg(file.path())
        .output()
        .expect("squawk runs: pip install squawk-cli");
    let lines: Vec<&str> = sql.lines().collect();
    let at_line = |finding: &str| -> &str {
        // gcc's format, `file:line:column: …`, with lines counted from 0.
        let line: usize = finding
            .split(':')
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(usize::MAX);
        lines.get(line).copied().unwrap_or_default()
    };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| l.contains(": warning: ") || l.contains(": error: "))
        .filter(|l| !(l.contains("ban-drop-constraint") && at_line(l).contains("_not_null\";")))
        .map(str::to_string)
        .collect()
}

fn upgrade_sql(dir: &Path, range: &str) -> String {
    let output = microblog(
        dir,
        Some("postgresql://localhost/offline"),
        &["db", "upgrade", "--sql", range],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// One revision after the application's head with each change the issue's benchmark makes
/// on a table with rows.
const CHANGES: &str = r#"revision = "c0ffee000021"
down_revision = "HEAD"
message = "each change on a table with rows"

[[upgrade]]
op = "create_index"
table = "post"
name = "ix_post_body"
columns = ["body"]

[[upgrade]]
op = "add_column"
table = "post"
column = { name = "language", type = "string(5)" }

[[upgrade]]
op = "add_column"
table = "post"
column = { name = "reply_to", type = "integer" }

[[upgrade]]
op = "create_foreign_key"
table = "post"
name = "fk_post_reply_to_post"
columns = ["reply_to"]
ref_table = "post"
ref_columns = ["id"]

[[upgrade]]
op = "create_check_constraint"
table = "post"
name = "ck_post_body_not_empty"
condition = "body <> ''"

[[upgrade]]
op = "create_unique_constraint"
table = "user"
name = "uq_user_email_username"
columns = ["email", "username"]

[[upgrade]]
op = "alter_column"
table = "post"
column = "timestamp"
nullable = false

[[upgrade]]
op = "add_column"
table = "post"
column = { name = "rank", type = "float", default = "random()" }

[[upgrade]]
op = "backfill"
table = "post"
set = { language = "'en'" }
where = "language IS NULL"

[[downgrade]]
op = "drop_column"
table = "post"
column = "rank"
"#;

#[test]
fn squawk_finds_nothing_in_the_postgresql_sql_of_changes_to_tables_with_rows() {
    let dir = tempfile::tempdir().unwrap();
    copy_of_app_repository(dir.path());
    let everything = upgrade_sql(dir.path(), "head");
    assert_eq!(
        squawk(&everything),
        Vec::<String>::new(),
        "the application's revisions:\n{everything}"
    );

    let head = support::built_in().head().unwrap().unwrap().id.clone();
    let changes = CHANGES.replace("HEAD", &head);
    std::fs::write(
        dir.path()
            .join("migrations/versions/c0ffee000021_changes.toml"),
        changes,
    )
    .unwrap();
    let script = upgrade_sql(dir.path(), &format!("{head}:head"));
    assert_eq!(
        squawk(&script),
        Vec::<String>::new(),
        "each change:\n{script}"
    );
}
