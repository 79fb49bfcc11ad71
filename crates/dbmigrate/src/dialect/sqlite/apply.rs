//! A revision runs in one transaction, with foreign keys switched off before it (inside a
//! transaction SQLite ignores the switch) and `PRAGMA foreign_key_check` before commit, so
//! that a table rebuild can never leave a broken reference behind. Views and triggers are
//! set aside around a rebuild and made again after it, as SQLite's procedure asks: dropping
//! the old table drops its triggers, and renaming the new one into place checks every view.

use std::collections::BTreeSet;

use diesel::connection::SimpleConnection;
use diesel::sql_types::{Nullable, Text};
use diesel::{Connection, QueryResult, QueryableByName, RunQueryDsl, sql_query};

use crate::apply::{ApplyError, Notice, Plan, Run, TableLock, Work, execute, failure, locks};
use crate::connection::AnyConnection;
use crate::dialect::{Dialect, REBUILD_PREFIX};
use crate::inspect::Name;

pub(super) const SCRIPT_FRAME: (&str, &str) = (
    "PRAGMA foreign_keys = OFF;\nBEGIN;\n",
    "PRAGMA foreign_key_check;\nCOMMIT;\nPRAGMA foreign_keys = ON;\n",
);

/// The whole plan in one transaction, whatever its steps' placement says: SQLite builds no
/// index concurrently, one writer at a time holds the file, and its table rebuilds need
/// the transaction. A backfill runs its batches inside it. Another writer keeps it waiting
/// at most the lock timeout (`busy_timeout`) a try, and the tries go on as the policy says.
pub(super) fn run(
    conn: &mut AnyConnection,
    plan: &Plan,
    run: &mut Run,
    finish: &mut dyn FnMut(&mut AnyConnection) -> QueryResult<()>,
) -> Result<(), ApplyError> {
    let locks: Vec<TableLock> = plan.steps.iter().flat_map(|s| s.locks.clone()).collect();
    let policy = run.policy;
    let notify = &mut *run.notify;
    let mut told = Vec::new();
    conn.batch_execute("PRAGMA foreign_keys = OFF")?;
    let result = locks::retrying(conn, &policy, &locks, notify, |conn| {
        conn.transaction(|c| {
            let set_aside = run_setting_aside(c, plan, &mut |n| told.push(n))?;
            make_again(c, &set_aside)?;
            check_foreign_keys(c)?;
            finish(c)?;
            Ok::<_, ApplyError>(())
        })
    });
    told.into_iter().for_each(|n| (run.notify)(n));
    conn.batch_execute("PRAGMA foreign_keys = ON")?;
    result
}

/// Runs the plan's statements; the views and triggers are set aside just before the first
/// table rebuild, so that the statements before it (a native column rename, which rewrites
/// them) still see them.
fn run_setting_aside(
    conn: &mut AnyConnection,
    plan: &Plan,
    notify: &mut dyn FnMut(Notice),
) -> Result<Vec<Dependent>, ApplyError> {
    let mut set_aside = None;
    for (position, step) in plan.steps.iter().enumerate() {
        let starts_rebuild = matches!(&step.work, Work::Sql(statement)
            if statement.starts_with("CREATE TABLE") && statement.contains(REBUILD_PREFIX));
        if starts_rebuild && set_aside.is_none() {
            set_aside = Some(set_aside_views_and_triggers(conn)?);
        }
        execute(conn, step, notify).map_err(|e| failure(plan, position, e))?;
    }
    Ok(set_aside.unwrap_or_default())
}

#[derive(QueryableByName)]
struct Dependent {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    sql: String,
}

/// Views first, then triggers (an INSTEAD OF trigger needs its view), each in the order
/// they were made.
fn set_aside_views_and_triggers(conn: &mut AnyConnection) -> Result<Vec<Dependent>, ApplyError> {
    let dependents: Vec<Dependent> = sql_query(
        "SELECT type AS kind, name, sql FROM sqlite_master \
         WHERE type IN ('view', 'trigger') AND sql IS NOT NULL \
         ORDER BY type = 'trigger', rowid",
    )
    .load(conn)?;
    for dependent in dependents.iter().rev() {
        conn.batch_execute(&format!(
            "DROP {} IF EXISTS {}",
            dependent.kind.to_uppercase(),
            Dialect::Sqlite.quote(&dependent.name)
        ))?;
    }
    Ok(dependents)
}

/// Makes again what was set aside, unless the revision made it itself.
fn make_again(conn: &mut AnyConnection, dependents: &[Dependent]) -> Result<(), ApplyError> {
    if dependents.is_empty() {
        return Ok(());
    }
    let present: BTreeSet<String> = sql_query("SELECT name FROM sqlite_master")
        .load::<Name>(conn)?
        .into_iter()
        .map(|row| row.name)
        .collect();
    for dependent in dependents.iter().filter(|d| !present.contains(&d.name)) {
        conn.batch_execute(&dependent.sql)
            .and_then(|()| match dependent.kind.as_str() {
                // SQLite takes a view's text without checking it; reading from it does.
                "view" => conn.batch_execute(&format!(
                    "SELECT * FROM {} LIMIT 0",
                    Dialect::Sqlite.quote(&dependent.name)
                )),
                _ => Ok(()),
            })
            .map_err(|e| ApplyError::Dependent {
                kind: dependent.kind.clone(),
                name: dependent.name.clone(),
                message: e.to_string(),
            })?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct ForeignKeyProblem {
    #[diesel(sql_type = Text)]
    table: String,
    #[diesel(sql_type = Nullable<Text>)]
    parent: Option<String>,
}

fn check_foreign_keys(conn: &mut AnyConnection) -> Result<(), ApplyError> {
    let problems: Vec<ForeignKeyProblem> =
        sql_query("SELECT \"table\" AS \"table\", parent FROM pragma_foreign_key_check")
            .load(conn)?;
    if problems.is_empty() {
        return Ok(());
    }
    let first = &problems[0];
    Err(ApplyError::ForeignKeyCheck(format!(
        "{} row(s) break a foreign key, the first in '{}' referencing '{}'",
        problems.len(),
        first.table,
        first.parent.as_deref().unwrap_or("?")
    )))
}
