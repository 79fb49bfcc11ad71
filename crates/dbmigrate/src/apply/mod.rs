//! Applying a revision's operations to a live database. [`plan`] turns them into steps: the
//! statements of one operation, or a part of one where PostgreSQL has a form that does not
//! stop the site (an index built outside the transaction, a constraint validated after it is
//! added). The dialect's `apply.rs` runs the steps: on SQLite, and on PostgreSQL when every
//! step can share it, in one transaction, so that a failure leaves the database exactly as
//! it was; on PostgreSQL otherwise in phases (`phases.rs`), each recorded as it finishes, so
//! that a run stopped partway goes on where it stopped and a failure undoes what was done;
//! on MySQL statement by statement, since its DDL commits at once, with an exact account of
//! what was applied when one fails. Every statement that takes a lock the site would queue
//! behind waits for it under the rules of `locks.rs`.

pub mod backfill;
pub mod locks;
pub(crate) mod phases;

use std::collections::BTreeSet;
use std::sync::Arc;

use diesel::QueryResult;
use diesel::connection::SimpleConnection;

use crate::connection::AnyConnection;
use crate::ops::{Op, OpError};
use crate::schema::Schema;
use crate::url::Dialect;
pub use backfill::Backfill;
pub use locks::{
    LockFailure, LockHolder, LockMode, LockPolicy, LockWait, Notice, PolicyError, TableLock,
};

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
    #[error("{0}")]
    Partway(Box<Partway>),
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
    LockNotGranted(Box<LockFailure>),
    #[error("the {done} step(s) it did stay: {why}; finish it with `db upgrade`, then downgrade")]
    CannotUndo { done: usize, why: String },
    #[error(
        "revision {0} stopped partway, and the operations it had run were changed in its file since; restore them as they were and run the command again, then make the change in a new revision"
    )]
    ChangedSinceStopped(String),
    #[error("{0}")]
    Database(#[from] diesel::result::Error),
}

impl ApplyError {
    /// Whether a statement gave up waiting for a lock (or was chosen to end a deadlock), so
    /// that trying again later may succeed.
    pub fn is_lock_timeout(&self) -> bool {
        match self {
            ApplyError::Failed(failure) => failure.lock_timeout,
            ApplyError::Database(error) => locks_ran_out(error),
            _ => false,
        }
    }

    /// Whether the database is as it was before the revision.
    pub fn left_nothing(&self) -> bool {
        !matches!(self, ApplyError::Partway(_) | ApplyError::CannotUndo { .. })
    }
}

/// The messages PostgreSQL (`55P03`, `40P01`), MySQL (1205, 1213) and SQLite (`SQLITE_BUSY`)
/// give when a lock wait ends without the lock. Diesel passes on no error code, so the
/// English text is matched.
fn locks_ran_out(error: &diesel::result::Error) -> bool {
    let message = error.to_string().to_ascii_lowercase();
    [
        "lock timeout",
        "lock wait timeout exceeded",
        "deadlock",
        "database is locked",
    ]
    .iter()
    .any(|text| message.contains(text))
}

/// A statement the database refused; nothing of the plan stays (what steps before it had
/// done was rolled back or undone).
#[derive(Debug, thiserror::Error)]
#[error("operation {number} ({op}) failed: {message}; nothing was changed")]
pub struct StatementFailure {
    pub number: usize,
    pub op: String,
    pub statement: String,
    pub message: String,
    /// Whether it failed waiting for a lock.
    pub lock_timeout: bool,
}

/// A revision run in phases that failed after some of them, and could not be undone.
#[derive(Debug, thiserror::Error)]
#[error(
    "operation {number} ({op}) failed: {message}\n  steps 1 to {done} of {steps} stay applied{}, as {why_kept}:\n{}\n  `db upgrade` goes on from step {next} (the revision's later operations may be changed first), `db downgrade` undoes them where it can; or undo them by hand and `db stamp` the revision before",
    if *.recorded { " and recorded" } else { "" },
    listed(.applied),
    next = .done + 1
)]
pub struct Partway {
    pub number: usize,
    pub op: String,
    pub message: String,
    pub done: usize,
    pub steps: usize,
    pub why_kept: String,
    /// What the steps done ran.
    pub applied: Vec<String>,
    /// Whether they are recorded, for a run that goes on from them.
    pub recorded: bool,
}

