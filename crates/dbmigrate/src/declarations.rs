//! `db models`: model declarations written from a schema read from a live database, in the
//! form `#[dbmigrate::models]` reads, so that an application can start from a database
//! that already exists (as `diesel print-schema`, sqlacodegen or Django's `inspectdb` do).
//!
//! Every part of a table a declaration can say is written as the declaration says it: types
//! and lengths, nullability as `Option`, primary keys, defaults, indexes and unique
//! constraints under their conventional names as column attributes (other names, several
//! columns, conditions at model level), foreign keys with a relationship and a backref named
//! after the tables, CHECK constraints, enumerations. What a declaration cannot say (a type
//! outside the vocabulary, a constraint under a name the conventions do not give) is written
//! as a comment at its place, never left out silently.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::schema::{
    ColumnDefault, ColumnType, ForeignKey, ReferentialAction, Schema, Table, enum_check_name,
};

/// A table asked for by name that the database does not have.
#[derive(Debug, thiserror::Error)]
#[error("the database has no table '{0}'")]
pub struct NoSuchTable(pub String);

/// The declarations of `schema`'s tables, or of those named in `only` (in the schema's order).
pub fn declarations(schema: &Schema, only: &[String]) -> Result<String, NoSuchTable> {
    if let Some(missing) = only.iter().find(|name| schema.table(name).is_none()) {
        return Err(NoSuchTable(missing.clone()));
    }
    let tables: Vec<&Table> = schema
        .tables
        .iter()
        .filter(|t| only.is_empty() || only.contains(&t.name))
        .collect();
    let declared: BTreeSet<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    let mut out = String::from("#[dbmigrate::models]\npub mod declared {\n");
    let imports = chrono_imports(&tables);
    match imports.as_slice() {
        [] => {}
        [one] => writeln!(out, "    use chrono::{one};").unwrap(),
        several => writeln!(out, "    use chrono::{{{}}};", several.join(", ")).unwrap(),
    }
    if tables.iter().any(|t| {
        t.columns
            .iter()
            .any(|c| matches!(c.ty, ColumnType::Numeric { .. }))
    }) {
        out.push_str("    use bigdecimal::BigDecimal;\n");
    }
    for table in &tables {
        // A blank line after the imports and between models, none after the opening brace.
        if !out.ends_with("{\n") {
            out.push('\n');
        }
        write_model(&mut out, schema, table, &declared);
    }
    out.push_str("}\n");
    Ok(out)
}

fn chrono_imports(tables: &[&Table]) -> Vec<&'static str> {
    let used = |wanted: &ColumnType| {
        tables
            .iter()
            .any(|t| t.columns.iter().any(|c| c.ty == *wanted))
    };
    [
        (ColumnType::Date, "NaiveDate"),
        (ColumnType::DateTime, "NaiveDateTime"),
        (ColumnType::Time, "NaiveTime"),
    ]
    .into_iter()
    .filter(|(ty, _)| used(ty))
    .map(|(_, name)| name)
    .collect()
}

/// What one table's declaration says at model level and on each column.
struct Parts {
    model: Vec<String>,
    /// Per column, in the table's order: its attributes, and comments written above it.
    columns: Vec<(Vec<String>, Vec<String>)>,
    /// Comments written above the struct.
    notes: Vec<String>,
}

fn write_model(out: &mut String, schema: &Schema, table: &Table, declared: &BTreeSet<&str>) {
    let parts = parts(schema, table, declared);
    for note in &parts.notes {
        writeln!(out, "    // {note}").unwrap();
    }
    let mut model = vec![format!("table = {}", quoted(&table.name))];
    model.extend(parts.model);
    if model.len() == 1 {
        writeln!(out, "    #[model({})]", model[0]).unwrap();
    } else {
        writeln!(
            out,
            "    #[model(\n        {},\n    )]",
            model.join(",\n        ")
        )
        .unwrap();
    }
    writeln!(out, "    pub struct {} {{", struct_name(&table.name)).unwrap();
    for (column, (attributes, notes)) in table.columns.iter().zip(&parts.columns) {
        for note in notes {
            writeln!(out, "        // {note}").unwrap();
        }
        let Some(rust) = rust_type(&column.ty) else {
            continue;
        };
        if !is_plain_identifier(&column.name) {
            continue;
        }
        if !attributes.is_empty() {
            writeln!(out, "        #[column({})]", attributes.join(", ")).unwrap();
        }
        let ty = if column.nullable {
            format!("Option<{rust}>")
        } else {
            rust.to_string()
        };
        writeln!(out, "        pub {}: {ty},", column.name).unwrap();
    }
    out.push_str("    }\n");
}

