//! Each rule, on a revision made to trigger it (no database: the severities are the
//! rules' own).

use super::*;

const CHAPTER: &str = r#"revision = "a1"
message = "users"

[[upgrade]]
op = "create_table"
table = "user"
columns = [
    { name = "id", type = "integer", nullable = false, autoincrement = true },
    { name = "username", type = "string(64)" },
    { name = "bio", type = "text" },
]
primary_key = ["id"]

[[downgrade]]
op = "drop_table"
table = "user"
"#;

/// The chapter's revision and one more, `b2`, with these upgrade operations (and a
/// downgrade unless `undoable` is false).
fn repository(ops: &str, undoable: bool) -> Repository {
    let downgrade = if undoable {
        "\n[[downgrade]]\nop = \"sql\"\nsql = \"SELECT 1\"\n"
    } else {
        ""
    };
    let second = format!(
        "revision = \"b2\"\ndown_revision = \"a1\"\nmessage = \"change\"\n{ops}{downgrade}"
    );
    Repository::built_in("test", &[("a1.toml", CHAPTER), ("b2.toml", &second)]).unwrap()
}

fn rules(repo: &Repository, dialect: Dialect) -> Vec<(&'static str, Severity)> {
    let mut context = Context {
        repo,
        dialect,
        database: None,
    };
    lint(repo.revision("b2").unwrap(), &mut context)
        .unwrap()
        .into_iter()
        .filter(|f| f.rule != "raw-sql")
        .map(|f| (f.rule, f.severity))
        .collect()
}

fn op(text: &str) -> String {
    format!("\n[[upgrade]]\n{text}\n")
}

#[test]
fn each_rule_finds_what_it_is_for() {
    let too_long;
    let cases: &[(&str, &str, Dialect)] = &[
        (
            "drop-table",
            "op = \"drop_table\"\ntable = \"user\"",
            Dialect::Sqlite,
        ),
        (
            "drop-column",
            "op = \"drop_column\"\ntable = \"user\"\ncolumn = \"bio\"",
            Dialect::Sqlite,
        ),
        (
            "narrowing-type",
            "op = \"alter_column\"\ntable = \"user\"\ncolumn = \"username\"\ntype = \"string(10)\"",
            Dialect::Sqlite,
        ),
        (
            "not-null-on-nulls",
            "op = \"alter_column\"\ntable = \"user\"\ncolumn = \"bio\"\nnullable = false",
            Dialect::Sqlite,
        ),
        (
            "not-null-without-default",
            "op = \"add_column\"\ntable = \"user\"\ncolumn = { name = \"age\", type = \"integer\", nullable = false }",
            Dialect::Sqlite,
        ),
        (
            "unique-over-duplicates",
            "op = \"create_unique_constraint\"\ntable = \"user\"\nname = \"uq_user_bio\"\ncolumns = [\"username\"]",
            Dialect::Sqlite,
        ),
        (
            "pg-index-blocks-writes",
            "op = \"create_index\"\ntable = \"user\"\nname = \"ix_user_username\"\ncolumns = [\"username\"]\nconcurrently = false",
            Dialect::Postgres,
        ),
        (
            "pg-type-change-rewrites",
            "op = \"alter_column\"\ntable = \"user\"\ncolumn = \"id\"\ntype = \"bigint\"",
            Dialect::Postgres,
        ),
        (
            "pg-constraint-scans-under-lock",
            "op = \"create_foreign_key\"\ntable = \"user\"\nname = \"fk_user_id_user\"\ncolumns = [\"id\"]\nref_table = \"user\"\nref_columns = [\"id\"]\nonline = false",
            Dialect::Postgres,
        ),
        (
            "pg-constraint-scans-under-lock",
            "op = \"create_check_constraint\"\ntable = \"user\"\nname = \"ck_user_id\"\ncondition = \"id > 0\"\nonline = false",
            Dialect::Postgres,
        ),
        (
            "pg-not-null-scans-under-lock",
            "op = \"alter_column\"\ntable = \"user\"\ncolumn = \"bio\"\nnullable = false\nonline = false",
            Dialect::Postgres,
        ),
        (
            "pg-default-rewrites",
            "op = \"add_column\"\ntable = \"user\"\ncolumn = { name = \"seed\", type = \"float\", default = \"random()\" }\nonline = false",
            Dialect::Postgres,
        ),
        (
            "pg-name-too-long",
            {
                too_long = format!(
                    "op = \"add_column\"\ntable = \"user\"\ncolumn = {{ name = \"{}\", type = \"text\" }}",
                    "x".repeat(64)
                );
                &too_long
            },
            Dialect::Postgres,
        ),
        (
            "rename-breaks-serving-release",
            "op = \"alter_column\"\ntable = \"user\"\ncolumn = \"bio\"\nnew_name = \"about_me\"",
            Dialect::Sqlite,
        ),
        (
            "rename-breaks-serving-release",
            "op = \"rename_table\"\ntable = \"user\"\nnew_name = \"person\"",
            Dialect::Mysql,
        ),
        (
            "drop-breaks-serving-release",
            "op = \"drop_column\"\ntable = \"user\"\ncolumn = \"bio\"",
            Dialect::Postgres,
        ),
        (
            "type-change-breaks-serving-release",
            "op = \"alter_column\"\ntable = \"user\"\ncolumn = \"id\"\ntype = \"bigint\"",
            Dialect::Sqlite,
        ),
        (
            "nullable-breaks-serving-release",
            "op = \"alter_column\"\ntable = \"user\"\ncolumn = \"id\"\nnullable = true",
            Dialect::Sqlite,
        ),
        (
            "integer-key",
            "op = \"create_table\"\ntable = \"tag\"\ncolumns = [{ name = \"id\", type = \"integer\", nullable = false, autoincrement = true }]",
            Dialect::Mysql,
        ),
        (
            "sql-updates-rows",
            "op = \"sql\"\nsql = \"UPDATE user SET bio = ''\"",
            Dialect::Sqlite,
        ),
    ];
    for (rule, text, dialect) in cases {
        let found = rules(&repository(&op(text), true), *dialect);
        assert!(
            found.iter().any(|(r, _)| r == rule),
            "{rule}: found {found:?}"
        );
    }
}

