//! The forms that keep the site running, for operations on a table that was there before
//! the revision (the plain forms, for a table the revision makes, lock nothing anyone
//! waits for). Each is the one pgroll, strong_migrations and squawk agree on:
//!
//! | operation | plain form | here |
//! |---|---|---|
//! | `create_index`, `drop_index` | `CREATE INDEX`: writes wait for the build | `CONCURRENTLY`, outside the transaction |
//! | `create_foreign_key`, `create_check_constraint` | every row checked under the lock | added `NOT VALID`, then validated under a lock writes pass |
//! | `create_unique_constraint` | index built under the lock | unique index built concurrently, then `ADD CONSTRAINT … USING INDEX` |
//! | `set_primary_key` | index built under the lock | the same, `ADD PRIMARY KEY USING INDEX` |
//! | `alter_column` to NOT NULL | every row scanned under the exclusive lock | a `CHECK (c IS NOT NULL) NOT VALID` validated first, which `SET NOT NULL` then trusts |
//! | `add_column` with a default computed per row | every row rewritten under the exclusive lock | added without it, the default set for new rows, the rest backfilled in batches |
//!
//! `online = false` (`concurrently = false`) in the revision file asks for the plain form.

use std::collections::BTreeMap;

use super::Postgres;
use super::render::op_statements;
use crate::apply::{Drafted, LockMode, Placement, TableLock};
use crate::dialect::SqlDialect;
use crate::ops::{Op, OpError};
use crate::schema::{Index, Schema};

pub(super) fn op_steps(
    d: &Postgres,
    op: &Op,
    before: &Schema,
    after: &Schema,
    existing: bool,
) -> Result<Vec<Drafted>, OpError> {
    let plain = |op: &Op, before: &Schema, after: &Schema| -> Result<Vec<Drafted>, OpError> {
        Ok(op_statements(d, op, before, after)?
            .into_iter()
            .map(Drafted::shared)
            .collect())
    };
    if !op.online().unwrap_or(existing) {
        return plain(op, before, after);
    }
    let q = |name: &str| d.quote(name);
    Ok(match op {
        Op::CreateIndex { table, name, .. } => {
            let index = find_index(after, table, name);
            vec![build_concurrently(d, table, index)]
        }
        Op::DropIndex { table, name, .. } => vec![
            Drafted::shared(format!("DROP INDEX CONCURRENTLY IF EXISTS {}", q(name)))
                .placed(Placement::Outside)
                .locking(vec![TableLock::new(table, LockMode::ShareUpdateExclusive)]),
        ],
        Op::CreateForeignKey {
            table,
            name,
            ref_table,
            ..
        } => {
            let mut steps = plain(op, before, after)?;
            for step in &mut steps {
                not_valid(step);
            }
            steps.push(validate(d, table, name, Some(ref_table)));
            steps
        }
        Op::CreateCheckConstraint { table, name, .. } => {
            let mut steps = plain(op, before, after)?;
            for step in &mut steps {
                not_valid(step);
            }
            steps.push(validate(d, table, name, None));
            steps
        }
        Op::CreateUniqueConstraint {
            table,
            name,
            columns,
            ..
        } => {
            let index = Index {
                name: name.clone(),
                columns: columns.clone(),
                unique: true,
                predicate: None,
            };
            let mut with_index = before.clone();
            with_index.apply(&Op::CreateIndex {
                table: table.clone(),
                name: name.clone(),
                columns: columns.clone(),
                unique: true,
                predicate: None,
                concurrently: Some(true),
            })?;
            vec![
                build_concurrently(d, table, &index).reaching(with_index),
                Drafted::shared(format!(
                    "ALTER TABLE {} ADD CONSTRAINT {} UNIQUE USING INDEX {}",
                    q(table),
                    q(name),
                    q(name)
                )),
            ]
        }
        Op::SetPrimaryKey { table, columns } if !columns.is_empty() => {
            let key = format!("{table}_pkey_new");
            let index = Index {
                name: key.clone(),
                columns: columns.clone(),
                unique: true,
                predicate: None,
            };
            let mut steps = vec![build_concurrently(d, table, &index).reaching(before.clone())];
            let mut statements = op_statements(d, op, before, after)?;
            statements.truncate(1);
            statements.push(format!(
                "ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY USING INDEX {}",
                q(table),
                q(&format!("{table}_pkey")),
                q(&key)
            ));
            steps.extend(statements.into_iter().map(Drafted::shared));
            steps
        }
        Op::AlterColumn {
            table,
            column,
            nullable: Some(false),
            new_name,
            ..
        } if before
            .table(table)
            .and_then(|t| t.find_column(column))
            .is_some_and(|c| c.nullable) =>
        {
            let mut rest = op.clone();
            if let Op::AlterColumn { nullable, .. } = &mut rest {
                *nullable = None;
            }
            let mut between = before.clone();
            between.apply(&rest)?;
            let mut steps = plain(&rest, before, &between)?;
            for step in &mut steps {
                step.reaches = Some(between.clone());
            }
            let column = new_name.as_ref().unwrap_or(column);
            steps.extend(not_null_steps(d, table, column, &between, after)?);
            steps
        }
        Op::AddColumn { table, column, .. }
            if column
                .default
                .as_ref()
                .is_some_and(|default| !default.is_same_for_every_row()) =>
        {
            let default = column.default.clone().expect("a default");
            let mut added = column.clone();
            added.nullable = true;
            added.default = None;
            let add = Op::AddColumn {
                table: table.clone(),
                column: added,
                online: Some(false),
            };
            let set_default = Op::AlterColumn {
                table: table.clone(),
                column: column.name.clone(),
                ty: None,
                nullable: None,
                set_default: Some(default.clone()),
                drop_default: false,
                new_name: None,
                online: Some(false),
            };
            let mut with_default = before.clone();
            let mut steps = Vec::new();
            for op in [&add, &set_default] {
                let mut next = with_default.clone();
                next.apply(op)?;
                steps.extend(plain(op, &with_default, &next)?);
                with_default = next;
            }
            let column_sql = q(&column.name);
            let backfill = Op::Backfill {
                table: table.clone(),
                set: BTreeMap::from([(column.name.clone(), d.dialect().default_sql(&default))]),
                condition: Some(format!("{column_sql} IS NULL")),
                batch_size: None,
                pause_ms: None,
            };
            steps.push(
                crate::apply::backfill::draft(&backfill, &with_default)?
                    .reaching(with_default.clone()),
            );
            if !column.nullable {
                steps.extend(not_null_steps(
                    d,
                    table,
                    &column.name,
                    &with_default,
                    after,
                )?);
            }
            for step in &mut steps {
                if step.reaches.is_none() {
                    step.reaches = Some(with_default.clone());
                }
            }
            steps
        }
        _ => plain(op, before, after)?,
    })
}

