//! One column compared with its counterpart: type, nullability, default, each a change
//! with its operations both ways.

use super::{Change, ChangeKind, Comparison, Risk};
use crate::ops::Op;
use crate::schema::{Column, ColumnDefault, ColumnType};

pub(super) fn compare_column(out: &mut Comparison, table: &str, live: &Column, target: &Column) {
    let column = target.name.as_str();
    if live.ty != target.ty {
        let set = |ty: &ColumnType| {
            with(alter(table, column), |op| {
                if let Op::AlterColumn { ty: t, .. } = op {
                    *t = Some(ty.clone());
                }
            })
        };
        out.changes.push(Change {
            kind: ChangeKind::TypeChanged,
            detected: format!(
                "Detected type change from {} to {} on '{table}.{column}'",
                live.ty, target.ty
            ),
            upgrade: vec![set(&target.ty)],
            downgrade: vec![set(&live.ty)],
            risk: (!live.ty.fits_in(&target.ty)).then(|| Risk::NarrowsType {
                table: table.into(),
                column: column.into(),
                from: live.ty.to_string(),
                to: target.ty.to_string(),
                target: match live.ty {
                    ColumnType::String(_) | ColumnType::Text | ColumnType::Enum(_) => {
                        Some(target.ty.clone())
                    }
                    _ => None,
                },
            }),
        });
    }
    if live.nullable != target.nullable {
        let set = |nullable: bool| {
            with(alter(table, column), |op| {
                if let Op::AlterColumn { nullable: n, .. } = op {
                    *n = Some(nullable);
                }
            })
        };
        out.changes.push(Change {
            kind: ChangeKind::NullabilityChanged,
            detected: if target.nullable {
                format!("Detected NULL on column '{table}.{column}'")
            } else {
                format!("Detected NOT NULL on column '{table}.{column}'")
            },
            upgrade: vec![set(target.nullable)],
            downgrade: vec![set(live.nullable)],
            risk: (!target.nullable).then(|| Risk::ForbidsNull {
                table: table.into(),
                column: column.into(),
            }),
        });
    }
    if default_key(&live.default) != default_key(&target.default) {
        let set = |default: &Option<ColumnDefault>| {
            with(alter(table, column), |op| {
                if let Op::AlterColumn {
                    set_default,
                    drop_default,
                    ..
                } = op
                {
                    *set_default = default.clone();
                    *drop_default = default.is_none();
                }
            })
        };
        let shown =
            |d: &Option<ColumnDefault>| d.as_ref().map_or("none".to_string(), |d| d.to_string());
        out.changes.push(Change::one_op(
            ChangeKind::DefaultChanged,
            format!(
                "Detected server default change from {} to {} on '{table}.{column}'",
                shown(&live.default),
                shown(&target.default)
            ),
            set(&target.default),
            set(&live.default),
        ));
    }
}

fn alter(table: &str, column: &str) -> Op {
    Op::AlterColumn {
        table: table.into(),
        column: column.into(),
        ty: None,
        nullable: None,
        set_default: None,
        drop_default: false,
        new_name: None,
        online: None,
    }
}

fn with(op: Op, change: impl FnOnce(&mut Op)) -> Op {
    let mut op = op;
    change(&mut op);
    op
}

/// A default in a form the three databases' spellings agree on: `(0)`, `'0'` and `0` are
/// one default, as are `TRUE` and `1`.
fn default_key(default: &Option<ColumnDefault>) -> Option<String> {
    let default = default.as_ref()?;
    let ColumnDefault::Literal(sql) = default else {
        return Some("CURRENT_TIMESTAMP".into());
    };
    let mut text = sql.trim();
    while text.starts_with('(') && text.ends_with(')') {
        text = text[1..text.len() - 1].trim();
    }
    let unquoted = text
        .strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .filter(|t| t.parse::<f64>().is_ok())
        .unwrap_or(text);
    Some(match unquoted.to_ascii_lowercase().as_str() {
        "true" => "1".into(),
        "false" => "0".into(),
        _ => unquoted.to_string(),
    })
}