#[test]
fn sql_is_a_notice_it_cannot_judge() {
    let repo = repository(
        &op("op = \"sql\"\nsql = \"CREATE EXTENSION IF NOT EXISTS pg_trgm\""),
        true,
    );
    let mut context = Context {
        repo: &repo,
        dialect: Dialect::Sqlite,
        database: None,
    };
    let found = lint(repo.revision("b2").unwrap(), &mut context).unwrap();
    assert_eq!(
        found
            .iter()
            .map(|f| (f.rule, f.severity))
            .collect::<Vec<_>>(),
        [("raw-sql", Severity::Notice)]
    );
    assert_eq!(exit_status(&found), 0);
}

#[test]
fn postgresql_rules_stay_quiet_elsewhere_and_a_concurrent_index_is_fine() {
    let plain =
        op("op = \"create_index\"\ntable = \"user\"\nname = \"ix\"\ncolumns = [\"username\"]");
    assert!(rules(&repository(&plain, true), Dialect::Mysql).is_empty());
    let concurrent = format!(
        "transaction = false\n{}",
        op(
            "op = \"create_index\"\ntable = \"user\"\nname = \"ix\"\ncolumns = [\"username\"]\nconcurrently = true"
        )
    );
    assert_eq!(rules(&repository(&concurrent, true), Dialect::Postgres), []);
    let widening = op(
        "op = \"alter_column\"\ntable = \"user\"\ncolumn = \"username\"\ntype = \"string(200)\"",
    );
    assert_eq!(rules(&repository(&widening, true), Dialect::Postgres), []);
}

#[test]
fn a_table_made_in_the_same_revision_holds_no_rows_to_lose() {
    let ops = op(
        "op = \"create_table\"\ntable = \"tag\"\ncolumns = [{ name = \"id\", type = \"integer\", nullable = false }]",
    ) + &op(
        "op = \"add_column\"\ntable = \"tag\"\ncolumn = { name = \"name\", type = \"string(20)\", nullable = false }",
    ) + &op(
        "op = \"create_index\"\ntable = \"tag\"\nname = \"ix_tag_name\"\ncolumns = [\"name\"]\nunique = true",
    );
    assert_eq!(rules(&repository(&ops, true), Dialect::Postgres), []);
}

