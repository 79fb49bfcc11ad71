//! The rules, one entry each: what it looks for in one operation, given the schema before
//! it. Held to the standard of squawk's rules and strong_migrations' checks: each risk they
//! name either has a rule here that names it and its fix, or the engine's SQL no longer
//! has it (docs/live-migrations.md has the list).

use super::counts::Query;
use super::{Judging, Severity};
use crate::migrate::MigrateError;
use crate::ops::Op;
use crate::schema::ColumnType;
use crate::url::Dialect;

/// A rule: its id (what `accept` names), how serious, what it looks for.
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
    /// What it finds in one operation; `None` for the rules about a revision as a whole.
    pub(super) check: Option<Check>,
}

pub(super) type Check = fn(&mut Judging) -> Result<Option<Found>, MigrateError>;

/// What a rule found in an operation.
pub(super) struct Found {
    pub message: String,
    pub fix: String,
    /// Rows that make the danger real where a database counted them: an error then.
    pub at_stake: Option<i64>,
    /// The table's rows, for scale; the severity stays.
    pub rows: Option<i64>,
}

fn found(message: String, fix: &str) -> Option<Found> {
    Some(Found {
        message,
        fix: fix.to_string(),
        at_stake: None,
        rows: None,
    })
}

const fn rule(id: &'static str, severity: Severity, summary: &'static str, check: Check) -> Rule {
    Rule {
        id,
        severity,
        summary,
        check: Some(check),
    }
}

/// Every rule.
pub const RULES: &[Rule] = &[
    rule(
        "drop-table",
        Severity::Error,
        "a table is dropped with its rows",
        drop_table,
    ),
    rule(
        "drop-column",
        Severity::Error,
        "a column is dropped with its values",
        drop_column,
    ),
    rule(
        "narrowing-type",
        Severity::Warning,
        "a column's type is narrowed below values that may be there (an error when some are)",
        narrowing_type,
    ),
    rule(
        "not-null-on-nulls",
        Severity::Warning,
        "a column is made NOT NULL, which fails on NULLs (an error when some are)",
        not_null_on_nulls,
    ),
    rule(
        "not-null-without-default",
        Severity::Warning,
        "a NOT NULL column without a default is added to a table that may have rows (an error when it has)",
        not_null_without_default,
    ),
    rule(
        "unique-over-duplicates",
        Severity::Warning,
        "a unique index, constraint or primary key is added over values that may repeat (an error when they do)",
        unique_over_duplicates,
    ),
    rule(
        "rename-breaks-serving-release",
        Severity::Warning,
        "a table or column is renamed: the release still serving asks for the old name",
        rename_breaks_release,
    ),
    rule(
        "drop-breaks-serving-release",
        Severity::Warning,
        "a table or column the release still serving reads is dropped",
        drop_breaks_release,
    ),
    rule(
        "type-change-breaks-serving-release",
        Severity::Warning,
        "a column's values change type: the release still serving reads them as the old one",
        type_change_breaks_release,
    ),
    rule(
        "nullable-breaks-serving-release",
        Severity::Warning,
        "a NOT NULL column may hold NULL: the release still serving reads it as always set",
        nullable_breaks_release,
    ),
    rule(
        "pg-index-blocks-writes",
        Severity::Warning,
        "PostgreSQL: an index built or dropped without CONCURRENTLY locks its table",
        pg_index_blocks_writes,
    ),
    rule(
        "pg-constraint-scans-under-lock",
        Severity::Warning,
        "PostgreSQL: a foreign key, CHECK or unique constraint added in one statement checks every row under a lock",
        pg_constraint_scans,
    ),
    rule(
        "pg-not-null-scans-under-lock",
        Severity::Warning,
        "PostgreSQL: SET NOT NULL in one statement scans the table under its exclusive lock",
        pg_not_null_scans,
    ),
    rule(
        "pg-default-rewrites",
        Severity::Warning,
        "PostgreSQL: a column added with a default computed per row rewrites the table under its exclusive lock",
        pg_default_rewrites,
    ),
    rule(
        "pg-type-change-rewrites",
        Severity::Warning,
        "PostgreSQL: a type change rewrites the table under an exclusive lock",
        pg_type_change_rewrites,
    ),
    rule(
        "pg-name-too-long",
        Severity::Error,
        "PostgreSQL: a name longer than 63 bytes, which PostgreSQL cuts short",
        pg_name_too_long,
    ),
    rule(
        "integer-key",
        Severity::Notice,
        "a new table's key is a 32-bit integer, which runs out at 2,147,483,647",
        integer_key,
    ),
    rule(
        "sql-updates-rows",
        Severity::Warning,
        "an `sql` operation updates or deletes rows in the revision's transaction, holding their locks until it ends",
        sql_updates_rows,
    ),
    rule(
        "raw-sql",
        Severity::Notice,
        "SQL runs as written: it cannot be judged",
        raw_sql,
    ),
    Rule {
        id: "no-downgrade",
        severity: Severity::Warning,
        summary: "the revision changes the schema and cannot be undone",
        check: None,
    },
    Rule {
        id: "second-head",
        severity: Severity::Error,
        summary: "the revision makes a second head",
        check: None,
    },
];