fn parts(schema: &Schema, table: &Table, declared: &BTreeSet<&str>) -> Parts {
    let mut parts = Parts {
        model: Vec::new(),
        columns: vec![(Vec::new(), Vec::new()); table.columns.len()],
        notes: Vec::new(),
    };
    let at = |name: &str| table.columns.iter().position(|c| c.name == name);
    for (i, column) in table.columns.iter().enumerate() {
        let (attributes, notes) = &mut parts.columns[i];
        if !is_plain_identifier(&column.name) {
            notes.push(format!(
                "column {}: its name cannot be a field's (not a lower-case Rust identifier, or a keyword)",
                quoted(&column.name)
            ));
            continue;
        }
        if rust_type(&column.ty).is_none() {
            notes.push(format!(
                "column {}: its type `{}` is outside the declarations' vocabulary",
                quoted(&column.name),
                column.ty
            ));
            continue;
        }
        if table.primary_key.contains(&column.name) {
            attributes.push("primary_key".into());
            if table.primary_key.len() == 1 && column.ty.is_integer() && !column.autoincrement {
                attributes.push("autoincrement = false".into());
            }
        }
        match &column.ty {
            ColumnType::String(Some(length)) => attributes.push(format!("length = {length}")),
            ColumnType::String(None) => notes.push(format!(
                "column {}: a string without a length, declared as `String` (TEXT)",
                quoted(&column.name)
            )),
            ColumnType::Numeric { precision, scale } => {
                attributes.push(format!("precision = {precision}, scale = {scale}"));
            }
            ColumnType::Enum(values) => {
                let listed: Vec<String> = values.iter().map(|v| quoted(v)).collect();
                attributes.push(format!("values({})", listed.join(", ")));
            }
            _ => {}
        }
        match &column.default {
            Some(ColumnDefault::Literal(sql)) => {
                attributes.push(format!("server_default = {}", quoted(sql)));
            }
            Some(ColumnDefault::CurrentTimestamp) => {
                attributes.push("server_default = current_timestamp".into());
            }
            None => {}
        }
    }
    let mut unique_on_column = BTreeSet::new();
    for index in &table.indexes {
        // MySQL keeps a unique constraint as a unique index of the same name.
        let constraint = match index.columns.as_slice() {
            [column] if index.unique && index.predicate.is_none() => {
                at(column).filter(|_| index.name == format!("uq_{}_{}", table.name, column))
            }
            _ => None,
        };
        if let Some(i) = constraint.filter(|i| !unique_on_column.contains(i)) {
            parts.columns[i].0.push("unique".into());
            unique_on_column.insert(i);
            continue;
        }
        let conventional = format!("ix_{}_{}", table.name, index.columns.join("_"));
        let single = match index.columns.as_slice() {
            [column] if index.predicate.is_none() && index.name == conventional => at(column),
            _ => None,
        };
        if let Some(i) = single {
            parts.columns[i].0.push("index".into());
            if index.unique {
                parts.columns[i].0.push("unique".into());
                unique_on_column.insert(i);
            }
            continue;
        }
        let listed: Vec<String> = index.columns.iter().map(|c| quoted(c)).collect();
        let mut words = vec![format!("columns({})", listed.join(", "))];
        if index.unique {
            words.push("unique".into());
        }
        if index.name != conventional {
            words.push(format!("name = {}", quoted(&index.name)));
        }
        if let Some(predicate) = &index.predicate {
            words.push(format!(
                "condition = {}",
                quoted(&readable_condition(predicate))
            ));
        }
        parts.model.push(format!("index({})", words.join(", ")));
    }
    for unique in &table.unique_constraints {
        let single = match unique.columns.as_slice() {
            [column] if unique.name == format!("uq_{}_{}", table.name, column) => at(column),
            _ => None,
        };
        match single {
            Some(i) if !unique_on_column.contains(&i) => {
                parts.columns[i].0.push("unique".into());
                unique_on_column.insert(i);
            }
            _ => parts.notes.push(format!(
                "unique constraint {} on ({}): a declaration names a unique constraint \
                 uq_<table>_<column> on one column only",
                quoted(&unique.name),
                unique.columns.join(", ")
            )),
        }
    }
    let enum_checks: BTreeSet<String> = table
        .columns
        .iter()
        .filter(|c| matches!(c.ty, ColumnType::Enum(_)))
        .map(|c| enum_check_name(&table.name, &c.name))
        .collect();
    for check in &table.check_constraints {
        if enum_checks.contains(&check.name) {
            continue;
        }
        parts.model.push(format!(
            "check(name = {}, condition = {})",
            quoted(&check.name),
            quoted(&readable_condition(&check.condition))
        ));
    }
    let relationships = relationship_names(schema, table);
    for (key, names) in table.foreign_keys.iter().zip(relationships) {
        let column = match key.columns.as_slice() {
            [column] if key.ref_columns.len() == 1 => at(column),
            _ => None,
        };
        let conventional = ForeignKey::conventional(
            &table.name,
            &key.columns[0],
            &key.ref_table,
            &key.ref_columns[0],
        );
        match column {
            Some(i) if key.name == conventional.name => {
                let attributes = &mut parts.columns[i].0;
                attributes.push(foreign_key_target(schema, key, declared));
                if let Some(action) = key.on_delete.filter(|a| *a != ReferentialAction::NoAction) {
                    attributes.push(format!(
                        "on_delete = {}",
                        quoted(&action.sql().to_ascii_lowercase())
                    ));
                }
                if let Some((relationship, backref)) = names {
                    attributes.push(format!(
                        "relationship = {relationship}, backref = {backref}"
                    ));
                }
            }
            _ => parts.notes.push(format!(
                "foreign key {} ({}) -> {} ({}): a declaration names a foreign key \
                 fk_<table>_<column>_<referenced table> on one column only",
                quoted(&key.name),
                key.columns.join(", "),
                key.ref_table,
                key.ref_columns.join(", ")
            )),
        }
    }
    parts
}

