//! What keeps two shapes of one column in step while both releases write: a shadow column
//! of the new type beside the old one, and a trigger that copies whichever one a write set
//! into the other; or, for a column made NOT NULL, a trigger that gives the old release's
//! NULLs the column's default.

use std::collections::BTreeMap;

use super::{ExpandError, sql};
use crate::dialect::Dialect;
use crate::ops::Op;
use crate::schema::{Column, ColumnDefault, ColumnType, Schema};

/// A retyped column's shadow: what makes it, what swaps it in, what takes it away.
pub(super) struct Twin {
    pub shadow: String,
    pub expand: Vec<Op>,
    pub contract: Vec<Op>,
    pub teardown: Vec<String>,
}

/// A column held NOT NULL by a trigger until the constraint can be set.
pub(super) struct Held {
    pub expand: Vec<Op>,
    pub contract: Vec<Op>,
    pub teardown: Vec<String>,
}

fn q(name: &str) -> String {
    Dialect::Postgres.quote(name)
}

/// `prefix` + `name`, within PostgreSQL's 63 bytes.
fn named(prefix: &str, name: &str) -> String {
    let mut full = format!("{prefix}{name}");
    while full.len() > 63 {
        full.pop();
    }
    full
}

fn trigger_sql(table: &str, function: &str, body: &str) -> String {
    format!(
        "CREATE FUNCTION {f}() RETURNS trigger LANGUAGE plpgsql AS $dbmigrate$\nBEGIN\n{body}\n    RETURN NEW;\nEND\n$dbmigrate$;\n\
         CREATE TRIGGER {f} BEFORE INSERT OR UPDATE ON {t} FOR EACH ROW EXECUTE FUNCTION {f}()",
        f = q(function),
        t = q(table)
    )
}

fn drop_trigger_sql(table: &str, function: &str) -> String {
    format!(
        "DROP TRIGGER IF EXISTS {f} ON {t}; DROP FUNCTION IF EXISTS {f}()",
        f = q(function),
        t = q(table)
    )
}