const SIDE_BY_SIDE: &str = "on PostgreSQL `db upgrade` runs it side by side (the release serving keeps its shape until `db contract`); elsewhere stop the site for it, or spread it over two releases";

fn drop_table(j: &mut Judging) -> Result<Option<Found>, MigrateError> {
    let Op::DropTable { table } = j.op else {
        return Ok(None);
    };
    if !j.existing(table) {
        return Ok(None);
    }
    let rows = j.count(Query::Rows { table })?;
    Ok(found(
        format!("dropping '{table}' deletes its rows"),
        "keep the rows elsewhere first (an `sql` operation), or accept it with the reason",
    )
    .map(|f| f.at_stake(rows)))
}

fn drop_column(j: &mut Judging) -> Result<Option<Found>, MigrateError> {
    let Op::DropColumn { table, column } = j.op else {
        return Ok(None);
    };
    if !j.existing(table) {
        return Ok(None);
    }
    let values = j.count(Query::NotNull { table, column })?;
    Ok(found(
        format!("dropping '{table}.{column}' discards its values"),
        "copy them elsewhere first (an `sql` operation), or accept it with the reason",
    )
    .map(|f| f.at_stake(values)))
}

fn narrowing_type(j: &mut Judging) -> Result<Option<Found>, MigrateError> {
    let Some((table, column, from, to)) = j.type_change() else {
        return Ok(None);
    };
    if from.fits_in(&to) {
        return Ok(None);
    }
    let rows = j.count(Query::NotFitting {
        table: &table,
        column: &column,
        ty: &to,
    })?;
    Ok(found(
        format!("'{table}.{column}' goes from {from} to {to}, which holds less"),
        "check the values there fit, or widen instead",
    )
    .map(|f| f.at_stake(rows)))
}

fn not_null_on_nulls(j: &mut Judging) -> Result<Option<Found>, MigrateError> {
    let Op::AlterColumn {
        table,
        column,
        nullable: Some(false),
        ..
    } = j.op
    else {
        return Ok(None);
    };
    if !j.existing(table) || !j.column(table, column).is_some_and(|c| c.nullable) {
        return Ok(None);
    }
    let nulls = j.count(Query::Null { table, column })?;
    Ok(found(
        format!("making '{table}.{column}' NOT NULL fails while rows hold NULL there"),
        "fill the NULLs first (a `backfill` operation in the same revision)",
    )
    .map(|f| f.at_stake(nulls)))
}

