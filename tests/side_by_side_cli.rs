//! The release that is serving, as a user runs it, while the next release's revision runs
//! side by side: after `db upgrade` (expand) it still starts and serves, reads and writes;
//! after `db contract` a release that old is refused with the reason. `db current` says
//! where the database is. On SQLite and MySQL the revision runs in one go, and the older
//! release is refused from then on. And a server survives a column's type changing under
//! the statements it prepared.

mod support;

use dbmigrate::Dialect;
use dbmigrate::on_each_database;

use support::site::signed_up;
use support::{Printed, Server, built_in, copy_of_app_repository, db, microblog};

/// The application's revisions and the next release's: `post.body` renamed to `text`.
fn next_release_repository(dir: &std::path::Path) {
    copy_of_app_repository(dir);
    let head = built_in().head().unwrap().unwrap().id.clone();
    std::fs::write(
        dir.join("migrations/versions/feed00000022_rename_body.toml"),
        format!(
            "revision = \"feed00000022\"\ndown_revision = \"{head}\"\nmessage = \"rename body\"\n\n\
             [[upgrade]]\nop = \"alter_column\"\ntable = \"post\"\ncolumn = \"body\"\nnew_name = \"text\"\n\n\
             [[downgrade]]\nop = \"alter_column\"\ntable = \"post\"\ncolumn = \"text\"\nnew_name = \"body\"\n"
        ),
    )
    .unwrap();
}

fn ok(printed: Printed) -> Printed {
    assert_eq!(printed.code, Some(0), "{printed:?}");
    printed
}

on_each_database! {
    fn the_serving_release_goes_on_until_the_contract_and_is_refused_after(db_: &TestDb) {
        let url = db_.url_string();
        let next = tempfile::tempdir().unwrap();
        next_release_repository(next.path());
        let serving = tempfile::tempdir().unwrap();
        let server = Server::start(serving.path(), &url, &[]);
        let writer = signed_up(&server, "ann");
        let token = writer.get("/index").csrf_token();
        writer.post("/index", &[("csrf_token", &token), ("post", "before the upgrade")]);
        drop(server);

        let upgrade = ok(db(next.path(), &url, &["upgrade"]));
        let current = ok(db(next.path(), &url, &["current"])).stdout;
        if db_.dialect() != Dialect::Postgres {
            assert!(!current.contains("expanded"), "{current}");
            let restart = microblog(serving.path(), Some(&url), &["run", "--port", "0"]);
            let stderr = String::from_utf8_lossy(&restart.stderr);
            assert!(stderr.contains("feed00000022") && stderr.contains("a later release of microblog"), "{stderr}");
            return;
        }
        assert!(upgrade.stderr.contains("expanded side by side"), "{upgrade:?}");
        assert!(current.contains("feed00000022 (head) (expanded side by side"), "{current}");
        let check = db(next.path(), &url, &["check"]);
        assert_eq!(check.code, Some(1), "{check:?}");
        assert!(check.stdout.contains("Revision feed00000022 runs side by side"), "{check:?}");
        let autogenerate = db(next.path(), &url, &["migrate", "-m", "while expanded"]);
        assert_ne!(autogenerate.code, Some(0), "{autogenerate:?}");
        assert!(autogenerate.stderr.contains("run `db contract` first"), "{autogenerate:?}");

        let server = Server::start(serving.path(), &url, &[]);
        let writer = signed_up(&server, "bob");
        let token = writer.get("/index").csrf_token();
        let posted = writer.post("/index", &[("csrf_token", &token), ("post", "while expanded")]);
        assert_eq!(posted.status, 303, "{}", posted.body);
        let page = writer.get("/index").body;
        assert!(page.contains("before the upgrade") && page.contains("while expanded"), "{page}");
        drop(server);

        ok(db(next.path(), &url, &["contract"]));
        let refused = microblog(serving.path(), Some(&url), &["run", "--port", "0"]);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success());
        assert!(stderr.contains("feed00000022") && stderr.contains("a later release of microblog"), "{stderr}");
    }

    fn a_column_retyped_under_a_running_server_is_read_as_it_now_is(db_: &TestDb) {
        let (server, _dir) = support::site::start(db_, &[]);
        let writer = signed_up(&server, "ann");
        let token = writer.get("/index").csrf_token();
        writer.post("/index", &[("csrf_token", &token), ("post", "prepared before")]);
        assert!(writer.get("/index").body.contains("prepared before"));
        // What a migration run with the site up may do to the statements it prepared.
        let mut conn = dbmigrate::connect(&db_.url).unwrap();
        let retype = dbmigrate::ops::Op::AlterColumn {
            table: "post".into(),
            column: "body".into(),
            ty: Some(dbmigrate::ColumnType::Text),
            nullable: None,
            set_default: None,
            drop_default: false,
            new_name: None,
            online: None,
        };
        let live = dbmigrate::inspect::inspect(&mut conn).unwrap();
        dbmigrate::apply::apply(&mut conn, &[retype], &live, |_| Ok(())).unwrap();
        for _ in 0..3 {
            let page = writer.get("/index");
            assert_eq!(page.status, 200, "{}", page.body);
            assert!(page.body.contains("prepared before"));
        }
    }
}