fn find_index<'s>(schema: &'s Schema, table: &str, name: &str) -> &'s Index {
    schema
        .table(table)
        .and_then(|t| t.indexes.iter().find(|i| i.name == name))
        .expect("apply added it")
}

/// `CREATE INDEX CONCURRENTLY`, outside any transaction; a build that fails or is stopped
/// leaves its index behind, invalid, which is dropped before the build is tried again.
fn build_concurrently(d: &Postgres, table: &str, index: &Index) -> Drafted {
    let plain = d.dialect().create_index(table, index);
    let sql = plain.replacen(" INDEX ", " INDEX CONCURRENTLY IF NOT EXISTS ", 1);
    Drafted::shared(sql)
        .placed(Placement::Outside)
        .locking(vec![TableLock::new(table, LockMode::ShareUpdateExclusive)])
        .cleanup(format!(
            "DROP INDEX CONCURRENTLY IF EXISTS {}",
            d.quote(&index.name)
        ))
}

/// A constraint's statement with `NOT VALID`: added without checking the rows there.
fn not_valid(step: &mut Drafted) {
    if let crate::apply::Work::Sql(sql) = &mut step.work {
        sql.push_str(" NOT VALID");
    }
}

/// `VALIDATE CONSTRAINT` in a transaction of its own: it checks every row under a lock that
/// lets reads and writes through.
fn validate(d: &Postgres, table: &str, name: &str, referenced: Option<&str>) -> Drafted {
    let mut locks = vec![TableLock::new(table, LockMode::ShareUpdateExclusive)];
    locks.extend(referenced.map(|r| TableLock::new(r, LockMode::RowShare)));
    Drafted::shared(format!(
        "ALTER TABLE {} VALIDATE CONSTRAINT {}",
        d.quote(table),
        d.quote(name)
    ))
    .placed(Placement::Separate)
    .locking(locks)
}

/// NOT NULL proven by a validated CHECK constraint, which `SET NOT NULL` trusts instead of
/// scanning the table under its exclusive lock (PostgreSQL 12 and later); the constraint
/// goes once it has served.
fn not_null_steps(
    d: &Postgres,
    table: &str,
    column: &str,
    from: &Schema,
    after: &Schema,
) -> Result<Vec<Drafted>, OpError> {
    let q = |name: &str| d.quote(name);
    let check_name = not_null_check_name(table, column);
    let mut checked = from.clone();
    checked.apply(&Op::CreateCheckConstraint {
        table: table.into(),
        name: check_name.clone(),
        condition: format!("{} IS NOT NULL", q(column)),
        online: None,
    })?;
    Ok(vec![
        Drafted::shared(format!(
            "ALTER TABLE {} ADD CONSTRAINT {} CHECK ({} IS NOT NULL) NOT VALID",
            q(table),
            q(&check_name),
            q(column)
        ))
        .reaching(checked.clone()),
        validate(d, table, &check_name, None).reaching(checked),
        Drafted::shared(format!(
            "ALTER TABLE {} ALTER COLUMN {} SET NOT NULL",
            q(table),
            q(column)
        ))
        .reaching(after.clone()),
        Drafted::shared(format!(
            "ALTER TABLE {} DROP CONSTRAINT {}",
            q(table),
            q(&check_name)
        ))
        .reaching(after.clone()),
    ])
}

/// The name of the CHECK constraint that proves a column NOT NULL, within PostgreSQL's 63
/// bytes.
fn not_null_check_name(table: &str, column: &str) -> String {
    let mut name = format!("{table}_{column}_not_null");
    while name.len() > 63 {
        name.remove(0);
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_not_null_check_fits_postgresql_names() {
        let name = not_null_check_name(&"t".repeat(40), &"c".repeat(40));
        assert_eq!(name.len(), 63);
        assert!(name.ends_with("_not_null"));
    }
}
