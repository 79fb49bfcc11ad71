//! Applying a list of operations to a live database as one unit: one transaction on SQLite
//! and PostgreSQL, so that a failure leaves the database exactly as it was; statement by
//! statement on MySQL, whose DDL commits implicitly, with an exact account of what was
//! applied when a statement fails.

use diesel::QueryResult;
use diesel::connection::SimpleConnection;

use crate::connection::AnyConnection;
use crate::ops::{Op, OpError};
use crate::schema::Schema;
use crate::url::Dialect;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("operation {number} ({op}) does not fit the schema: {cause}")]
    Invalid {
        number: usize,
        op: String,
        cause: OpError,
    },
    #[error("{0}")]
    Failed(Box<StatementFailure>),
    #[error("the foreign keys do not hold after the change: {0}")]
    ForeignKeyCheck(String),
    #[error(
        "the {kind} '{name}' cannot be made again after the table it uses was rebuilt: {message}. Nothing was kept; drop it in the revision before the change (an `sql` operation) and make it again after"
    )]
    Dependent {
        kind: String,
        name: String,
        message: String,
    },
    #[error("{0}")]
    Database(#[from] diesel::result::Error),
}

/// A statement the database refused, and where that left the database.
#[derive(Debug, thiserror::Error)]
#[error("operation {number} ({op}) failed: {message}{}", account(.applied, .not_applied, *.rolled_back))]
pub struct StatementFailure {
    pub number: usize,
    pub op: String,
    pub statement: String,
    pub message: String,
    /// Statements that took effect and stay (MySQL only; empty where it rolled back).
    pub applied: Vec<String>,
    /// Statements that did not run.
    pub not_applied: Vec<String>,
    /// Whether the database is back where it was before the first statement.
    pub rolled_back: bool,
}

fn account(applied: &[String], not_applied: &[String], rolled_back: bool) -> String {
    if rolled_back {
        return "; nothing was changed".into();
    }
    let list = |statements: &[String]| {
        statements
            .iter()
            .map(|s| format!("    {}", s.replace('\n', " ")))
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "\n  applied ({}), and not undone because MySQL commits DDL at once:\n{}\n  not applied ({}):\n{}",
        applied.len(),
        list(applied),
        not_applied.len(),
        list(not_applied)
    )
}

/// Each statement with the number (from 1) and description of the operation it comes from.
pub struct Plan {
    pub statements: Vec<(usize, String, String)>,
    pub after: Schema,
}

/// The statements for `ops` on `dialect`, starting from `before`; checks every operation
/// against the schema before anything runs.
pub fn plan(dialect: Dialect, ops: &[Op], before: &Schema) -> Result<Plan, ApplyError> {
    let mut schema = before.clone();
    let mut statements = Vec::new();
    for (index, op) in ops.iter().enumerate() {
        let invalid = |cause| ApplyError::Invalid {
            number: index + 1,
            op: op.describe(),
            cause,
        };
        for statement in dialect.op_statements(op, &schema).map_err(invalid)? {
            statements.push((index + 1, op.describe(), statement));
        }
        schema.apply(op).map_err(invalid)?;
    }
    Ok(Plan {
        statements,
        after: schema,
    })
}

/// Runs `ops` on `conn`, whose schema is `before`, then `finish` in the same transaction
/// (where there is one): the place to record that a revision was applied.
pub fn apply(
    conn: &mut AnyConnection,
    ops: &[Op],
    before: &Schema,
    finish: impl FnOnce(&mut AnyConnection) -> QueryResult<()>,
) -> Result<Schema, ApplyError> {
    apply_with(conn, ops, before, true, finish)
}

/// As [`apply`], outside a transaction when `in_transaction` is false (for what PostgreSQL
/// cannot do inside one, such as `CREATE INDEX CONCURRENTLY`): `finish` then runs only
/// after every statement succeeded.
pub fn apply_with(
    conn: &mut AnyConnection,
    ops: &[Op],
    before: &Schema,
    in_transaction: bool,
    finish: impl FnOnce(&mut AnyConnection) -> QueryResult<()>,
) -> Result<Schema, ApplyError> {
    let dialect = conn.dialect();
    let plan = plan(dialect, ops, before)?;
    let mut finish = Some(finish);
    let mut finish_once = |c: &mut AnyConnection| match finish.take() {
        Some(finish) => finish(c),
        None => Ok(()),
    };
    if in_transaction {
        dialect.sql().run(conn, &plan, &mut finish_once)?;
    } else {
        dialect
            .sql()
            .run_outside_transaction(conn, &plan, &mut finish_once)?;
    }
    Ok(plan.after)
}

/// Each statement on its own, then `finish`: what takes effect stays, and a failure
/// reports exactly which statements did.
pub(crate) fn run_one_by_one(
    conn: &mut AnyConnection,
    plan: &Plan,
    finish: &mut dyn FnMut(&mut AnyConnection) -> QueryResult<()>,
) -> Result<(), ApplyError> {
    for (position, (_, _, statement)) in plan.statements.iter().enumerate() {
        conn.batch_execute(statement)
            .map_err(|e| failure(plan, position, e, position == 0))?;
    }
    finish(conn)?;
    Ok(())
}

/// Every statement of `plan`, stopping at the first that fails (inside a transaction, which
/// then rolls back).
pub(crate) fn run_all(conn: &mut AnyConnection, plan: &Plan) -> Result<(), ApplyError> {
    for (position, (_, _, statement)) in plan.statements.iter().enumerate() {
        conn.batch_execute(statement)
            .map_err(|e| failure(plan, position, e, true))?;
    }
    Ok(())
}

/// Statement `position` of `plan` failed; without a rollback, the ones before it stay.
pub(crate) fn failure(
    plan: &Plan,
    position: usize,
    error: diesel::result::Error,
    rolled_back: bool,
) -> ApplyError {
    let (number, op, statement) = &plan.statements[position];
    let texts = |range: &[(usize, String, String)]| -> Vec<String> {
        range.iter().map(|(_, _, s)| s.clone()).collect()
    };
    ApplyError::Failed(Box::new(StatementFailure {
        number: *number,
        op: op.clone(),
        statement: statement.clone(),
        message: error.to_string(),
        applied: if rolled_back {
            Vec::new()
        } else {
            texts(&plan.statements[..position])
        },
        not_applied: texts(&plan.statements[position..]),
        rolled_back,
    }))
}
