//! How column types and defaults are written in revision files: `integer`, `string(64)`,
//! `datetime`, `numeric(10, 2)`; `CURRENT_TIMESTAMP` or a SQL literal.

use std::fmt;
use std::str::FromStr;

use crate::schema::{ColumnDefault, ColumnType};

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnType::SmallInteger => f.write_str("smallint"),
            ColumnType::Integer => f.write_str("integer"),
            ColumnType::BigInteger => f.write_str("bigint"),
            ColumnType::Boolean => f.write_str("boolean"),
            ColumnType::String(Some(n)) => write!(f, "string({n})"),
            ColumnType::String(None) => f.write_str("string"),
            ColumnType::Text => f.write_str("text"),
            ColumnType::Float => f.write_str("float"),
            ColumnType::Double => f.write_str("double"),
            ColumnType::Numeric { precision, scale } => write!(f, "numeric({precision}, {scale})"),
            ColumnType::Date => f.write_str("date"),
            ColumnType::Time => f.write_str("time"),
            ColumnType::DateTime => f.write_str("datetime"),
            ColumnType::Binary => f.write_str("binary"),
            ColumnType::Enum(values) => {
                write!(f, "enum({})", crate::schema::enum_values_sql(values))
            }
            ColumnType::Native(name) => write!(f, "native({name})"),
        }
    }
}

/// The type names a revision file accepts.
pub const TYPE_NAMES: &str = "smallint, integer, bigint, boolean, string(N), string, text, \
     float, double, numeric(P, S), date, time, datetime, binary, enum('A', 'B', ...), \
     native(DATABASE TYPE)";

impl FromStr for ColumnType {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(inner) = text.trim().strip_prefix("native(") {
            // As written: a MySQL enum's values keep their case.
            return match inner.strip_suffix(')').map(str::trim) {
                Some(name) if !name.is_empty() => Ok(ColumnType::Native(name.to_string())),
                _ => Err(format!(
                    "type '{text}' needs the database's type name in parentheses"
                )),
            };
        }
        if let Some(inner) = text.trim().strip_prefix("enum(") {
            return match inner.strip_suffix(')').and_then(quoted_values) {
                Some(values) if !values.is_empty() => Ok(ColumnType::Enum(values)),
                _ => Err(format!(
                    "type '{text}' needs its values quoted in parentheses: enum('draft', 'published')"
                )),
            };
        }
        let lower = text.trim().to_ascii_lowercase();
        let (name, args) = match lower.split_once('(') {
            Some((name, rest)) => match rest.strip_suffix(')') {
                Some(args) => (name.trim(), Some(args)),
                None => return Err(format!("unclosed parenthesis in type '{text}'")),
            },
            None => (lower.as_str(), None),
        };
        let numbers = |count: usize| -> Result<Vec<u32>, String> {
            let numbers: Result<Vec<u32>, _> = args
                .unwrap_or("")
                .split(',')
                .map(|n| n.trim().parse::<u32>())
                .collect();
            match numbers {
                Ok(n) if n.len() == count => Ok(n),
                _ => Err(format!(
                    "type '{text}' needs {count} whole number(s) in parentheses"
                )),
            }
        };
        let no_args = |ty: ColumnType| match args {
            None => Ok(ty),
            Some(_) => Err(format!("type '{name}' takes no length")),
        };
        match name {
            "smallint" | "smallinteger" => no_args(ColumnType::SmallInteger),
            "integer" | "int" => no_args(ColumnType::Integer),
            "bigint" | "biginteger" => no_args(ColumnType::BigInteger),
            "boolean" | "bool" => no_args(ColumnType::Boolean),
            "string" | "varchar" => match args {
                None => Ok(ColumnType::String(None)),
                Some(_) => Ok(ColumnType::String(Some(numbers(1)?[0]))),
            },
            "text" => no_args(ColumnType::Text),
            "float" | "real" => no_args(ColumnType::Float),
            "double" => no_args(ColumnType::Double),
            "numeric" | "decimal" => {
                let n = numbers(2)?;
                Ok(ColumnType::Numeric {
                    precision: n[0],
                    scale: n[1],
                })
            }
            "date" => no_args(ColumnType::Date),
            "time" => no_args(ColumnType::Time),
            "datetime" | "timestamp" => no_args(ColumnType::DateTime),
            "binary" | "blob" => no_args(ColumnType::Binary),
            _ => Err(format!(
                "unknown type '{text}'; the types are: {TYPE_NAMES}"
            )),
        }
    }
}