fn not_null_without_default(j: &mut Judging) -> Result<Option<Found>, MigrateError> {
    let Op::AddColumn { table, column, .. } = j.op else {
        return Ok(None);
    };
    if !j.existing(table) || column.nullable || column.default.is_some() || column.autoincrement {
        return Ok(None);
    }
    let rows = j.count(Query::Rows { table })?;
    Ok(found(
        format!(
            "adding '{table}.{}' NOT NULL without a default fails on a table with rows",
            column.name
        ),
        "give it a default (`default`), or add it nullable, backfill it, then make it NOT NULL",
    )
    .map(|f| f.at_stake(rows)))
}

fn unique_over_duplicates(j: &mut Judging) -> Result<Option<Found>, MigrateError> {
    let (table, columns, what) = match j.op {
        Op::CreateIndex {
            table,
            name,
            columns,
            unique: true,
            ..
        } => (table, columns, format!("the unique index '{name}'")),
        Op::CreateUniqueConstraint {
            table,
            name,
            columns,
            ..
        } => (table, columns, format!("the unique constraint '{name}'")),
        Op::SetPrimaryKey { table, columns } if !columns.is_empty() => {
            (table, columns, format!("the primary key of '{table}'"))
        }
        _ => return Ok(None),
    };
    if !j.existing(table) {
        return Ok(None);
    }
    let repeats = j.count(Query::Duplicates { table, columns })?;
    Ok(found(
        format!(
            "{what} fails where values of ({}) repeat",
            columns.join(", ")
        ),
        "remove the duplicates first",
    )
    .map(|f| f.at_stake(repeats)))
}

fn rename_breaks_release(j: &mut Judging) -> Result<Option<Found>, MigrateError> {
    let (old, new) = match j.op {
        Op::RenameTable { table, new_name } => (format!("'{table}'"), format!("'{new_name}'")),
        Op::AlterColumn {
            table,
            column,
            new_name: Some(new_name),
            ..
        } if new_name != column => (format!("'{table}.{column}'"), format!("'{new_name}'")),
        _ => return Ok(None),
    };
    if !j.op.table().is_some_and(|t| j.existing(t)) {
        return Ok(None);
    }
    Ok(found(
        format!(
            "renaming {old} to {new}: the release still serving asks for {old}, and fails from the moment this runs until it is replaced"
        ),
        SIDE_BY_SIDE,
    ))
}

fn drop_breaks_release(j: &mut Judging) -> Result<Option<Found>, MigrateError> {
    // What the schema before the revision has, the release built for it reads.
    let what = match j.op {
        Op::DropTable { table } if j.existing(table) => format!("'{table}'"),
        Op::DropColumn { table, column }
            if j.existing(table) && j.column(table, column).is_some() =>
        {
            format!("'{table}.{column}'")
        }
        _ => return Ok(None),
    };
    Ok(found(
        format!("the release still serving reads {what}, and fails once it is dropped"),
        SIDE_BY_SIDE,
    ))
}

fn type_change_breaks_release(j: &mut Judging) -> Result<Option<Found>, MigrateError> {
    let Some((table, column, from, to)) = j.type_change() else {
        return Ok(None);
    };
    if crate::expand::read_alike(&from, &to) {
        return Ok(None);
    }
    Ok(found(
        format!(
            "'{table}.{column}' goes from {from} to {to}: the release still serving reads its values as {from}, and fails on them"
        ),
        SIDE_BY_SIDE,
    ))
}

fn nullable_breaks_release(j: &mut Judging) -> Result<Option<Found>, MigrateError> {
    let Op::AlterColumn {
        table,
        column,
        nullable: Some(true),
        ..
    } = j.op
    else {
        return Ok(None);
    };
    if !j.existing(table) || j.column(table, column).is_none_or(|c| c.nullable) {
        return Ok(None);
    }
    Ok(found(
        format!(
            "'{table}.{column}' may hold NULL from now on: the release still serving reads it as always set, and fails on a NULL"
        ),
        "first release models that take a NULL there, then allow it in a later revision",
    ))
}