/// The shadow of `table.column`, of type `to`, added to `physical`, with its indexes,
/// unique constraints and foreign keys made again on it and, if the column is NOT NULL, the
/// same; at contract the old column goes and the shadow takes its name and theirs.
pub(super) fn retype(
    physical: &mut Schema,
    table: &str,
    column: &str,
    from: &ColumnType,
    to: &ColumnType,
) -> Result<Twin, ExpandError> {
    let cannot = |why| ExpandError::CannotRetype {
        table: table.to_string(),
        column: column.to_string(),
        why,
    };
    let current = physical
        .table(table)
        .cloned()
        .ok_or_else(|| cannot("is not there"))?;
    let old = current
        .find_column(column)
        .cloned()
        .ok_or_else(|| cannot("is not there"))?;
    if current.primary_key.iter().any(|c| c == column) {
        return Err(cannot("is part of its table's primary key"));
    }
    let referenced = physical.tables.iter().any(|t| {
        t.foreign_keys
            .iter()
            .any(|f| f.ref_table == table && f.ref_columns.iter().any(|c| c == column))
    });
    if referenced {
        return Err(cannot("is referenced by a foreign key"));
    }
    if current
        .check_constraints
        .iter()
        .any(|c| c.condition.contains(column))
        || matches!(from, ColumnType::Enum(_))
        || matches!(to, ColumnType::Enum(_))
    {
        return Err(cannot("is named by a CHECK constraint"));
    }
    let shadow = named("_dbm_", column);
    let function = named("_dbm_sync_", &format!("{table}_{column}"));
    let (pg_from, pg_to) = (
        Dialect::Postgres.type_sql(from),
        Dialect::Postgres.type_sql(to),
    );
    let (c, s) = (q(column), q(&shadow));
    let mut expand = vec![Op::AddColumn {
        table: table.into(),
        column: Column::new(&shadow, to.clone()),
        online: None,
    }];
    expand.push(sql(trigger_sql(
        table,
        &function,
        &format!(
            "    IF TG_OP = 'INSERT' THEN\n\
             \x20       IF NEW.{s} IS NULL THEN NEW.{s} := CAST(NEW.{c} AS {pg_to});\n\
             \x20       ELSIF NEW.{c} IS NULL THEN NEW.{c} := CAST(NEW.{s} AS {pg_from});\n\
             \x20       END IF;\n\
             \x20   ELSIF NEW.{c} IS DISTINCT FROM OLD.{c} THEN NEW.{s} := CAST(NEW.{c} AS {pg_to});\n\
             \x20   ELSIF NEW.{s} IS DISTINCT FROM OLD.{s} THEN NEW.{c} := CAST(NEW.{s} AS {pg_from});\n\
             \x20   END IF;"
        ),
    )));
    expand.push(Op::Backfill {
        table: table.into(),
        set: BTreeMap::from([(shadow.clone(), format!("CAST({c} AS {pg_to})"))]),
        condition: Some(format!("{s} IS NULL AND {c} IS NOT NULL")),
        batch_size: None,
        pause_ms: None,
    });
    let on_shadow = |columns: &[String]| -> Vec<String> {
        columns
            .iter()
            .map(|n| {
                if n == column {
                    shadow.clone()
                } else {
                    n.clone()
                }
            })
            .collect()
    };
    let mut renames = Vec::new();
    for index in current
        .indexes
        .iter()
        .filter(|i| i.columns.iter().any(|n| n == column))
    {
        let twin = named("", &format!("{}_dbm", index.name));
        expand.push(Op::CreateIndex {
            table: table.into(),
            name: twin.clone(),
            columns: on_shadow(&index.columns),
            unique: index.unique,
            predicate: index.predicate.clone(),
            concurrently: None,
        });
        renames.push(format!(
            "ALTER INDEX {} RENAME TO {}",
            q(&twin),
            q(&index.name)
        ));
    }
    for unique in current
        .unique_constraints
        .iter()
        .filter(|u| u.columns.iter().any(|n| n == column))
    {
        let twin = named("", &format!("{}_dbm", unique.name));
        expand.push(Op::CreateUniqueConstraint {
            table: table.into(),
            name: twin.clone(),
            columns: on_shadow(&unique.columns),
            online: None,
        });
        renames.push(rename_constraint(table, &twin, &unique.name));
    }
    for key in current
        .foreign_keys
        .iter()
        .filter(|f| f.columns.iter().any(|n| n == column))
    {
        let twin = named("", &format!("{}_dbm", key.name));
        expand.push(Op::CreateForeignKey {
            table: table.into(),
            name: twin.clone(),
            columns: on_shadow(&key.columns),
            ref_table: key.ref_table.clone(),
            ref_columns: key.ref_columns.clone(),
            on_delete: key.on_delete,
            online: None,
        });
        renames.push(rename_constraint(table, &twin, &key.name));
    }
    if !old.nullable {
        expand.push(Op::AlterColumn {
            table: table.into(),
            column: shadow.clone(),
            ty: None,
            nullable: Some(false),
            set_default: None,
            drop_default: false,
            new_name: None,
            online: None,
        });
    }
    for op in &expand {
        physical.apply(op)?;
    }
    let mut contract = vec![
        sql(drop_trigger_sql(table, &function)),
        Op::DropColumn {
            table: table.into(),
            column: column.into(),
        },
        Op::rename_column(table, &shadow, column),
    ];
    if !renames.is_empty() {
        contract.push(sql(renames.join(";\n")));
    }
    if let Some(default) = &old.default {
        contract.push(Op::AlterColumn {
            table: table.into(),
            column: column.into(),
            ty: None,
            nullable: None,
            set_default: Some(default.clone()),
            drop_default: false,
            new_name: None,
            online: None,
        });
    }
    Ok(Twin {
        shadow,
        expand,
        contract,
        teardown: vec![drop_trigger_sql(table, &function)],
    })
}

fn rename_constraint(table: &str, from: &str, to: &str) -> String {
    format!(
        "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
        q(table),
        q(from),
        q(to)
    )
}

/// `table.column`, about to be NOT NULL, held to it by a trigger that gives the NULLs the
/// old release writes `default`, and its NULLs there now backfilled with it.
pub(super) fn filled(
    physical: &mut Schema,
    table: &str,
    column: &str,
    default: &ColumnDefault,
) -> Result<Held, ExpandError> {
    let function = named("_dbm_fill_", &format!("{table}_{column}"));
    let value = Dialect::Postgres.default_sql(default);
    let c = q(column);
    let expand = vec![
        sql(trigger_sql(
            table,
            &function,
            &format!("    IF NEW.{c} IS NULL THEN NEW.{c} := {value}; END IF;"),
        )),
        Op::Backfill {
            table: table.into(),
            set: BTreeMap::from([(column.to_string(), value.clone())]),
            condition: Some(format!("{c} IS NULL")),
            batch_size: None,
            pause_ms: None,
        },
    ];
    for op in &expand {
        physical.apply(op)?;
    }
    Ok(Held {
        expand,
        contract: vec![sql(drop_trigger_sql(table, &function))],
        teardown: vec![drop_trigger_sql(table, &function)],
    })
}
