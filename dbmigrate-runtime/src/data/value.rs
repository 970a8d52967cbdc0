//! Portable values: what data-step helpers bind as parameters and return as columns, with one
//! mapping on all three backends (the table is in the [`crate::data`] module documentation).

use std::fmt;
use std::sync::Arc;

/// A parameter or column value.
///
/// Every integer has one representation: `Int` when it fits in an `i64`, `UInt` only above
/// `i64::MAX` (MySQL's `BIGINT UNSIGNED`); `From<u64>` and the helpers follow that rule, so values
/// read back compare equal to the values written. `Null` as a parameter takes the type the
/// statement gives it, as a literal NULL would.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// An unsigned integer above `i64::MAX`.
    UInt(u64),
    /// A floating-point number.
    Float(f64),
    /// An exact decimal number, as text: an optional sign, digits, optionally a point and digits
    /// (`"-12.50"`; no exponent). PostgreSQL's `NaN`, `Infinity` and `-Infinity` are allowed there.
    /// The scale is kept as written (`"1.10"` stays `"1.10"` in a PostgreSQL `NUMERIC`); parse it with
    /// the decimal crate of your choice.
    Decimal(String),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// A JSON document.
    Json(serde_json::Value),
    /// A UUID.
    Uuid(uuid::Uuid),
    /// A calendar date.
    Date(time::Date),
    /// A time of day.
    Time(time::Time),
    /// A date and time without a time zone (`TIMESTAMP`, MySQL's `DATETIME`).
    DateTime(time::PrimitiveDateTime),
    /// An instant (`TIMESTAMPTZ`, MySQL's `TIMESTAMP`); read back in UTC.
    Timestamp(time::OffsetDateTime),
}

impl Value {
    /// An exact decimal from its text, checked (`Value::decimal("12.50")`).
    pub fn decimal(text: impl Into<String>) -> Result<Self, InvalidDecimal> {
        let text = text.into();
        if super::numeric::is_decimal(&text) {
            Ok(Self::Decimal(text))
        } else {
            Err(InvalidDecimal(text))
        }
    }

    /// The kind of value, as named in errors and in the mapping table (`integer`, `text`...).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Null => "NULL",
            Self::Bool(_) => "bool",
            Self::Int(_) | Self::UInt(_) => "integer",
            Self::Float(_) => "float",
            Self::Decimal(_) => "decimal",
            Self::Text(_) => "text",
            Self::Bytes(_) => "bytes",
            Self::Json(_) => "JSON",
            Self::Uuid(_) => "UUID",
            Self::Date(_) => "date",
            Self::Time(_) => "time",
            Self::DateTime(_) => "date-time",
            Self::Timestamp(_) => "timestamp",
        }
    }

    /// The integer, if this is one that fits in an `i64` (an integral decimal such as `SUM`'s
    /// result counts; so do booleans, as MySQL and SQLite store them as 0 and 1).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Int(v) => Some(*v),
            Self::UInt(v) => i64::try_from(*v).ok(),
            Self::Bool(b) => Some(i64::from(*b)),
            Self::Decimal(d) => d.parse().ok(),
            _ => None,
        }
    }

    /// The integer, if this is a non-negative one.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Self::Int(v) => u64::try_from(*v).ok(),
            Self::UInt(v) => Some(*v),
            Self::Decimal(d) => d.parse().ok(),
            _ => None,
        }
    }

    /// The text, if this is text (or a decimal, whose text it is).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Text(t) | Self::Decimal(t) => Some(t),
            _ => None,
        }
    }

    /// The bytes, if this is bytes.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Self::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The number, if this is a number (decimals are rounded to the nearest `f64`).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Float(v) => Some(*v),
            Self::Int(v) => Some(*v as f64),
            Self::UInt(v) => Some(*v as f64),
            Self::Decimal(d) => d.parse().ok(),
            _ => None,
        }
    }

    /// The boolean, if this is one (integers 0 and 1 count, as MySQL and SQLite store booleans so).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            Self::Int(0) => Some(false),
            Self::Int(1) => Some(true),
            _ => None,
        }
    }

    /// The JSON document, if this is one, or text that parses as one (MariaDB's and SQLite's JSON
    /// columns are text).
    pub fn to_json(&self) -> Option<serde_json::Value> {
        match self {
            Self::Json(v) => Some(v.clone()),
            Self::Text(t) => serde_json::from_str(t).ok(),
            _ => None,
        }
    }

    /// The UUID, if this is one, or its text or 16 bytes (how MySQL and SQLite store UUIDs).
    pub fn as_uuid(&self) -> Option<uuid::Uuid> {
        match self {
            Self::Uuid(v) => Some(*v),
            Self::Text(t) => uuid::Uuid::try_parse(t).ok(),
            Self::Bytes(b) => uuid::Uuid::from_slice(b).ok(),
            _ => None,
        }
    }

    /// The date, if this is one.
    pub fn as_date(&self) -> Option<time::Date> {
        match self {
            Self::Date(v) => Some(*v),
            _ => None,
        }
    }

    /// The time of day, if this is one.
    pub fn as_time(&self) -> Option<time::Time> {
        match self {
            Self::Time(v) => Some(*v),
            _ => None,
        }
    }

    /// The date and time, if this is one.
    pub fn as_date_time(&self) -> Option<time::PrimitiveDateTime> {
        match self {
            Self::DateTime(v) => Some(*v),
            _ => None,
        }
    }

    /// The instant, if this is one.
    pub fn as_timestamp(&self) -> Option<time::OffsetDateTime> {
        match self {
            Self::Timestamp(v) => Some(*v),
            _ => None,
        }
    }

    /// Whether this is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }
}