/// `foreign_key = Model` when the referenced table is declared here and the key points at
/// its one-column primary key; `"table.column"` otherwise.
fn foreign_key_target(schema: &Schema, key: &ForeignKey, declared: &BTreeSet<&str>) -> String {
    let to_primary_key = schema
        .table(&key.ref_table)
        .is_some_and(|t| t.primary_key == key.ref_columns);
    if declared.contains(key.ref_table.as_str()) && to_primary_key {
        format!("foreign_key = {}", struct_name(&key.ref_table))
    } else {
        format!(
            "foreign_key = {}",
            quoted(&format!("{}.{}", key.ref_table, key.ref_columns[0]))
        )
    }
}

/// Per foreign key of `table`, the relationship's name at this end (the column without
/// `_id`, else the referenced table's) and the backref's at the other (this table's name,
/// plural; with the relationship's name after it when the table refers to the same table
/// more than once). `None` where a name would not be an identifier, or would be taken by a
/// column at its end.
fn relationship_names(schema: &Schema, table: &Table) -> Vec<Option<(String, String)>> {
    table
        .foreign_keys
        .iter()
        .map(|key| {
            let [column] = key.columns.as_slice() else {
                return None;
            };
            let relationship = column
                .strip_suffix("_id")
                .filter(|base| !base.is_empty())
                .unwrap_or(&key.ref_table)
                .to_string();
            let same_target = table
                .foreign_keys
                .iter()
                .filter(|k| k.ref_table == key.ref_table)
                .count();
            let backref = if same_target > 1 {
                format!("{}_by_{relationship}", plural(&table.name))
            } else {
                plural(&table.name)
            };
            let taken = |t: Option<&Table>, name: &str| {
                t.is_some_and(|t| t.columns.iter().any(|c| c.name == name))
            };
            let usable = is_plain_identifier(&relationship)
                && is_plain_identifier(&backref)
                && !taken(Some(table), &relationship)
                && !taken(schema.table(&key.ref_table), &backref);
            usable.then_some((relationship, backref))
        })
        .collect()
}

fn plural(name: &str) -> String {
    if name.ends_with('s') || name.ends_with('x') || name.ends_with("sh") || name.ends_with("ch") {
        format!("{name}es")
    } else {
        format!("{name}s")
    }
}

/// The field type of a column type; `None` outside the vocabulary.
fn rust_type(ty: &ColumnType) -> Option<&'static str> {
    Some(match ty {
        ColumnType::SmallInteger => "i16",
        ColumnType::Integer => "i32",
        ColumnType::BigInteger => "i64",
        ColumnType::Boolean => "bool",
        ColumnType::String(_) | ColumnType::Text | ColumnType::Enum(_) => "String",
        ColumnType::Float => "f32",
        ColumnType::Double => "f64",
        ColumnType::Numeric { .. } => "BigDecimal",
        ColumnType::Date => "NaiveDate",
        ColumnType::Time => "NaiveTime",
        ColumnType::DateTime => "NaiveDateTime",
        ColumnType::Binary => "Vec<u8>",
        ColumnType::Native(_) => return None,
    })
}

