//! One column value of any type, for code that reaches columns by name (the shell, length
//! checks, forms), and the conversions between it and the fields of declared models.

use std::fmt;

use bigdecimal::BigDecimal;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Text(String),
    /// A NUMERIC value, exactly, in decimal.
    Numeric(String),
    Date(NaiveDate),
    Time(NaiveTime),
    /// UTC, to the microsecond.
    DateTime(NaiveDateTime),
    Binary(Vec<u8>),
}

impl Value {
    /// What kind of value this is, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "None",
            Value::Integer(_) => "a whole number",
            Value::Float(_) => "a number",
            Value::Boolean(_) => "true or false",
            Value::Text(_) => "a string",
            Value::Numeric(_) => "a decimal number",
            Value::Date(_) => "a date",
            Value::Time(_) => "a time",
            Value::DateTime(_) => "a date and time",
            Value::Binary(_) => "bytes",
        }
    }
}

/// `None` for NULL, as Python's `repr` shows it; dates and times in ISO 8601, UTC marked `Z`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("None"),
            Value::Integer(n) => write!(f, "{n}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Boolean(b) => f.write_str(if *b { "True" } else { "False" }),
            Value::Text(s) | Value::Numeric(s) => f.write_str(s),
            Value::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Value::Time(t) => write!(f, "{}", t.format("%H:%M:%S%.6f")),
            Value::DateTime(t) => write!(f, "{}", t.format("%Y-%m-%dT%H:%M:%S%.6fZ")),
            Value::Binary(bytes) => write!(f, "<{} bytes>", bytes.len()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    #[error("cannot be None")]
    Null,
    #[error("must be {expected}, not {found}")]
    Mismatch {
        expected: &'static str,
        found: String,
    },
    #[error("{0} is out of range")]
    OutOfRange(String),
    #[error("is given by the database, not set")]
    Generated,
}

fn mismatch(expected: &'static str, found: &Value) -> ValueError {
    let found = match found {
        Value::Text(text) => format!("\"{text}\""),
        other => format!("{other} ({})", other.kind()),
    };
    ValueError::Mismatch { expected, found }
}

/// A field's value as a [`Value`].
pub trait IntoValue {
    fn to_value(&self) -> Value;
}

/// A field's value from a [`Value`], converting where nothing is lost: a whole number is
/// a fine float, an ISO 8601 string a fine date and time.
pub trait FromValue: Sized {
    fn from_value(value: Value) -> Result<Self, ValueError>;
}

impl<T: IntoValue> IntoValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, T::to_value)
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: Value) -> Result<Self, ValueError> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

macro_rules! integers {
    ($($ty:ty),*) => {$(
        impl IntoValue for $ty {
            fn to_value(&self) -> Value {
                Value::Integer(i64::from(*self))
            }
        }
        impl FromValue for $ty {
            fn from_value(value: Value) -> Result<Self, ValueError> {
                match value {
                    Value::Integer(n) => {
                        <$ty>::try_from(n).map_err(|_| ValueError::OutOfRange(n.to_string()))
                    }
                    Value::Null => Err(ValueError::Null),
                    other => Err(mismatch("a whole number", &other)),
                }
            }
        }
    )*};
}
integers!(i16, i32, i64);

impl IntoValue for bool {
    fn to_value(&self) -> Value {
        Value::Boolean(*self)
    }
}

impl FromValue for bool {
    fn from_value(value: Value) -> Result<Self, ValueError> {
        match value {
            Value::Boolean(b) => Ok(b),
            Value::Null => Err(ValueError::Null),
            other => Err(mismatch("true or false", &other)),
        }
    }
}

impl IntoValue for f64 {
    fn to_value(&self) -> Value {
        Value::Float(*self)
    }
}

impl FromValue for f64 {
    fn from_value(value: Value) -> Result<Self, ValueError> {
        match value {
            Value::Float(x) => Ok(x),
            Value::Integer(n) => Ok(n as f64),
            Value::Null => Err(ValueError::Null),
            other => Err(mismatch("a number", &other)),
        }
    }
}

impl IntoValue for f32 {
    fn to_value(&self) -> Value {
        Value::Float(f64::from(*self))
    }
}

impl FromValue for f32 {
    fn from_value(value: Value) -> Result<Self, ValueError> {
        f64::from_value(value).map(|x| x as f32)
    }
}

impl IntoValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl FromValue for String {
    fn from_value(value: Value) -> Result<Self, ValueError> {
        match value {
            Value::Text(text) => Ok(text),
            Value::Null => Err(ValueError::Null),
            other => Err(mismatch("a string", &other)),
        }
    }
}

impl IntoValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Binary(self.clone())
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: Value) -> Result<Self, ValueError> {
        match value {
            Value::Binary(bytes) => Ok(bytes),
            Value::Text(text) => Ok(text.into_bytes()),
            Value::Null => Err(ValueError::Null),
            other => Err(mismatch("bytes", &other)),
        }
    }
}

impl IntoValue for BigDecimal {
    fn to_value(&self) -> Value {
        Value::Numeric(self.to_string())
    }
}

impl FromValue for BigDecimal {
    fn from_value(value: Value) -> Result<Self, ValueError> {
        let expected = "a decimal number";
        match value {
            Value::Numeric(ref text) | Value::Text(ref text) => {
                text.trim().parse().map_err(|_| mismatch(expected, &value))
            }
            Value::Integer(n) => Ok(BigDecimal::from(n)),
            Value::Float(x) => x
                .to_string()
                .parse()
                .map_err(|_| mismatch(expected, &value)),
            Value::Null => Err(ValueError::Null),
            other => Err(mismatch(expected, &other)),
        }
    }
}

