//! The engine's errors say what happened; at the command line each also says what to do,
//! in the application's own commands.

use super::Application;
use crate::connection::{ConnectError, ConnectFailure};
use crate::graph::GraphError;
use crate::migrate::{MigrateError, TargetError};
use crate::repository::RepositoryError;

/// One line for the user: the error, and the command that helps, if one does.
pub fn explain(error: &anyhow::Error, app: &Application) -> String {
    let advice = error.chain().find_map(|cause| advice(cause, app));
    match advice {
        Some(advice) => format!("{error:#}; {advice}"),
        None => format!("{error:#}"),
    }
}

fn advice(cause: &(dyn std::error::Error + 'static), app: &Application) -> Option<String> {
    if let Some(error) = cause.downcast_ref::<MigrateError>() {
        return migrate_advice(error, app);
    }
    if let Some(error) = cause.downcast_ref::<RepositoryError>() {
        return repository_advice(error, app);
    }
    if let Some(error) = cause.downcast_ref::<GraphError>() {
        return graph_advice(error, app);
    }
    if let Some(error) = cause.downcast_ref::<TargetError>() {
        return Some(match error {
            TargetError::GoesBack(text) => {
                format!("use {}", app.command(&format!("db downgrade {text}")))
            }
            TargetError::GoesForward(text) => {
                format!("use {}", app.command(&format!("db upgrade {text}")))
            }
            TargetError::NotSteps(_) => "write +N to go up N revisions, -N to go down".to_string(),
            TargetError::BadBranchStep(_) => {
                format!("see {} for the lines' labels", app.command("db history"))
            }
        });
    }
    if let Some(ConnectError {
        failure: ConnectFailure::DatabaseMissing(_),
        ..
    }) = cause.downcast_ref::<ConnectError>()
    {
        return Some(format!(
            "create it with {} (or CREATE DATABASE on the server)",
            app.command("db create")
        ));
    }
    None
}

fn migrate_advice(error: &MigrateError, app: &Application) -> Option<String> {
    Some(match error {
        MigrateError::UnknownApplied { .. } => format!(
            "use the repository that made it (-d DIR or MIGRATIONS_DIR), or record where the database is with {}",
            app.command("db stamp REVISION --purge")
        ),
        MigrateError::TablesWithoutHistory { .. } => format!(
            "bring the database to a revision's schema, or, if you know which revision it is at, record it with {}",
            app.command("db stamp REVISION")
        ),
        MigrateError::AmbiguousAdoption(_) => format!(
            "record the one it is at with {}",
            app.command("db stamp REVISION")
        ),
        MigrateError::NotApplied(_) => format!("see {}", app.command("db current")),
        MigrateError::NoDowngrade { .. } => format!(
            "or move the marker with {}",
            app.command("db stamp REVISION")
        ),
        MigrateError::Repository(error) => return repository_advice(error, app),
        MigrateError::WrongDirection {
            from,
            to,
            direction,
        } => format!(
            "use {}",
            app.command(&format!("db {direction} --sql {from}:{to}"))
        ),
        _ => return None,
    })
}

fn repository_advice(error: &RepositoryError, app: &Application) -> Option<String> {
    Some(match error {
        RepositoryError::Missing(_) => format!("create one with {}", app.command("db init")),
        RepositoryError::ReadOnly(_) => {
            format!(
                "create a repository on disk with {}",
                app.command("db init")
            )
        }
        RepositoryError::Graph { cause, .. } => return graph_advice(cause, app),
        _ => return None,
    })
}

fn graph_advice(error: &GraphError, app: &Application) -> Option<String> {
    Some(match error {
        GraphError::UnknownRevision(_) => {
            format!("see {} for the ids", app.command("db history"))
        }
        GraphError::MultipleHeads(_) => format!(
            "merge them with {}, or name one or a line's (LABEL@head; {} applies every branch)",
            app.command("db merge -m MESSAGE heads"),
            app.command("db upgrade heads")
        ),
        GraphError::BranchHeads { .. } => {
            format!("see {} for the line's revisions", app.command("db history"))
        }
        _ => return None,
    })
}
