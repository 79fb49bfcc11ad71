//! `microblog db …` as a user runs it, on each database: the chapter's workflow, the
//! output lines, and a clear diagnosis for each problem Alembic users know.

use std::path::Path;

mod support;
use support::{
    Printed, built_in, command, copy_of_chapter_4_repository, db, every_upgrade_line, microblog,
};

use dbmigrate::on_each_database;

fn ok(printed: Printed) -> Printed {
    assert_eq!(printed.code, Some(0), "{printed:?}");
    printed
}

fn failed(printed: Printed) -> Printed {
    assert_eq!(printed.code, Some(1), "{printed:?}");
    assert!(!printed.stderr.contains("panicked"), "{printed:?}");
    let error_lines: Vec<&str> = printed
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(error_lines.len(), 1, "{printed:?}");
    printed
}

/// Each line of `stdout` with the timing taken off.
fn steps(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|l| l.split(" ... done in ").next().unwrap().to_string())
        .collect()
}

fn init_with_two_heads(dir: &Path, url: &str) -> (String, String) {
    ok(db(dir, url, &["init"]));
    ok(db(dir, url, &["revision", "-m", "first"]));
    let first = only_revision_id(dir);
    ok(db(dir, url, &["revision", "-m", "second"]));
    ok(db(
        dir,
        url,
        &["revision", "-m", "third", "--head", &first, "--splice"],
    ));
    let heads = ok(db(dir, url, &["heads"]));
    let ids: Vec<String> = heads
        .stdout
        .lines()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2, "{heads:?}");
    (ids[0].clone(), ids[1].clone())
}

fn only_revision_id(dir: &Path) -> String {
    let entries: Vec<_> = std::fs::read_dir(dir.join("migrations/versions"))
        .unwrap()
        .collect();
    assert_eq!(entries.len(), 1);
    let name = entries[0].as_ref().unwrap().file_name();
    name.to_string_lossy()[..12].to_string()
}

