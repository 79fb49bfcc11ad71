//! `db lint`: the revisions judged before they run (see `dbmigrate::lint`).

use std::collections::BTreeSet;
use std::process::ExitCode;

use super::{Application, Chosen};
use crate::connect;
use crate::lint::{Context, Finding, RULES, exit_status, lint};
use crate::migrate;
use crate::repository::Repository;
use crate::url::DatabaseUrl;

/// The findings of `ids` (all the revisions not applied to the database when empty; every
/// revision offline). A database at a revision's parent counts the rows at stake.
pub fn findings(
    repo: &Repository,
    url: &DatabaseUrl,
    ids: &[String],
    offline: bool,
) -> anyhow::Result<Vec<Finding>> {
    let mut conn = if offline { None } else { Some(connect(url)?) };
    let applied: BTreeSet<String> = match conn.as_mut() {
        Some(conn) => migrate::status(conn, repo)?.applied,
        None => BTreeSet::new(),
    };
    let chosen: Vec<String> = if ids.is_empty() {
        repo.graph()
            .order()
            .iter()
            .filter(|id| !applied.contains(*id))
            .cloned()
            .collect()
    } else {
        ids.iter()
            .map(|text| repo.resolve(text).map(|r| r.id.clone()))
            .collect::<Result<_, _>>()?
    };
    let mut all = Vec::new();
    for id in chosen {
        let revision = repo.revision(&id).expect("resolved");
        let at_parent = !applied.contains(&id) && revision.down.iter().all(|d| applied.contains(d));
        let database = conn.as_mut().filter(|_| at_parent);
        let mut context = Context {
            repo,
            dialect: url.dialect(),
            database,
        };
        all.extend(lint(revision, &mut context)?);
    }
    Ok(all)
}

pub fn run(
    app: &Application,
    chosen: &Chosen,
    url: &DatabaseUrl,
    ids: &[String],
    offline: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let found = findings(&chosen.repository, url, ids, offline)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&found)?);
    } else {
        for finding in &found {
            println!("{finding}");
        }
        let open = found.iter().filter(|f| f.accepted.is_none()).count();
        println!(
            "{} finding(s), {} accepted in the revision files; rules: {}",
            found.len(),
            found.len() - open,
            app.command("db lint --rules")
        );
    }
    Ok(ExitCode::from(exit_status(&found)))
}

pub fn print_rules() {
    for rule in RULES {
        println!(
            "{:<26} {:<8} {}",
            rule.id,
            rule.severity.to_string(),
            rule.summary
        );
    }
}