fn pg_index_blocks_writes(j: &mut Judging) -> Result<Option<Found>, MigrateError> {
    let (table, name, building) = match j.op {
        Op::CreateIndex {
            table,
            name,
            concurrently: Some(false),
            ..
        } => (table, name, true),
        Op::DropIndex {
            table,
            name,
            concurrently: Some(false),
        } => (table, name, false),
        _ => return Ok(None),
    };
    if !j.postgres || !j.existing(table) {
        return Ok(None);
    }
    let rows = j.count(Query::Rows { table })?;
    let what = if building { "building" } else { "dropping" };
    Ok(found(
        format!("{what} '{name}' with `concurrently = false` locks '{table}' until it is done"),
        "leave `concurrently` out (built concurrently, outside the transaction)",
    )
    .map(|f| f.rows(rows)))
}

fn pg_constraint_scans(j: &mut Judging) -> Result<Option<Found>, MigrateError> {
    let (table, name) = match j.op {
        Op::CreateForeignKey {
            table,
            name,
            online: Some(false),
            ..
        }
        | Op::CreateCheckConstraint {
            table,
            name,
            online: Some(false),
            ..
        }
        | Op::CreateUniqueConstraint {
            table,
            name,
            online: Some(false),
            ..
        } => (table, name),
        _ => return Ok(None),
    };
    if !j.postgres || !j.existing(table) {
        return Ok(None);
    }
    let rows = j.count(Query::Rows { table })?;
    Ok(found(format!("adding '{name}' with `online = false` checks every row of '{table}' while holding a lock writes wait for"), "leave `online` out (added NOT VALID and validated after, or made from an index built concurrently)").map(|f| f.rows(rows)))
}

fn pg_not_null_scans(j: &mut Judging) -> Result<Option<Found>, MigrateError> {
    let Op::AlterColumn {
        table,
        column,
        nullable: Some(false),
        online: Some(false),
        ..
    } = j.op
    else {
        return Ok(None);
    };
    if !j.postgres || !j.existing(table) {
        return Ok(None);
    }
    let rows = j.count(Query::Rows { table })?;
    Ok(found(format!("SET NOT NULL on '{table}.{column}' with `online = false` scans '{table}' under its exclusive lock"), "leave `online` out (a CHECK proves it first, validated without blocking writes)").map(|f| f.rows(rows)))
}

fn pg_default_rewrites(j: &mut Judging) -> Result<Option<Found>, MigrateError> {
    let Op::AddColumn {
        table,
        column,
        online: Some(false),
    } = j.op
    else {
        return Ok(None);
    };
    let per_row = column
        .default
        .as_ref()
        .is_some_and(|d| !d.is_same_for_every_row());
    if !j.postgres || !j.existing(table) || !per_row {
        return Ok(None);
    }
    let rows = j.count(Query::Rows { table })?;
    Ok(found(format!("adding '{table}.{}' with a default computed per row and `online = false` writes every row under the exclusive lock", column.name), "leave `online` out (added without it, given it for new rows, and backfilled)").map(|f| f.rows(rows)))
}

fn pg_type_change_rewrites(j: &mut Judging) -> Result<Option<Found>, MigrateError> {
    let Some((table, column, from, to)) = j.type_change() else {
        return Ok(None);
    };
    if !j.postgres || rewrite_free(&from, &to) {
        return Ok(None);
    }
    Ok(found(
        format!(
            "changing '{table}.{column}' from {from} to {to} rewrites '{table}' under an exclusive lock"
        ),
        "on a large table, add a new column, backfill it and switch over in a later release",
    ))
}

fn pg_name_too_long(j: &mut Judging) -> Result<Option<Found>, MigrateError> {
    if !j.postgres {
        return Ok(None);
    }
    let long = names(j.op).into_iter().find(|n| n.len() > 63);
    Ok(long.and_then(|name| found(format!("'{name}' is {} bytes long: PostgreSQL keeps its first 63, and the revisions after this one would not find it", name.len()), "give it a shorter name")))
}