#[test]
fn a_revision_without_downgrade_and_a_second_head_are_found() {
    let drop = op("op = \"drop_column\"\ntable = \"user\"\ncolumn = \"bio\"");
    let found = rules(&repository(&drop, false), Dialect::Sqlite);
    assert!(
        found.contains(&("no-downgrade", Severity::Warning)),
        "{found:?}"
    );

    let other = "revision = \"c3\"\ndown_revision = \"a1\"\nmessage = \"other\"\n";
    let second = "revision = \"b2\"\ndown_revision = \"a1\"\nmessage = \"change\"\n";
    let repo = Repository::built_in(
        "test",
        &[
            ("a1.toml", CHAPTER),
            ("b2.toml", second),
            ("c3.toml", other),
        ],
    )
    .unwrap();
    assert!(rules(&repo, Dialect::Sqlite).contains(&("second-head", Severity::Error)));
}

#[test]
fn an_accepted_finding_is_kept_with_its_reason_and_does_not_count() {
    let drop = format!(
        "accept = [{{ rule = \"drop-column\", reason = \"bio moved to profile\" }}, {{ rule = \"drop-breaks-serving-release\", reason = \"the release before stopped reading it\" }}]\n{}",
        op("op = \"drop_column\"\ntable = \"user\"\ncolumn = \"bio\"")
    );
    let repo = repository(&drop, true);
    let mut context = Context {
        repo: &repo,
        dialect: Dialect::Sqlite,
        database: None,
    };
    let found = lint(repo.revision("b2").unwrap(), &mut context).unwrap();
    let dropped = found.iter().find(|f| f.rule == "drop-column").unwrap();
    assert_eq!(dropped.accepted.as_deref(), Some("bio moved to profile"));
    assert_eq!(exit_status(&found), 0);
    assert!(
        dropped
            .to_string()
            .ends_with("(accepted: bio moved to profile)"),
        "{dropped}"
    );
}

#[test]
fn exit_status_follows_the_worst_unaccepted_finding() {
    let drop = op("op = \"drop_table\"\ntable = \"user\"");
    let repo = repository(&drop, true);
    let mut context = Context {
        repo: &repo,
        dialect: Dialect::Sqlite,
        database: None,
    };
    assert_eq!(
        exit_status(&lint(repo.revision("b2").unwrap(), &mut context).unwrap()),
        2
    );
    let narrowing =
        op("op = \"alter_column\"\ntable = \"user\"\ncolumn = \"username\"\ntype = \"string(10)\"");
    let repo = repository(&narrowing, true);
    let mut context = Context {
        repo: &repo,
        dialect: Dialect::Sqlite,
        database: None,
    };
    assert_eq!(
        exit_status(&lint(repo.revision("b2").unwrap(), &mut context).unwrap()),
        1
    );
}

#[test]
fn an_enumeration_as_long_as_the_string_it_replaces_rewrites_nothing_on_postgresql() {
    let to = |ty: &str| {
        let change = format!(
            "op = \"alter_column\"\ntable = \"user\"\ncolumn = \"username\"\ntype = \"{ty}\""
        );
        let found = rules(&repository(&op(&change), true), Dialect::Postgres);
        found
            .iter()
            .any(|(rule, _)| *rule == "pg-type-change-rewrites")
    };
    // string(64) is a VARCHAR(64); an enumeration, a VARCHAR as long as its longest value.
    let long = "x".repeat(64);
    assert!(
        !to(&format!("enum('{long}', 'b')")),
        "the same length: no rewrite"
    );
    assert!(!to(&format!("enum('{long}x')")), "longer: no rewrite");
    assert!(
        to("enum('a', 'b')"),
        "shorter: PostgreSQL rewrites the table"
    );
    assert!(to("integer"));
}