/// `'a', 'b''s'` as its values; `None` if it is not a list of quoted strings.
pub(crate) fn quoted_values(list: &str) -> Option<Vec<String>> {
    let mut values = Vec::new();
    let mut chars = list.trim().chars().peekable();
    loop {
        if chars.next()? != '\'' {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()? {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    value.push('\'');
                }
                '\'' => break,
                c => value.push(c),
            }
        }
        values.push(value);
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => return Some(values),
            Some(',') => {
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
            }
            Some(_) => return None,
        }
    }
}

impl TryFrom<String> for ColumnType {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<ColumnType> for String {
    fn from(ty: ColumnType) -> Self {
        ty.to_string()
    }
}

impl fmt::Display for ColumnDefault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnDefault::CurrentTimestamp => f.write_str("CURRENT_TIMESTAMP"),
            ColumnDefault::Literal(sql) => f.write_str(sql),
        }
    }
}

impl From<String> for ColumnDefault {
    fn from(text: String) -> Self {
        let trimmed = text.trim();
        if trimmed.eq_ignore_ascii_case("current_timestamp")
            || trimmed.eq_ignore_ascii_case("now()")
        {
            ColumnDefault::CurrentTimestamp
        } else {
            ColumnDefault::Literal(trimmed.to_string())
        }
    }
}

impl From<ColumnDefault> for String {
    fn from(default: ColumnDefault) -> Self {
        default.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_reads_back_from_its_spelling() {
        for ty in [
            ColumnType::SmallInteger,
            ColumnType::Integer,
            ColumnType::BigInteger,
            ColumnType::Boolean,
            ColumnType::String(Some(64)),
            ColumnType::String(None),
            ColumnType::Text,
            ColumnType::Float,
            ColumnType::Double,
            ColumnType::Numeric {
                precision: 10,
                scale: 2,
            },
            ColumnType::Date,
            ColumnType::Time,
            ColumnType::DateTime,
            ColumnType::Binary,
            ColumnType::Enum(vec!["Draft".into(), "it's out".into()]),
            ColumnType::Native("timestamp with time zone".into()),
            ColumnType::Native("enum('sad','Happy')".into()),
        ] {
            assert_eq!(ty.to_string().parse::<ColumnType>(), Ok(ty.clone()), "{ty}");
        }
    }

    #[test]
    fn an_enumeration_needs_quoted_values() {
        for bad in [
            "enum()",
            "enum(draft)",
            "enum('a' 'b')",
            "enum('a', )",
            "enum('open",
        ] {
            assert!(bad.parse::<ColumnType>().is_err(), "{bad}");
        }
        assert_eq!(
            "enum( 'a','b' )".parse::<ColumnType>(),
            Ok(ColumnType::Enum(vec!["a".into(), "b".into()]))
        );
    }

    #[test]
    fn a_bad_type_says_what_is_wrong() {
        assert!(
            "string(x)"
                .parse::<ColumnType>()
                .unwrap_err()
                .contains("whole number")
        );
        assert!(
            "varchar2"
                .parse::<ColumnType>()
                .unwrap_err()
                .contains("the types are")
        );
        assert!(
            "integer(3)"
                .parse::<ColumnType>()
                .unwrap_err()
                .contains("takes no length")
        );
    }
}