on_each_database! {
    fn without_a_repository_here_the_built_in_migrations_are_applied_in_order(db_: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let (dir, url) = (dir.path(), &db_.url_string());
        let upgrade = ok(db(dir, url, &["upgrade"]));
        assert_eq!(steps(&upgrade.stdout), every_upgrade_line(&built_in()));
        assert!(upgrade.stderr.contains("Using the migrations built into microblog (there is no migrations/ here)"), "{upgrade:?}");
        let head = built_in().head().unwrap().unwrap().id.clone();
        assert_eq!(ok(db(dir, url, &["current"])).stdout, format!("{head} (head)\n"));
    }

    fn the_chapters_workflow_upgrades_reports_and_downgrades(db_: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let (dir, url) = (dir.path(), &db_.url_string());
        copy_of_chapter_4_repository(dir);

        let upgrade = ok(db(dir, url, &["upgrade"]));
        assert_eq!(steps(&upgrade.stdout), [
            "Running upgrade  -> e517276bb1c2, users table",
            "Running upgrade e517276bb1c2 -> 780739b227a7, posts table",
            "Running upgrade 780739b227a7 -> 1047ef9144ea, index post.user_id",
        ]);
        assert!(upgrade.stderr.contains("Using the migration repository migrations/ in the working directory"), "{upgrade:?}");
        assert_eq!(ok(db(dir, url, &["current"])).stdout, "1047ef9144ea (head)\n");
        assert_eq!(
            ok(db(dir, url, &["history"])).stdout,
            "780739b227a7 -> 1047ef9144ea (head), index post.user_id\n\
             e517276bb1c2 -> 780739b227a7, posts table\n\
             <base> -> e517276bb1c2, users table\n"
        );
        assert_eq!(
            ok(db(dir, url, &["upgrade"])).stdout,
            "Nothing to upgrade: the database is at 1047ef9144ea (head).\n"
        );

        let downgrade = ok(db(dir, url, &["downgrade", "-2"]));
        assert_eq!(steps(&downgrade.stdout), [
            "Running downgrade 1047ef9144ea -> 780739b227a7, index post.user_id",
            "Running downgrade 780739b227a7 -> e517276bb1c2, posts table",
        ]);
        assert_eq!(ok(db(dir, url, &["current"])).stdout, "e517276bb1c2\n");
        ok(db(dir, url, &["upgrade", "780"]));
        ok(db(dir, url, &["downgrade", "base"]));
        assert_eq!(ok(db(dir, url, &["current"])).stdout, "");
        let too_far = failed(db(dir, url, &["downgrade", "-1"]));
        assert!(too_far.stderr.contains("only 0 revision(s)"), "{too_far:?}");
    }

    fn two_upgrades_at_once_apply_each_revision_once(db_: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let url = db_.url_string();
        copy_of_chapter_4_repository(dir.path());
        // Create the file (on SQLite) before both start, so that neither creates it under the other.
        ok(db(dir.path(), &url, &["current"]));
        let children: Vec<_> = (0..2)
            .map(|_| {
                command(dir.path(), Some(&url), &["db", "upgrade"])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut all_steps = Vec::new();
        for child in children {
            let printed = ok(child.wait_with_output().unwrap().into());
            all_steps.extend(steps(&printed.stdout).into_iter().filter(|l| l.starts_with("Running")));
        }
        all_steps.sort();
        assert_eq!(all_steps, [
            "Running upgrade  -> e517276bb1c2, users table",
            "Running upgrade 780739b227a7 -> 1047ef9144ea, index post.user_id",
            "Running upgrade e517276bb1c2 -> 780739b227a7, posts table",
        ]);
    }

    fn a_database_at_a_revision_the_repository_lacks_is_named_with_advice(db_: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let (dir, url) = (dir.path(), &db_.url_string());
        copy_of_chapter_4_repository(dir);
        ok(db(dir, url, &["upgrade"]));
        std::fs::rename(dir.join("migrations"), dir.join("chapter4")).unwrap();
        ok(db(dir, url, &["init"]));
        let refused = failed(db(dir, url, &["upgrade"]));
        assert!(refused.stderr.contains("1047ef9144ea, 780739b227a7, e517276bb1c2, which migrations does not have"), "{refused:?}");
        assert!(refused.stderr.contains("`microblog db stamp REVISION --purge`"), "{refused:?}");
        let shell = failed(microblog(dir, Some(url), &["shell", "-c", "1"]).into());
        assert!(shell.stderr.contains("which the migration repository migrations/ in the working directory does not have"), "{shell:?}");
        assert!(ok(db(dir, url, &["current"])).stdout.contains("1047ef9144ea (not in migrations)"));
        ok(db(dir, url, &["stamp", "base", "--purge"]));
        assert_eq!(ok(db(dir, url, &["current"])).stdout, "");
    }

    fn stamp_records_a_revision_without_running_it(db_: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let (dir, url) = (dir.path(), &db_.url_string());
        copy_of_chapter_4_repository(dir);
        let stamped = ok(db(dir, url, &["stamp", "e517"]));
        assert_eq!(stamped.stdout, "Stamped the database: <base> -> e517276bb1c2\n");
        assert_eq!(ok(db(dir, url, &["current"])).stdout, "e517276bb1c2\n");
        assert!(dbmigrate::inspect::table_names(&mut dbmigrate::connect(&db_.url).unwrap()).unwrap().iter().all(|t| t == "dbmigrate_history"));
    }

    fn verify_finds_a_downgrade_that_forgets_a_column_and_leaves_no_scratch_database(db_: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let (dir, url) = (dir.path(), &db_.url_string());
        copy_of_chapter_4_repository(dir);
        let good = ok(db(dir, url, &["verify"]));
        assert!(good.stdout.ends_with("Every revision goes up and down as its files say.\n"), "{good:?}");

        ok(db(dir, url, &["revision", "-m", "profile", "--rev-id", "f00dcafe0001"]));
        let file = dir.join("migrations/versions/f00dcafe0001_profile.toml");
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, format!("{text}
[[upgrade]]
op = \"add_column\"
table = \"user\"
column = {{ name = \"about_me\", type = \"string(140)\" }}

[[upgrade]]
op = \"add_column\"
table = \"user\"
column = {{ name = \"city\", type = \"string(64)\" }}

[[downgrade]]
op = \"drop_column\"
table = \"user\"
column = \"about_me\"
")).unwrap();
        let bad = db(dir, url, &["verify"]);
        assert_eq!(bad.code, Some(1), "{bad:?}");
        assert!(bad.stdout.contains("revision f00dcafe0001 (profile): its downgrade does not restore the schema before it"), "{bad:?}");
        assert!(bad.stdout.contains("'user.city'"), "{bad:?}");

        let scratch = bad.stdout.lines().next().unwrap().rsplit(' ').next().unwrap().to_string();
        let scratch = dbmigrate::DatabaseUrl::parse(&scratch).unwrap();
        match &scratch {
            dbmigrate::DatabaseUrl::Sqlite(dbmigrate::SqliteLocation::File(path)) => assert!(!path.exists(), "{path:?}"),
            _ => assert!(!dbmigrate::admin::database_exists(&scratch).unwrap(), "{scratch}"),
        }
        assert_eq!(ok(db(dir, url, &["current"])).stdout, "", "the database of DATABASE_URL is not touched");
    }

    fn an_index_built_concurrently_runs_outside_the_revisions_transaction(db_: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let (dir, url) = (dir.path(), &db_.url_string());
        copy_of_chapter_4_repository(dir);
        let file = dir.join("migrations/versions/c0ffee000001_index_post_body.toml");
        let revision = |unique: bool| format!("revision = \"c0ffee000001\"
down_revision = \"1047ef9144ea\"
message = \"index post body\"

[[upgrade]]
op = \"create_index\"
table = \"post\"
name = \"ix_post_body\"
columns = [\"body\"]
unique = {unique}
concurrently = true

[[downgrade]]
op = \"drop_index\"
table = \"post\"
name = \"ix_post_body\"
concurrently = true
");
        let has_index = |conn: &mut dbmigrate::AnyConnection| {
            let catalog = dbmigrate::inspect::inspect(conn).unwrap();
            catalog.table("post").unwrap().indexes.iter().any(|i| i.name == "ix_post_body")
        };

        std::fs::write(&file, revision(false)).unwrap();
        ok(db(dir, url, &["upgrade"]));
        let mut conn = dbmigrate::connect(&db_.url).unwrap();
        assert!(has_index(&mut conn));
        if db_.dialect() == dbmigrate::Dialect::Postgres {
            let sql = ok(db(dir, url, &["upgrade", "--sql", "1047ef9144ea:head"])).stdout;
            let build = "CREATE INDEX CONCURRENTLY IF NOT EXISTS \"ix_post_body\" ON \"post\" (\"body\");";
            assert!(sql.contains(&format!("-- outside a transaction\n{build}")), "{sql}");
        }
        ok(db(dir, url, &["downgrade"]));
        assert!(!has_index(&mut conn));

        // A unique index over duplicates fails: the revision is not recorded, and the
        // index PostgreSQL leaves behind, invalid, is dropped.
        let user = db_.dialect().quote("user");
        diesel::connection::SimpleConnection::batch_execute(&mut conn, &format!(
            "INSERT INTO {user} (username) VALUES ('ann'); INSERT INTO post (body, user_id) VALUES ('same', 1), ('same', 1);"
        )).unwrap();
        std::fs::write(&file, revision(true)).unwrap();
        let refused = failed(db(dir, url, &["upgrade"]));
        assert!(refused.stderr.contains("Nothing of this revision was kept"), "{refused:?}");
        assert_eq!(ok(db(dir, url, &["current"])).stdout, "1047ef9144ea\n");
        assert!(!has_index(&mut conn));
    }

    fn a_hand_written_revision_in_a_chosen_directory_applies_and_undoes(db_: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let (dir, url) = (dir.path(), &db_.url_string());
        let init = ok(db(dir, url, &["-d", "schema", "init"]));
        assert!(init.stdout.contains("Creating directory schema/versions"), "{init:?}");
        ok(db(dir, url, &["revision", "-d", "schema", "-m", "notes table"]));
        let versions = dir.join("schema/versions");
        let file = std::fs::read_dir(&versions).unwrap().next().unwrap().unwrap().path();
        assert!(file.file_name().unwrap().to_string_lossy().ends_with("_notes_table.toml"));
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, format!("{text}
[[upgrade]]
op = \"create_table\"
table = \"note\"
columns = [
    {{ name = \"id\", type = \"integer\", nullable = false, autoincrement = true }},
    {{ name = \"text\", type = \"string(200)\", nullable = false, default = \"''\" }},
]
primary_key = [\"id\"]

[[upgrade]]
op = \"sql\"
sql = \"INSERT INTO note (text) VALUES ('hello')\"

[[downgrade]]
op = \"drop_table\"
table = \"note\"
")).unwrap();
        let upgrade = ok(db(dir, url, &["-d", "schema", "upgrade"]));
        assert!(upgrade.stdout.starts_with("Running upgrade  -> "), "{upgrade:?}");
        assert!(upgrade.stderr.contains("Using the migration repository schema"), "{upgrade:?}");
        let show = ok(db(dir, url, &["-d", "schema", "show", "head"]));
        assert!(show.stdout.contains("Upgrade:\n    create table 'note'\n    execute SQL: INSERT INTO note"), "{show:?}");
        ok(db(dir, url, &["-d", "schema", "downgrade", "base"]));
    }
}

#[test]
fn init_refuses_a_directory_that_is_not_empty() {
    let dir = tempfile::tempdir().unwrap();
    let url = "sqlite:///app.db";
    ok(db(dir.path(), url, &["init"]));
    let again = failed(db(dir.path(), url, &["init"]));
    assert!(
        again.stderr.contains(
            "migrations exists and is not empty; a new repository needs a new or empty directory"
        ),
        "{again:?}"
    );
}

#[test]
fn a_malformed_revision_file_is_reported_with_its_file_and_line_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    copy_of_chapter_4_repository(dir.path());
    let file = dir
        .path()
        .join("migrations/versions/780739b227a7_posts_table.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace(
            "op = \"create_index\"\ntable",
            "op = \"create_index\"\ntabel",
        ),
    )
    .unwrap();
    let refused = failed(db(dir.path(), "sqlite:///app.db", &["upgrade"]));
    assert!(
        refused
            .stderr
            .contains("migrations/versions/780739b227a7_posts_table.toml, line ")
            && refused.stderr.contains("unknown field `tabel`"),
        "{refused:?}"
    );
    assert!(!dir.path().join("app.db").exists(), "nothing was touched");
}

#[test]
fn several_heads_are_listed_with_the_way_to_merge_them() {
    let dir = tempfile::tempdir().unwrap();
    let (dir, url) = (dir.path(), "sqlite:///app.db");
    let (a, b) = init_with_two_heads(dir, url);
    let refused = failed(db(dir, url, &["upgrade"]));
    assert!(
        refused
            .stderr
            .contains(&format!("several heads ({a}, {b})"))
            && refused.stderr.contains("db merge -m MESSAGE heads"),
        "{refused:?}"
    );
    let branches = ok(db(dir, url, &["branches"]));
    assert!(branches.stdout.contains("(branchpoint)"), "{branches:?}");
    ok(db(dir, url, &["upgrade", "heads"]));
    ok(db(dir, url, &["merge", "-m", "join", "heads"]));
    let upgrade = ok(db(dir, url, &["upgrade"]));
    assert!(
        upgrade
            .stdout
            .contains(&format!("Running upgrade {a}, {b} -> ")),
        "{upgrade:?}"
    );
    let current = ok(db(dir, url, &["current"]));
    assert!(
        current.stdout.contains(" (head) (mergepoint)"),
        "{current:?}"
    );
}

#[test]
fn an_applied_revision_edited_since_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let (dir, url) = (dir.path(), "sqlite:///app.db");
    copy_of_chapter_4_repository(dir);
    ok(db(dir, url, &["upgrade", "+1"]));
    let file = dir.join("migrations/versions/e517276bb1c2_users_table.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("string(120)", "string(200)")).unwrap();
    let upgrade = ok(db(dir, url, &["upgrade"]));
    assert!(
        upgrade
            .stderr
            .contains("warning: revision e517276bb1c2 (migrations/versions/e517276bb1c2_users_table.toml) was edited after it was applied"),
        "{upgrade:?}"
    );
    assert!(
        ok(db(dir, url, &["current"]))
            .stdout
            .contains("1047ef9144ea (head)")
    );
}

on_each_database! {
    fn a_failing_revision_ends_its_line_names_its_cause_and_leaves_what_it_says(db_: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let (dir, url) = (dir.path(), &db_.url_string());
        ok(db(dir, url, &["init"]));
        ok(db(dir, url, &["revision", "-m", "broken"]));
        let id = only_revision_id(dir);
        let file = std::fs::read_dir(dir.join("migrations/versions"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, format!("{text}\n[[upgrade]]\nop = \"sql\"\nsql = \"CREATE TABLE t (x INTEGER)\"\n\n[[upgrade]]\nop = \"sql\"\nsql = \"INSERT INTO nowhere VALUES (1)\"\n")).unwrap();
        let refused = failed(db(dir, url, &["upgrade"]));
        assert!(refused.stdout.ends_with(" ... failed\n"), "{refused:?}");
        assert!(
            refused.stderr.contains(&format!("upgrade of revision {id} (broken) failed: operation 2"))
                && refused.stderr.contains("nowhere"),
            "{refused:?}"
        );
        let current = ok(db(dir, url, &["current"])).stdout;
        let mut conn = dbmigrate::connect(&db_.url).unwrap();
        let catalog = dbmigrate::inspect::inspect(&mut conn).unwrap();
        if db_.dialect() == dbmigrate::Dialect::Mysql {
            // MySQL committed the first statement, SQL that undoing cannot judge: it stays,
            // named, and recorded as a step done, for `db upgrade` to go on after.
            assert!(refused.stderr.contains("CREATE TABLE t"), "what stayed is named: {refused:?}");
            assert!(catalog.table("t").is_some(), "and it is there");
            assert!(current.contains(&format!("{id} (its upgrade stopped after step 1")), "{current}");
        } else {
            assert!(!current.contains(&id), "the revision is not recorded: {current}");
            assert!(refused.stderr.contains("still at <base>"), "{refused:?}");
            assert!(catalog.table("t").is_none(), "nothing stayed");
        }
    }
}

#[test]
fn offline_sql_is_written_for_the_urls_database_without_connecting() {
    let dir = tempfile::tempdir().unwrap();
    copy_of_chapter_4_repository(dir.path());
    for (name, url) in [
        ("sqlite", "sqlite:///app.db"),
        ("postgresql", "postgresql://nobody@127.0.0.1:1/unreachable"),
        ("mysql", "mysql://nobody@127.0.0.1:1/unreachable"),
    ] {
        let upgrade = ok(db(dir.path(), url, &["upgrade", "--sql"]));
        insta::assert_snapshot!(format!("upgrade_sql_{name}"), upgrade.stdout);
        let downgrade = ok(db(dir.path(), url, &["downgrade", "--sql", "head:base"]));
        insta::assert_snapshot!(format!("downgrade_sql_{name}"), downgrade.stdout);
    }
    assert!(!dir.path().join("app.db").exists());
    let refused = failed(db(dir.path(), "sqlite:///app.db", &["downgrade", "--sql"]));
    assert!(refused.stderr.contains("FROM:TO"), "{refused:?}");
}

#[test]
fn the_migration_guides_example_revision_reads_and_applies() {
    let guide =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/migrations.md"))
            .unwrap();
    let example = guide
        .split("```toml\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    copy_of_chapter_4_repository(dir.path());
    let file = dir
        .path()
        .join("migrations/versions/3c1c2f6b4a0e_about_me.toml");
    std::fs::write(&file, example).unwrap();
    let upgrade = ok(db(dir.path(), "sqlite:///app.db", &["upgrade"]));
    assert!(
        upgrade
            .stdout
            .contains("Running upgrade 1047ef9144ea -> 3c1c2f6b4a0e, about me"),
        "{upgrade:?}"
    );
    ok(db(dir.path(), "sqlite:///app.db", &["downgrade"]));
}

/// `db edit` with an editor that appends `line` to the file it is given.
fn edited(dir: &Path, url: &str, revision: &str, line: &str) -> Printed {
    let editor = dir.join("editor.sh");
    std::fs::write(&editor, format!("#!/bin/sh\necho '{line}' >> \"$1\"\n")).unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    command(dir, Some(url), &["db", "edit", revision])
        .env("EDITOR", &editor)
        .output()
        .unwrap()
        .into()
}

on_each_database! {
    fn db_edit_opens_the_revision_checks_it_and_says_when_the_database_ran_it_before(db_: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let (dir, url) = (dir.path(), db_.url_string());
        copy_of_chapter_4_repository(dir);
        let untouched = ok(edited(dir, &url, "head", "# reviewed before it ran"));
        assert!(!untouched.stderr.contains("was applied"), "not applied yet: {untouched:?}");
        if let dbmigrate::DatabaseUrl::Sqlite(dbmigrate::url::SqliteLocation::File(file)) = &db_.url {
            assert!(!file.exists(), "editing a file makes no database");
        }
        ok(db(dir, &url, &["upgrade"]));

        let applied = ok(edited(dir, &url, "head", "# reviewed after it ran"));
        assert!(applied.stderr.contains("was applied to this database before the edit"), "{applied:?}");

        let broken = failed(edited(dir, &url, "e517", "upgrade = = 1"));
        assert!(broken.stderr.contains("kept as edited"), "{broken:?}");
        assert!(failed(db(dir, &url, &["history"])).stderr.contains("e517276bb1c2"));
    }
}