fn listed(statements: &[String]) -> String {
    statements
        .iter()
        .map(|s| format!("    {}", s.replace('\n', " ")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One step of a plan: what runs, where it runs, the locks it takes.
#[derive(Debug, Clone)]
pub struct Step {
    /// The operation it comes from, from 1, and its description.
    pub number: usize,
    pub op: String,
    pub work: Work,
    pub placement: Placement,
    pub locks: Vec<TableLock>,
    /// The schema once this step is done, as the engine accounts for it: what undoing a
    /// revision stopped after this step goes back from.
    pub reaches: Arc<Schema>,
    /// Whether it changes rows (SQL as written, a backfill of existing columns): what no
    /// comparison of schemas can undo.
    pub changes_rows: bool,
    /// What undoes what this step leaves behind when it fails or is stopped (a
    /// `CREATE INDEX CONCURRENTLY` leaves its index, invalid): run after it fails, and
    /// before it runs again in a run that goes on after a stop.
    pub cleanup: Option<String>,
}

impl Step {
    /// The SQL it runs, for messages and scripts.
    pub fn sql(&self) -> String {
        match &self.work {
            Work::Sql(sql) => sql.clone(),
            Work::Backfill(backfill) => backfill.describe_sql(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    Sql(String),
    Backfill(Backfill),
}

/// Where a step runs, on a database with transactional DDL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// In the transaction of the steps around it.
    Shared,
    /// In a transaction of its own, once the steps before it are committed: what must not
    /// run while the locks they took are held (a validation that scans the table).
    Separate,
    /// Outside any transaction (`CREATE INDEX CONCURRENTLY`, a backfill's batches).
    Outside,
}

/// A step as a dialect writes it; [`plan`] adds what the operation says.
#[derive(Debug, Clone)]
pub struct Drafted {
    pub work: Work,
    pub placement: Placement,
    /// The locks it takes; `None` for those the operation's kind takes.
    pub locks: Option<Vec<TableLock>>,
    /// The schema it reaches; `None` for the one after the operation.
    pub reaches: Option<Schema>,
    pub cleanup: Option<String>,
}

impl Drafted {
    pub fn shared(sql: String) -> Drafted {
        Drafted {
            work: Work::Sql(sql),
            placement: Placement::Shared,
            locks: None,
            reaches: None,
            cleanup: None,
        }
    }

    pub fn placed(mut self, placement: Placement) -> Drafted {
        self.placement = placement;
        self
    }

    pub fn locking(mut self, locks: Vec<TableLock>) -> Drafted {
        self.locks = Some(locks);
        self
    }

    pub fn reaching(mut self, schema: Schema) -> Drafted {
        self.reaches = Some(schema);
        self
    }

    pub fn cleanup(mut self, sql: String) -> Drafted {
        self.cleanup = Some(sql);
        self
    }
}

/// The steps for a list of operations, and the schema before and after them.
#[derive(Debug, Clone)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub before: Schema,
    pub after: Schema,
}

impl Plan {
    /// Whether every step can run in one transaction.
    pub fn in_one_transaction(&self) -> bool {
        self.steps.iter().all(|s| s.placement == Placement::Shared)
    }

    /// What the first `done` steps run, digested: a run that goes on after a stop checks
    /// that the steps it skips are the ones that ran.
    pub fn digest(&self, done: usize) -> String {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        for step in &self.steps[..done.min(self.steps.len())] {
            hasher.update(step.sql().as_bytes());
            hasher.update(b"\n");
        }
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The steps for `ops` on `dialect`, starting from `before`; checks every operation against
/// the schema before anything runs. Operations on tables that were there before (not made
/// by an earlier operation of the list, nor dropped by a later one) may take the forms that
/// do not stop the site.
pub fn plan(dialect: Dialect, ops: &[Op], before: &Schema) -> Result<Plan, ApplyError> {
    let mut schema = before.clone();
    let mut existing: BTreeSet<String> = before.tables.iter().map(|t| t.name.clone()).collect();
    let mut steps = Vec::new();
    for (index, op) in ops.iter().enumerate() {
        let invalid = |cause| ApplyError::Invalid {
            number: index + 1,
            op: op.describe(),
            cause,
        };
        let resolved = op.resolved(&schema);
        let op_now = resolved.as_ref().unwrap_or(op);
        let mut after = schema.clone();
        after.apply(op_now).map_err(invalid)?;
        // A table the list drops later has no one left to keep running.
        let dropped_later = |table: &str| {
            ops[index + 1..]
                .iter()
                .any(|later| matches!(later, Op::DropTable { table: t } if t == table))
        };
        let is_existing = op_now
            .table()
            .is_some_and(|t| existing.contains(t) && !dropped_later(t));
        let drafts = match op_now {
            Op::Backfill { .. } => vec![backfill::draft(op_now, &schema).map_err(invalid)?],
            // Dropping the table drops its indexes and constraints with it.
            Op::DropIndex { table, .. }
            | Op::DropUniqueConstraint { table, .. }
            | Op::DropCheckConstraint { table, .. }
                if dropped_later(table) =>
            {
                Vec::new()
            }
            _ => dialect
                .sql()
                .op_steps(op_now, &schema, &after, is_existing)
                .map_err(invalid)?,
        };
        let reached_after = Arc::new(after.clone());
        let changes_rows = match op_now {
            Op::Sql { .. } => true,
            Op::Backfill { table, set, .. } => schema
                .table(table)
                .is_some_and(|t| set.keys().any(|column| t.find_column(column).is_some())),
            _ => false,
        };
        for draft in drafts {
            steps.push(Step {
                number: index + 1,
                op: op.describe(),
                work: draft.work,
                placement: draft.placement,
                locks: draft.locks.unwrap_or_else(|| locks::taken_by(op_now)),
                reaches: draft
                    .reaches
                    .map_or_else(|| reached_after.clone(), Arc::new),
                changes_rows,
                cleanup: draft.cleanup,
            });
        }
        match op_now {
            Op::RenameTable { table, new_name } if existing.remove(table) => {
                existing.insert(new_name.clone());
            }
            Op::DropTable { table } => {
                existing.remove(table);
            }
            _ => {}
        }
        schema = after;
    }
    Ok(Plan {
        steps,
        before: before.clone(),
        after: schema,
    })
}

/// How a plan is run: the lock rules, what to tell as it goes, and, for a revision, the
/// name under which a run in phases records its progress.
pub struct Run<'a> {
    pub policy: LockPolicy,
    pub notify: &'a mut dyn FnMut(Notice),
    /// The revision being run, and which way (`upgrade`, `downgrade`).
    pub revision: Option<(&'a str, &'a str)>,
    /// Whether the plan must run outside a transaction (`transaction = false`).
    pub outside_transaction: bool,
}

impl Run<'_> {
    /// No lock rules beyond the defaults, nothing told, nothing recorded.
    pub fn quiet(notify: &mut dyn FnMut(Notice)) -> Run<'_> {
        Run {
            policy: LockPolicy::default(),
            notify,
            revision: None,
            outside_transaction: false,
        }
    }
}

/// Runs `ops` on `conn`, whose schema is `before`, then `finish` in the same transaction
/// (where there is one): the place to record that a revision was applied.
pub fn apply(
    conn: &mut AnyConnection,
    ops: &[Op],
    before: &Schema,
    finish: impl FnMut(&mut AnyConnection) -> QueryResult<()>,
) -> Result<Schema, ApplyError> {
    let mut quiet = |_: Notice| {};
    apply_with(conn, ops, before, &mut Run::quiet(&mut quiet), finish)
}

/// As [`apply`], run as `run` says; `finish` runs once every step succeeded.
pub fn apply_with(
    conn: &mut AnyConnection,
    ops: &[Op],
    before: &Schema,
    run: &mut Run,
    mut finish: impl FnMut(&mut AnyConnection) -> QueryResult<()>,
) -> Result<Schema, ApplyError> {
    let dialect = conn.dialect();
    let mut plan = plan(dialect, ops, before)?;
    if run.outside_transaction {
        for step in &mut plan.steps {
            step.placement = Placement::Outside;
        }
    }
    dialect.sql().run(conn, &plan, run, &mut finish)?;
    Ok(plan.after)
}

/// Undoes the steps a run of `ops` from `before` did before it stopped, as `stopped`
/// records them, and forgets the record.
pub(crate) fn undo_stopped(
    conn: &mut AnyConnection,
    ops: &[Op],
    before: &Schema,
    stopped: &crate::history::Progress,
    run: &mut Run,
) -> Result<(), ApplyError> {
    let plan = plan(conn.dialect(), ops, before)?;
    phases::undo_stopped(conn, &plan, stopped, run)
}

/// Every step of `plan`, stopping at the first that fails (inside a transaction, which then
/// rolls back).
pub(crate) fn run_all(
    conn: &mut AnyConnection,
    plan: &Plan,
    notify: &mut dyn FnMut(Notice),
) -> Result<(), ApplyError> {
    for position in 0..plan.steps.len() {
        execute(conn, &plan.steps[position], notify).map_err(|e| failure(plan, position, e))?;
    }
    Ok(())
}

/// Runs one step's work as it is, with no waiting rules of its own.
pub(crate) fn execute(
    conn: &mut AnyConnection,
    step: &Step,
    notify: &mut dyn FnMut(Notice),
) -> diesel::QueryResult<()> {
    match &step.work {
        Work::Sql(sql) => conn.batch_execute(sql),
        Work::Backfill(backfill) => backfill.run_inline(conn, notify),
    }
}

/// Step `position` of `plan` failed.
pub(crate) fn failure(plan: &Plan, position: usize, error: diesel::result::Error) -> ApplyError {
    let step = &plan.steps[position];
    ApplyError::Failed(Box::new(StatementFailure {
        number: step.number,
        op: step.op.clone(),
        statement: step.sql(),
        message: error.to_string(),
        lock_timeout: locks_ran_out(&error),
    }))
}
