//! The database-neutral schema model: what models declare, what catalogs are read into,
//! and what migrations change.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// A column type, in the vocabulary shared by the three databases.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ColumnType {
    SmallInteger,
    Integer,
    BigInteger,
    Boolean,
    /// `VARCHAR(n)`; `None` is a string of unbounded length where the database allows it.
    String(Option<u32>),
    Text,
    Float,
    Double,
    Numeric {
        precision: u32,
        scale: u32,
    },
    Date,
    Time,
    /// A date and time without time zone, holding UTC by convention, to the microsecond.
    DateTime,
    Binary,
    /// One of a fixed list of strings: MySQL's ENUM; elsewhere a VARCHAR as long as the
    /// longest value, with a CHECK constraint named by [`enum_check_name`].
    Enum(Vec<String>),
    /// A type outside this vocabulary, as the database names it (`uuid`, `jsonb`,
    /// `timestamp with time zone`, a PostgreSQL enum type): read from a catalog, kept and written
    /// back as it is, so that a table the models do not describe survives a round trip.
    Native(String),
}

impl ColumnType {
    pub fn is_integer(&self) -> bool {
        matches!(
            self,
            ColumnType::SmallInteger | ColumnType::Integer | ColumnType::BigInteger
        )
    }

    /// Whether a value of `self` always fits in `other` (used to tell narrowing changes).
    pub fn fits_in(&self, other: &ColumnType) -> bool {
        use ColumnType::*;
        match (self, other) {
            (a, b) if a == b => true,
            (SmallInteger, Integer | BigInteger) | (Integer, BigInteger) => true,
            (String(_), Text) => true,
            (String(Some(a)), String(b)) => b.is_none_or(|b| *a <= b),
            (Float, Double) => true,
            (Enum(values), Enum(wider)) => values.iter().all(|v| wider.contains(v)),
            (Enum(_), Text | String(None)) => true,
            (Enum(values), String(Some(n))) => {
                values.iter().all(|v| v.chars().count() <= *n as usize)
            }
            _ => false,
        }
    }
}

/// The CHECK constraint that holds an enumeration's values where the database has no ENUM.
pub fn enum_check_name(table: &str, column: &str) -> String {
    format!("ck_{table}_{column}")
}