/// Text given to [`Value::decimal`] that is not a plain decimal number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a decimal number (an optional sign, digits, optionally `.` and digits; no exponent)"
)]
pub struct InvalidDecimal(pub String);

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("NULL"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Int(v) => write!(f, "{v}"),
            Self::UInt(v) => write!(f, "{v}"),
            Self::Float(v) => write!(f, "{v}"),
            Self::Decimal(d) => f.write_str(d),
            Self::Text(t) => write!(f, "{t:?}"),
            Self::Bytes(b) => write!(f, "<{} bytes>", b.len()),
            Self::Json(v) => write!(f, "{v}"),
            Self::Uuid(v) => write!(f, "{v}"),
            Self::Date(v) => f.write_str(&super::codec::date_text(*v)),
            Self::Time(v) => f.write_str(&super::codec::time_text(*v)),
            Self::DateTime(v) => f.write_str(&super::codec::date_time_text(*v)),
            Self::Timestamp(v) => f.write_str(&super::codec::timestamp_text(*v)),
        }
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Self::Int(i64::from(v))
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32);

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        i64::try_from(v).map_or(Self::UInt(v), Self::Int)
    }
}

macro_rules! from_variant {
    ($($t:ty => $variant:ident),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Self::$variant(v)
            }
        }
    )*};
}
from_variant!(
    bool => Bool,
    f64 => Float,
    String => Text,
    Vec<u8> => Bytes,
    serde_json::Value => Json,
    uuid::Uuid => Uuid,
    time::Date => Date,
    time::Time => Time,
    time::PrimitiveDateTime => DateTime,
    time::OffsetDateTime => Timestamp,
);

impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Self::Float(f64::from(v))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Text(v.to_string())
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Self::Bytes(v.to_vec())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Into::into)
    }
}

/// One row returned by [`super::Context::fetch_all`].
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub(crate) columns: Arc<[String]>,
    pub(crate) values: Vec<Value>,
}

impl Row {
    /// The value of column `index` (0-based); `Null` past the end.
    pub fn get(&self, index: usize) -> &Value {
        self.values.get(index).unwrap_or(&Value::Null)
    }

    /// The value of the column named `name` (as the query names it); `None` if there is no such column.
    pub fn column(&self, name: &str) -> Option<&Value> {
        self.columns
            .iter()
            .position(|c| c == name)
            .map(|i| &self.values[i])
    }

    /// The column names.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The values, in column order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// The values, taken.
    pub fn into_values(self) -> Vec<Value> {
        self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_from_rust_values() {
        assert_eq!(Value::from(3_i32), Value::Int(3));
        assert_eq!(Value::from("a"), Value::Text("a".into()));
        assert_eq!(Value::from(None::<i64>), Value::Null);
        assert_eq!(Value::from(Some(2.5)), Value::Float(2.5));
        assert_eq!(Value::Int(1).as_bool(), Some(true));
    }

    #[test]
    fn every_integer_has_one_representation() {
        assert_eq!(Value::from(5_u64), Value::Int(5));
        assert_eq!(Value::from(i64::MAX as u64), Value::Int(i64::MAX));
        assert_eq!(
            Value::from(i64::MAX as u64 + 1),
            Value::UInt(i64::MAX as u64 + 1)
        );
        assert_eq!(Value::UInt(u64::MAX).as_u64(), Some(u64::MAX));
        assert_eq!(Value::UInt(u64::MAX).as_i64(), None);
        assert_eq!(Value::Decimal("15".into()).as_i64(), Some(15));
    }

    #[test]
    fn decimals_are_checked_when_built() {
        assert_eq!(
            Value::decimal("-12.50"),
            Ok(Value::Decimal("-12.50".into()))
        );
        assert!(Value::decimal("1e5").is_err());
        assert!(Value::decimal("").is_err());
        assert!(Value::decimal("1.").is_err());
    }
}