/// SQLite's INTEGER key is its 64-bit rowid: only the servers run out.
fn integer_key(j: &mut Judging) -> Result<Option<Found>, MigrateError> {
    let Op::CreateTable { table, columns, .. } = j.op else {
        return Ok(None);
    };
    let key = columns
        .iter()
        .find(|c| c.autoincrement)
        .and_then(|c| match c.ty {
            ColumnType::Integer => Some((c, "32-bit", "2,147,483,647")),
            ColumnType::SmallInteger => Some((c, "16-bit", "32,767")),
            _ => None,
        });
    let Some((key, bits, limit)) = key.filter(|_| j.dialect != Dialect::Sqlite) else {
        return Ok(None);
    };
    Ok(found(
        format!(
            "'{table}.{}' is a {bits} key: it runs out at {limit} rows, and widening it later rewrites the table",
            key.name
        ),
        "type = \"bigint\", where the table may grow that large",
    ))
}

fn sql_updates_rows(j: &mut Judging) -> Result<Option<Found>, MigrateError> {
    let Op::Sql { sql, .. } = j.op else {
        return Ok(None);
    };
    if !updates_rows(sql) {
        return Ok(None);
    }
    Ok(found("an `sql` operation updates or deletes rows, holding every row's lock until the revision ends".into(), "use a `backfill` operation: batches by key, each committed, resumable"))
}

fn raw_sql(j: &mut Judging) -> Result<Option<Found>, MigrateError> {
    let Op::Sql { sql, .. } = j.op else {
        return Ok(None);
    };
    if updates_rows(sql) {
        return Ok(None);
    }
    Ok(found(
        "an `sql` operation runs as written".into(),
        "review it by hand",
    ))
}

fn updates_rows(sql: &str) -> bool {
    let start = sql.trim_start().to_ascii_uppercase();
    start.starts_with("UPDATE ") || start.starts_with("DELETE ")
}

impl Found {
    fn at_stake(mut self, rows: Option<i64>) -> Found {
        self.at_stake = rows;
        self
    }

    fn rows(mut self, rows: Option<i64>) -> Found {
        self.rows = rows;
        self
    }
}

/// The names an operation gives.
fn names(op: &Op) -> Vec<&str> {
    match op {
        Op::CreateTable { table, columns, .. } => std::iter::once(table.as_str())
            .chain(columns.iter().map(|c| c.name.as_str()))
            .collect(),
        Op::RenameTable { new_name, .. } => vec![new_name],
        Op::AddColumn { column, .. } => vec![&column.name],
        Op::AlterColumn {
            new_name: Some(name),
            ..
        } => vec![name],
        Op::CreateIndex { name, .. }
        | Op::CreateUniqueConstraint { name, .. }
        | Op::CreateForeignKey { name, .. }
        | Op::CreateCheckConstraint { name, .. } => vec![name],
        _ => Vec::new(),
    }
}

/// Type changes PostgreSQL makes without rewriting the table: a longer VARCHAR, or
/// VARCHAR to TEXT.
fn rewrite_free(from: &ColumnType, to: &ColumnType) -> bool {
    use crate::schema::ColumnType::{Enum, String, Text};
    use crate::schema::enum_length;
    // An enumeration is a VARCHAR as long as its longest value there.
    match (from, to) {
        (String(Some(a)), String(Some(b))) => a <= b,
        (String(_) | Enum(_), String(None) | Text) => true,
        (Enum(a), Enum(b)) => enum_length(a) <= enum_length(b),
        (Enum(a), String(Some(b))) => enum_length(a) <= *b as usize,
        (String(Some(a)), Enum(b)) => *a as usize <= enum_length(b),
        (a, b) => a == b,
    }
}
