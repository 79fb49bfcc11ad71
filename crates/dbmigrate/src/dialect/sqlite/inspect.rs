//! SQLite's catalog: `sqlite_schema` and the table-valued pragmas.

use crate::connection::AnyConnection;
use diesel::sql_types::{Integer, Nullable, Text};
use diesel::{QueryResult, QueryableByName, RunQueryDsl, sql_query};

use crate::inspect::{Name, make_enum, normalize_type, quoted_literals};
use crate::schema::{
    Column, ColumnDefault, ForeignKey, Index, ReferentialAction, Table, UniqueConstraint,
};

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    ty: String,
    #[diesel(sql_type = Integer)]
    notnull: i32,
    #[diesel(sql_type = Nullable<Text>)]
    dflt_value: Option<String>,
    #[diesel(sql_type = Integer)]
    pk: i32,
}

#[derive(QueryableByName)]
struct IndexRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Integer)]
    is_unique: i32,
    #[diesel(sql_type = Text)]
    origin: String,
}

#[derive(QueryableByName)]
struct ForeignKeyRow {
    #[diesel(sql_type = Integer)]
    id: i32,
    #[diesel(sql_type = Text)]
    ref_table: String,
    #[diesel(sql_type = Text)]
    from_column: String,
    #[diesel(sql_type = Nullable<Text>)]
    to_column: Option<String>,
    #[diesel(sql_type = Text)]
    on_delete: String,
}