/// `blog_post` is `BlogPost`.
fn struct_name(table: &str) -> String {
    table
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// Lower-case ASCII words joined by `_`, not a Rust keyword: what a field, a relationship
/// and a backref can be named as they are.
fn is_plain_identifier(name: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "as", "async", "await", "box", "break", "const", "continue", "crate", "dyn", "else",
        "enum", "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match",
        "mod", "move", "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait",
        "true", "try", "type", "unsafe", "use", "where", "while", "yield", "abstract", "become",
        "do", "final", "macro", "override", "priv", "typeof", "unsized", "virtual",
    ];
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name != "_"
        && !KEYWORDS.contains(&name)
}

/// A condition as a database gave it back, without the parentheses PostgreSQL puts around
/// it and with MySQL's backquotes taken off plain identifiers (`` `pages` > 0 `` is
/// `pages > 0`), outside string literals.
fn readable_condition(condition: &str) -> String {
    let condition = condition.trim();
    let condition = match condition
        .strip_prefix('(')
        .and_then(|c| c.strip_suffix(')'))
    {
        Some(inner) if parentheses_balance(inner) => inner,
        _ => condition,
    };
    let mut out = String::with_capacity(condition.len());
    let mut rest = condition;
    let mut in_literal = false;
    while let Some(c) = rest.chars().next() {
        if c == '\'' {
            in_literal = !in_literal;
        }
        if c == '`'
            && !in_literal
            && let Some(end) = rest[1..].find('`')
            && is_plain_identifier(&rest[1..1 + end])
        {
            out.push_str(&rest[1..1 + end]);
            rest = &rest[end + 2..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Whether every parenthesis in `text` closes one opened before it, outside string literals.
fn parentheses_balance(text: &str) -> bool {
    let (mut depth, mut in_literal) = (0i32, false);
    for c in text.chars() {
        match c {
            '\'' => in_literal = !in_literal,
            '(' if !in_literal => depth += 1,
            ')' if !in_literal => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    depth == 0
}

/// A Rust string literal.
fn quoted(text: &str) -> String {
    format!("{text:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, Index, UniqueConstraint};

    fn account() -> Table {
        let mut table = Table::new("account")
            .id_column("id")
            .column(Column::new("token", ColumnType::Native("uuid".into())))
            .column(Column::new("Display Name", ColumnType::Text))
            .column(Column::new("type", ColumnType::String(None)))
            .column(Column::new("owner_id", ColumnType::Integer))
            .column(Column::new("deleted_at", ColumnType::DateTime));
        table.unique_constraints.push(UniqueConstraint {
            name: "account_type_key".into(),
            columns: vec!["type".into()],
        });
        table.indexes.push(Index {
            name: "ix_account_live".into(),
            columns: vec!["owner_id".into()],
            unique: false,
            predicate: Some("(deleted_at IS NULL)".into()),
        });
        table.foreign_keys.push(ForeignKey {
            name: "account_owner_id_fkey".into(),
            ..ForeignKey::conventional("account", "owner_id", "account", "id")
        });
        table
    }

    #[test]
    fn what_a_declaration_cannot_say_is_a_comment_at_its_place() {
        let text = declarations(&Schema::new(vec![account()]), &[]).unwrap();
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_module_without_imports_opens_on_its_first_model() {
        let table = Table::new("tag").id_column("id");
        let text = declarations(&Schema::new(vec![table]), &[]).unwrap();
        assert!(
            text.starts_with("#[dbmigrate::models]\npub mod declared {\n    #[model"),
            "{text}"
        );
    }

    #[test]
    fn mysqls_backquotes_come_off_plain_names_only() {
        assert_eq!(readable_condition("`pages` > 0"), "pages > 0");
        assert_eq!(readable_condition("`Odd Name` > 0"), "`Odd Name` > 0");
        assert_eq!(readable_condition("note <> '`kept`'"), "note <> '`kept`'");
        assert_eq!(readable_condition("(a > 0)"), "a > 0");
        assert_eq!(
            readable_condition("(a > 0) AND (b > 0)"),
            "(a > 0) AND (b > 0)"
        );
    }

    #[test]
    fn names_come_from_the_tables() {
        assert_eq!(struct_name("blog_post"), "BlogPost");
        assert_eq!(plural("post"), "posts");
        assert_eq!(plural("address"), "addresses");
        assert!(!is_plain_identifier("type") && !is_plain_identifier("userId"));
    }
}