/// An enumeration's values as a SQL list: `'draft', 'published'`.
pub fn enum_values_sql(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("'{}'", v.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The longest value's length in characters, for the VARCHAR that holds an enumeration.
pub fn enum_length(values: &[String]) -> usize {
    values
        .iter()
        .map(|v| v.chars().count())
        .max()
        .unwrap_or(1)
        .max(1)
}

/// A server-side default, kept as the SQL expression the database evaluates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ColumnDefault {
    /// A literal written as SQL: `0`, `'draft'`, `TRUE`.
    Literal(String),
    /// The current timestamp, spelled by each database its own way.
    CurrentTimestamp,
}

impl ColumnDefault {
    /// Whether the default is the same for every row, so that a database can keep it once
    /// rather than write it into each (PostgreSQL 11 and later): a literal, a cast of one,
    /// or the transaction's time. Anything else is taken to be computed per row.
    pub fn is_same_for_every_row(&self) -> bool {
        let ColumnDefault::Literal(sql) = self else {
            return true;
        };
        let lower = sql.trim().to_ascii_lowercase();
        let value = lower.split("::").next().unwrap_or_default().trim();
        let quoted = value.starts_with('\'') && value.ends_with('\'') && value.len() >= 2;
        let number = value.parse::<f64>().is_ok();
        let keyword = matches!(
            value,
            "true"
                | "false"
                | "null"
                | "current_timestamp"
                | "current_date"
                | "current_time"
                | "localtimestamp"
                | "localtime"
                | "now()"
                | "transaction_timestamp()"
        );
        quoted || number || keyword
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ColumnType,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<ColumnDefault>,
    /// Values come from the database when none is given (`SERIAL`, `AUTO_INCREMENT`, rowid).
    #[serde(default, skip_serializing_if = "is_false")]
    pub autoincrement: bool,
}

fn yes() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl Column {
    /// A nullable column, as SQLAlchemy's `db.Column(type)` is unless told otherwise.
    pub fn new(name: &str, ty: ColumnType) -> Self {
        Column {
            name: name.to_string(),
            ty,
            nullable: true,
            default: None,
            autoincrement: false,
        }
    }

    pub fn not_null(mut self) -> Self {
        self.nullable = false;
        self
    }

    pub fn default(mut self, default: ColumnDefault) -> Self {
        self.default = Some(default);
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
    /// A partial index's condition, as SQL (`published` , `deleted_at IS NULL`): only
    /// the rows it holds for are indexed. SQLite and PostgreSQL.
    pub predicate: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UniqueConstraint {
    pub name: String,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ReferentialAction {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl ReferentialAction {
    pub fn sql(self) -> &'static str {
        match self {
            ReferentialAction::NoAction => "NO ACTION",
            ReferentialAction::Restrict => "RESTRICT",
            ReferentialAction::Cascade => "CASCADE",
            ReferentialAction::SetNull => "SET NULL",
            ReferentialAction::SetDefault => "SET DEFAULT",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().replace('_', " ").as_str() {
            "NO ACTION" => Some(ReferentialAction::NoAction),
            "RESTRICT" => Some(ReferentialAction::Restrict),
            "CASCADE" => Some(ReferentialAction::Cascade),
            "SET NULL" => Some(ReferentialAction::SetNull),
            "SET DEFAULT" => Some(ReferentialAction::SetDefault),
            _ => None,
        }
    }
}

impl TryFrom<String> for ReferentialAction {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        ReferentialAction::parse(&text).ok_or_else(|| {
            format!(
                "unknown action '{text}'; use NO ACTION, RESTRICT, CASCADE, SET NULL or SET DEFAULT"
            )
        })
    }
}

impl From<ReferentialAction> for String {
    fn from(action: ReferentialAction) -> Self {
        action.sql().to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForeignKey {
    pub name: String,
    pub columns: Vec<String>,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    /// `None` is the database's default, NO ACTION.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_delete: Option<ReferentialAction>,
}

impl ForeignKey {
    /// A one-column foreign key named by the convention `fk_<table>_<column>_<reftable>`.
    pub fn conventional(table: &str, column: &str, ref_table: &str, ref_column: &str) -> Self {
        ForeignKey {
            name: format!("fk_{table}_{column}_{ref_table}"),
            columns: vec![column.to_string()],
            ref_table: ref_table.to_string(),
            ref_columns: vec![ref_column.to_string()],
            on_delete: None,
        }
    }
}

/// A named CHECK constraint: rows must make `condition` (SQL) true or NULL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConstraint {
    pub name: String,
    pub condition: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    pub primary_key: Vec<String>,
    pub indexes: Vec<Index>,
    pub unique_constraints: Vec<UniqueConstraint>,
    pub foreign_keys: Vec<ForeignKey>,
    /// Named CHECK constraints; an enumeration's own is not among them.
    pub check_constraints: Vec<CheckConstraint>,
}

impl Table {
    pub fn new(name: &str) -> Self {
        Table {
            name: name.to_string(),
            columns: Vec::new(),
            primary_key: Vec::new(),
            indexes: Vec::new(),
            unique_constraints: Vec::new(),
            foreign_keys: Vec::new(),
            check_constraints: Vec::new(),
        }
    }

    /// An integer primary key whose values the database assigns.
    pub fn id_column(mut self, name: &str) -> Self {
        let mut column = Column::new(name, ColumnType::Integer).not_null();
        column.autoincrement = true;
        self.columns.push(column);
        self.primary_key = vec![name.to_string()];
        self
    }

    pub fn column(mut self, column: Column) -> Self {
        self.columns.push(column);
        self
    }

    /// An index named by the convention `ix_<table>_<column>`.
    pub fn index(mut self, column: &str, unique: bool) -> Self {
        self.indexes.push(Index {
            name: format!("ix_{}_{}", self.name, column),
            columns: vec![column.to_string()],
            unique,
            predicate: None,
        });
        self
    }

    /// A unique constraint named by the convention `uq_<table>_<column>`.
    pub fn unique(mut self, column: &str) -> Self {
        self.unique_constraints.push(UniqueConstraint {
            name: format!("uq_{}_{}", self.name, column),
            columns: vec![column.to_string()],
        });
        self
    }

    /// A foreign key named by the convention `fk_<table>_<column>_<reftable>`.
    pub fn foreign_key(mut self, column: &str, ref_table: &str, ref_column: &str) -> Self {
        let key = ForeignKey::conventional(&self.name, column, ref_table, ref_column);
        self.foreign_keys.push(key);
        self
    }

    /// The column lists the database keeps an index on: indexes, unique constraints and
    /// the primary key. A foreign key whose columns start one of these needs no index of
    /// its own.
    pub fn indexed_column_lists(&self) -> impl Iterator<Item = &[String]> {
        self.indexes
            .iter()
            .map(|i| i.columns.as_slice())
            .chain(self.unique_constraints.iter().map(|u| u.columns.as_slice()))
            .chain([self.primary_key.as_slice()])
            .filter(|columns| !columns.is_empty())
    }

    /// Whether some index serves lookups by `columns`.
    pub fn has_index_for(&self, columns: &[String]) -> bool {
        self.indexed_column_lists()
            .any(|list| list.starts_with(columns))
    }

    pub fn find_column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The unique index or constraint over exactly these columns, by name.
    pub fn unique_over(&self, columns: &[String]) -> Option<&str> {
        let wanted: BTreeSet<&String> = columns.iter().collect();
        let same = |cols: &[String]| cols.iter().collect::<BTreeSet<_>>() == wanted;
        self.indexes
            .iter()
            .filter(|i| i.unique && same(&i.columns))
            .map(|i| i.name.as_str())
            .chain(
                self.unique_constraints
                    .iter()
                    .filter(|u| same(&u.columns))
                    .map(|u| u.name.as_str()),
            )
            .next()
    }

    /// The columns of a unique index or constraint, by its name.
    pub fn unique_columns(&self, constraint: &str) -> Option<&[String]> {
        self.indexes
            .iter()
            .filter(|i| i.unique && i.name == constraint)
            .map(|i| i.columns.as_slice())
            .chain(
                self.unique_constraints
                    .iter()
                    .filter(|u| u.name == constraint)
                    .map(|u| u.columns.as_slice()),
            )
            .next()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schema {
    pub tables: Vec<Table>,
}

impl Schema {
    pub fn new(tables: Vec<Table>) -> Self {
        Schema { tables }
    }

    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// The schema as `dialect` can tell it apart: MySQL keeps a unique constraint as a unique
    /// index, so there both are unique indexes. Compare schemas in this form.
    pub fn normalized_for(&self, dialect: crate::url::Dialect) -> Schema {
        let mut schema = self.comparable_for(dialect);
        dialect.sql().as_catalog_keeps(&mut schema);
        schema.canonical()
    }

    /// The schema with what `dialect` cannot store told as what it stores instead, so that
    /// a declared schema and the catalog it made compare equal: a key SQLite assigns is its
    /// rowid, an INTEGER whatever width was declared.
    pub fn comparable_for(&self, dialect: crate::url::Dialect) -> Schema {
        let mut schema = self.clone();
        dialect.sql().as_stored(&mut schema);
        schema
    }

    /// The same schema with tables, indexes, constraints and keys in name order, so that
    /// two schemas that differ only in the order things were declared compare equal.
    pub fn canonical(&self) -> Schema {
        let mut schema = self.clone();
        schema.tables.sort_by(|a, b| a.name.cmp(&b.name));
        for table in &mut schema.tables {
            table.indexes.sort_by(|a, b| a.name.cmp(&b.name));
            table.unique_constraints.sort_by(|a, b| a.name.cmp(&b.name));
            table.foreign_keys.sort_by(|a, b| a.name.cmp(&b.name));
            table.check_constraints.sort_by(|a, b| a.name.cmp(&b.name));
        }
        schema
    }

    /// Table names ordered so that every table comes after the tables it references:
    /// the order to create tables and insert rows in (reverse it to drop or delete).
    /// Tables in a reference cycle keep their declared order at the end.
    pub fn dependency_order(&self) -> Vec<&str> {
        let names: BTreeSet<&str> = self.tables.iter().map(|t| t.name.as_str()).collect();
        let mut waiting_on: BTreeMap<&str, BTreeSet<&str>> = self
            .tables
            .iter()
            .map(|t| {
                let parents = t
                    .foreign_keys
                    .iter()
                    .map(|fk| fk.ref_table.as_str())
                    .filter(|parent| *parent != t.name && names.contains(parent))
                    .collect();
                (t.name.as_str(), parents)
            })
            .collect();
        let mut order = Vec::with_capacity(self.tables.len());
        while !waiting_on.is_empty() {
            let ready: Vec<&str> = self
                .tables
                .iter()
                .map(|t| t.name.as_str())
                .filter(|name| waiting_on.get(name).is_some_and(BTreeSet::is_empty))
                .collect();
            if ready.is_empty() {
                order.extend(
                    self.tables
                        .iter()
                        .map(|t| t.name.as_str())
                        .filter(|n| waiting_on.contains_key(n)),
                );
                break;
            }
            for name in ready {
                waiting_on.remove(name);
                for parents in waiting_on.values_mut() {
                    parents.remove(name);
                }
                order.push(name);
            }
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referenced_tables_come_first_whatever_the_declared_order() {
        let schema = Schema::new(vec![
            Table::new("comment").foreign_key("post_id", "post", "id"),
            Table::new("post").foreign_key("user_id", "user", "id"),
            Table::new("user"),
            Table::new("tag"),
        ]);
        assert_eq!(
            schema.dependency_order(),
            ["user", "tag", "post", "comment"]
        );
    }

    #[test]
    fn a_reference_cycle_still_lists_every_table_once() {
        let schema = Schema::new(vec![
            Table::new("a").foreign_key("b_id", "b", "id"),
            Table::new("b").foreign_key("a_id", "a", "id"),
            Table::new("c"),
        ]);
        assert_eq!(schema.dependency_order(), ["c", "a", "b"]);
    }

    #[test]
    fn widening_fits_narrowing_does_not() {
        assert!(ColumnType::String(Some(64)).fits_in(&ColumnType::String(Some(120))));
        assert!(!ColumnType::String(Some(120)).fits_in(&ColumnType::String(Some(64))));
        assert!(ColumnType::Integer.fits_in(&ColumnType::BigInteger));
        assert!(!ColumnType::Text.fits_in(&ColumnType::String(Some(10))));
    }

    #[test]
    fn defaults_the_same_for_every_row_are_told_from_those_computed_per_row() {
        let literal = |sql: &str| ColumnDefault::Literal(sql.into());
        for constant in [
            "0",
            "-1.5",
            "'draft'",
            "TRUE",
            "NULL",
            "now()",
            "'{}'::jsonb",
        ] {
            assert!(literal(constant).is_same_for_every_row(), "{constant}");
        }
        assert!(ColumnDefault::CurrentTimestamp.is_same_for_every_row());
        for per_row in [
            "random()",
            "gen_random_uuid()",
            "clock_timestamp()",
            "nextval('s')",
        ] {
            assert!(!literal(per_row).is_same_for_every_row(), "{per_row}");
        }
    }
}