pub(crate) fn table_names(conn: &mut AnyConnection) -> QueryResult<Vec<String>> {
    let rows: Vec<Name> = sql_query(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .load(conn)?;
    Ok(rows.into_iter().map(|r| r.name).collect())
}

/// Ordinary tables only: a virtual table (FTS5, R*Tree…) and the shadow tables that hold
/// its data belong to the module that made them, not to any model.
pub(crate) fn tables(conn: &mut AnyConnection) -> QueryResult<Vec<Table>> {
    let ordinary: Vec<Name> = sql_query(
        "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' \
         AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .load(conn)?;
    ordinary
        .into_iter()
        .map(|row| table(conn, &row.name))
        .collect()
}

#[derive(QueryableByName)]
struct Sql {
    #[diesel(sql_type = Nullable<Text>)]
    sql: Option<String>,
}

/// `CONSTRAINT name CHECK (condition)` in a CREATE TABLE statement, each with its condition
/// as written. (An enumeration's check is one of them, under its column; the caller sets
/// those apart.)
fn named_checks(create_sql: &str) -> Vec<crate::schema::CheckConstraint> {
    let mut checks = Vec::new();
    let upper = create_sql.to_ascii_uppercase();
    let mut from = 0;
    while let Some(found) = upper[from..].find("CONSTRAINT ") {
        let at = from + found + "CONSTRAINT ".len();
        from = at;
        let rest = &create_sql[at..];
        let (name, after) = match rest.chars().next() {
            Some(quote @ ('"' | '`' | '[')) => {
                let close = if quote == '[' { ']' } else { quote };
                let Some(end) = rest[1..].find(close) else {
                    continue;
                };
                (rest[1..1 + end].to_string(), &rest[end + 2..])
            }
            _ => {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                (rest[..end].to_string(), &rest[end..])
            }
        };
        let after = after.trim_start();
        if !after.to_ascii_uppercase().starts_with("CHECK") {
            continue;
        }
        let after = after[5..].trim_start();
        if let Some(end) = crate::inspect::closing_paren(after) {
            checks.push(crate::schema::CheckConstraint {
                name,
                condition: after[1..end].trim().to_string(),
            });
        }
    }
    checks
}

/// The values of `CHECK ("column" IN ('a', 'b'))` in a CREATE TABLE statement: how an
/// enumeration is kept (SQLite rewrites the column's name there when it is renamed).
fn enum_values(create_sql: &str, column: &str) -> Option<Vec<String>> {
    let quoted = crate::dialect::Dialect::Sqlite.quote(column);
    let start = create_sql.find(&format!("CHECK ({quoted} IN ("))?;
    let list = &create_sql[start..];
    let list = &list[list.find("IN (")? + 3..];
    let end = crate::inspect::closing_paren(list)?;
    Some(quoted_literals(&list[1..end]))
}

/// The statement that made the table or index `name` (empty for one SQLite made itself).
fn statement_of(conn: &mut AnyConnection, kind: &str, name: &str) -> QueryResult<String> {
    let made: Vec<Sql> = sql_query("SELECT sql FROM sqlite_schema WHERE type = ? AND name = ?")
        .bind::<Text, _>(kind)
        .bind::<Text, _>(name)
        .load(conn)?;
    Ok(made
        .into_iter()
        .next()
        .and_then(|s| s.sql)
        .unwrap_or_default())
}

/// A partial index's condition: what follows WHERE in the statement that made it.
fn index_predicate(conn: &mut AnyConnection, index: &str) -> QueryResult<Option<String>> {
    let sql = statement_of(conn, "index", index)?;
    let upper = sql.to_ascii_uppercase();
    Ok(upper
        .rfind(" WHERE ")
        .map(|at| sql[at + 7..].trim().to_string()))
}

fn table(conn: &mut AnyConnection, name: &str) -> QueryResult<Table> {
    let mut table = Table::new(name);
    let create_sql = statement_of(conn, "table", name)?;
    let named = named_constraints(&create_sql);
    let name_of = |kind: &str, columns: &[String], fallback: String| {
        named
            .iter()
            .find(|(k, _, cols)| k == kind && cols == columns)
            .map_or(fallback, |(_, name, _)| name.clone())
    };
    let columns: Vec<ColumnRow> = sql_query(
        "SELECT name, type AS ty, \"notnull\", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid",
    )
    .bind::<Text, _>(name)
    .load(conn)?;
    let mut pk: Vec<(i32, String)> = columns
        .iter()
        .filter(|c| c.pk > 0)
        .map(|c| (c.pk, c.name.clone()))
        .collect();
    pk.sort();
    table.primary_key = pk.into_iter().map(|(_, n)| n).collect();
    let rowid_alias = table.primary_key.len() == 1;
    for row in columns {
        let ty = normalize_type(&row.ty, None);
        let is_rowid = rowid_alias && row.pk == 1 && row.ty.eq_ignore_ascii_case("integer");
        table.columns.push(Column {
            name: row.name,
            ty,
            // A rowid alias can never hold NULL, whatever its declaration says.
            nullable: row.notnull == 0 && !is_rowid,
            default: row.dflt_value.map(parse_default),
            autoincrement: is_rowid,
        });
    }
    let names: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    // An enumeration's check is told by what it says, not by its name, which a renamed
    // column or table leaves behind.
    let mut enum_checks = Vec::new();
    for column in names {
        if let Some(values) = enum_values(&create_sql, &column)
            && make_enum(&mut table, &column, values)
        {
            enum_checks.push(format!(
                "{} IN (",
                crate::dialect::Dialect::Sqlite.quote(&column)
            ));
        }
    }
    table.check_constraints = named_checks(&create_sql)
        .into_iter()
        .filter(|c| {
            !enum_checks
                .iter()
                .any(|e| c.condition.starts_with(e.as_str()))
        })
        .collect();

    let indexes: Vec<IndexRow> = sql_query(
        "SELECT name, \"unique\" AS is_unique, origin FROM pragma_index_list(?) ORDER BY name",
    )
    .bind::<Text, _>(name)
    .load(conn)?;
    for index in indexes.into_iter().filter(|i| i.origin != "pk") {
        let columns: Vec<Name> = sql_query("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
            .bind::<Text, _>(&index.name)
            .load(conn)?;
        let columns: Vec<String> = columns.into_iter().map(|c| c.name).collect();
        if index.origin == "u" {
            table.unique_constraints.push(UniqueConstraint {
                name: name_of(
                    "UNIQUE",
                    &columns,
                    format!("uq_{}_{}", name, columns.join("_")),
                ),
                columns,
            });
        } else {
            let predicate = index_predicate(conn, &index.name)?;
            table.indexes.push(Index {
                name: index.name,
                columns,
                unique: index.is_unique != 0,
                predicate,
            });
        }
    }

    let fk_rows: Vec<ForeignKeyRow> = sql_query(
        "SELECT id, \"table\" AS ref_table, \"from\" AS from_column, \"to\" AS to_column, on_delete \
         FROM pragma_foreign_key_list(?) ORDER BY id, seq",
    )
    .bind::<Text, _>(name)
    .load(conn)?;
    let mut current: Option<(i32, ForeignKey)> = None;
    for row in fk_rows {
        if current.as_ref().is_none_or(|(id, _)| *id != row.id) {
            if let Some((_, fk)) = current.take() {
                table.foreign_keys.push(fk);
            }
            current = Some((
                row.id,
                ForeignKey {
                    name: String::new(),
                    columns: Vec::new(),
                    ref_table: row.ref_table.clone(),
                    ref_columns: Vec::new(),
                    on_delete: ReferentialAction::parse(&row.on_delete)
                        .filter(|a| *a != ReferentialAction::NoAction),
                },
            ));
        }
        let (_, fk) = current.as_mut().expect("set above");
        fk.columns.push(row.from_column);
        fk.ref_columns
            .push(row.to_column.unwrap_or_else(|| "id".into()));
    }
    table.foreign_keys.extend(current.map(|(_, fk)| fk));
    // The pragmas give no constraint names: they come from the CREATE TABLE text, or,
    // for a constraint declared without one, from the engine's naming convention.
    for fk in &mut table.foreign_keys {
        let fallback = format!("fk_{}_{}_{}", name, fk.columns.join("_"), fk.ref_table);
        fk.name = name_of("FOREIGN", &fk.columns, fallback);
    }
    Ok(table)
}

/// `CONSTRAINT name UNIQUE (…)` and `CONSTRAINT name FOREIGN KEY (…)` clauses of a CREATE
/// TABLE statement, as (kind, name, columns).
fn named_constraints(sql: &str) -> Vec<(String, String, Vec<String>)> {
    let tokens = tokenize(sql);
    let mut found = Vec::new();
    let mut i = 0;
    while i + 2 < tokens.len() {
        if tokens[i].eq_ignore_ascii_case("constraint") {
            let name = tokens[i + 1].clone();
            let kind = tokens[i + 2].to_ascii_uppercase();
            let open = match kind.as_str() {
                "UNIQUE" => i + 3,
                "FOREIGN" => i + 4,
                _ => {
                    i += 1;
                    continue;
                }
            };
            if tokens.get(open).map(String::as_str) == Some("(") {
                let columns: Vec<String> = tokens[open + 1..]
                    .iter()
                    .take_while(|t| *t != ")")
                    .filter(|t| *t != ",")
                    .cloned()
                    .collect();
                found.push((kind, name, columns));
            }
        }
        i += 1;
    }
    found
}

/// Identifiers (quotes removed), words and single punctuation characters.
fn tokenize(sql: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '`' | '[' | '\'' => {
                let close = if c == '[' { ']' } else { c };
                let mut ident = String::new();
                while let Some(d) = chars.next() {
                    if d == close {
                        if chars.peek() == Some(&close) && close != ']' {
                            ident.push(d);
                            chars.next();
                            continue;
                        }
                        break;
                    }
                    ident.push(d);
                }
                tokens.push(ident);
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut word = c.to_string();
                while let Some(&d) = chars.peek() {
                    if d.is_alphanumeric() || d == '_' || d == '$' {
                        word.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(word);
            }
            c if c.is_whitespace() => {}
            c => tokens.push(c.to_string()),
        }
    }
    tokens
}

pub(super) fn parse_default(sql: String) -> ColumnDefault {
    let trimmed = sql.trim().trim_start_matches('(').trim_end_matches(')');
    if trimmed.eq_ignore_ascii_case("current_timestamp") {
        ColumnDefault::CurrentTimestamp
    } else {
        ColumnDefault::Literal(sql)
    }
}

/// A key SQLite assigns is its rowid: an INTEGER, whatever width was declared.
pub(crate) fn as_stored(schema: &mut crate::schema::Schema) {
    for table in &mut schema.tables {
        // Only a single-column key is the rowid, which SQLite assigns.
        if table.primary_key.len() > 1 {
            for column in &mut table.columns {
                column.autoincrement = false;
            }
        }
    }
    for column in schema.tables.iter_mut().flat_map(|t| &mut t.columns) {
        if column.autoincrement
            && matches!(
                column.ty,
                crate::schema::ColumnType::SmallInteger | crate::schema::ColumnType::BigInteger
            )
        {
            column.ty = crate::schema::ColumnType::Integer;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_names_are_read_from_the_create_statement() {
        let sql = r#"CREATE TABLE "entry" (
            "id" INTEGER NOT NULL, "user_id" INTEGER, "a" TEXT, "b" TEXT,
            PRIMARY KEY ("id"),
            CONSTRAINT "uq_ab" UNIQUE ("a", "b"),
            CONSTRAINT "fk_post_user_id_user" FOREIGN KEY ("user_id") REFERENCES "user" ("id")
        )"#;
        assert_eq!(
            named_constraints(sql),
            [
                (
                    "UNIQUE".to_string(),
                    "uq_ab".to_string(),
                    vec!["a".to_string(), "b".to_string()]
                ),
                (
                    "FOREIGN".to_string(),
                    "fk_post_user_id_user".to_string(),
                    vec!["user_id".to_string()]
                ),
            ]
        );
    }
}