impl IntoValue for NaiveDateTime {
    fn to_value(&self) -> Value {
        Value::DateTime(*self)
    }
}

impl FromValue for NaiveDateTime {
    fn from_value(value: Value) -> Result<Self, ValueError> {
        let expected = "a date and time such as \"2026-11-27T09:30:00Z\"";
        match value {
            Value::DateTime(t) => Ok(t),
            Value::Date(d) => Ok(d.and_time(NaiveTime::MIN)),
            Value::Text(ref text) => parse_datetime(text).ok_or_else(|| mismatch(expected, &value)),
            Value::Null => Err(ValueError::Null),
            other => Err(mismatch(expected, &other)),
        }
    }
}

/// ISO 8601 in UTC, as the shell prints it, with `T` or a space, with or without `Z` and
/// fractions of a second; a plain date is its midnight.
fn parse_datetime(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    let text = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))
        .unwrap_or(text);
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .map(|d| d.and_time(NaiveTime::MIN))
    })
}

impl IntoValue for NaiveDate {
    fn to_value(&self) -> Value {
        Value::Date(*self)
    }
}

impl FromValue for NaiveDate {
    fn from_value(value: Value) -> Result<Self, ValueError> {
        let expected = "a date such as \"2026-11-27\"";
        match value {
            Value::Date(d) => Ok(d),
            Value::Text(ref text) => NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .map_err(|_| mismatch(expected, &value)),
            Value::Null => Err(ValueError::Null),
            other => Err(mismatch(expected, &other)),
        }
    }
}

impl IntoValue for NaiveTime {
    fn to_value(&self) -> Value {
        Value::Time(*self)
    }
}

impl FromValue for NaiveTime {
    fn from_value(value: Value) -> Result<Self, ValueError> {
        let expected = "a time such as \"09:30:00\"";
        match value {
            Value::Time(t) => Ok(t),
            Value::Text(ref text) => NaiveTime::parse_from_str(text.trim(), "%H:%M:%S%.f")
                .or_else(|_| NaiveTime::parse_from_str(text.trim(), "%H:%M"))
                .map_err(|_| mismatch(expected, &value)),
            Value::Null => Err(ValueError::Null),
            other => Err(mismatch(expected, &other)),
        }
    }
}

/// A primary key: one column's value, or a tuple for a key of several columns.
pub trait Key: Clone + Send + Sync + 'static {
    fn to_values(&self) -> Vec<Value>;
    fn from_values(values: &[Value]) -> Result<Self, ValueError>;
}

macro_rules! scalar_keys {
    ($($ty:ty),*) => {$(
        impl Key for $ty {
            fn to_values(&self) -> Vec<Value> {
                vec![self.to_value()]
            }
            fn from_values(values: &[Value]) -> Result<Self, ValueError> {
                match values {
                    [one] => <$ty>::from_value(one.clone()),
                    _ => Err(ValueError::Mismatch {
                        expected: "one key value",
                        found: format!("{}", values.len()),
                    }),
                }
            }
        }
    )*};
}
scalar_keys!(i16, i32, i64, String);

macro_rules! tuple_keys {
    ($(($($name:ident),+))*) => {$(
        impl<$($name: Key + IntoValue + FromValue),+> Key for ($($name,)+) {
            #[allow(non_snake_case)]
            fn to_values(&self) -> Vec<Value> {
                let ($($name,)+) = self;
                vec![$($name.to_value()),+]
            }
            #[allow(non_snake_case)]
            fn from_values(values: &[Value]) -> Result<Self, ValueError> {
                let mut values = values.iter().cloned();
                let mut next = || values.next().ok_or(ValueError::Mismatch {
                    expected: "a value for each key column",
                    found: "fewer".into(),
                });
                Ok(($($name::from_value(next()?)?,)+))
            }
        }
    )*};
}
tuple_keys!((A, B)(A, B, C));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_are_read_from_the_iso_forms_people_type() {
        let expected = NaiveDate::from_ymd_opt(2026, 11, 27)
            .unwrap()
            .and_hms_micro_opt(9, 30, 0, 250_000)
            .unwrap();
        for text in [
            "2026-11-27T09:30:00.25Z",
            "2026-11-27 09:30:00.250000",
            "2026-11-27T09:30:00.25+00:00",
        ] {
            assert_eq!(
                NaiveDateTime::from_value(Value::Text(text.into())),
                Ok(expected),
                "{text}"
            );
        }
        assert!(NaiveDateTime::from_value(Value::Text("yesterday".into())).is_err());
    }

    #[test]
    fn a_datetime_prints_as_the_shell_shows_it_and_reads_back() {
        let t = NaiveDate::from_ymd_opt(2026, 1, 2)
            .unwrap()
            .and_hms_micro_opt(3, 4, 5, 6)
            .unwrap();
        let shown = Value::DateTime(t).to_string();
        assert_eq!(shown, "2026-01-02T03:04:05.000006Z");
        assert_eq!(NaiveDateTime::from_value(Value::Text(shown)), Ok(t));
    }

    #[test]
    fn integers_out_of_range_and_wrong_kinds_are_refused() {
        assert_eq!(
            i16::from_value(Value::Integer(1 << 20)),
            Err(ValueError::OutOfRange("1048576".into()))
        );
        assert!(i32::from_value(Value::Text("1".into())).is_err());
        assert_eq!(i32::from_value(Value::Null), Err(ValueError::Null));
        assert_eq!(Option::<i32>::from_value(Value::Null), Ok(None));
    }

    #[test]
    fn composite_keys_convert_both_ways() {
        let key = (3i32, 4i32);
        assert_eq!(<(i32, i32)>::from_values(&key.to_values()), Ok(key));
    }
}
