//! Portable values: what data-step helpers bind as parameters and return as columns, the same on all
//! three backends.

use std::fmt;
use std::sync::Arc;

use super::DataError;

/// A parameter or column value.
///
/// Parameters are typed: text binds as text, integers as 64-bit integers. Where a column needs another
/// type, cast in SQL (`CAST(? AS DATE)`), which every backend understands. `Null` takes the type
/// the statement gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
}

impl Value {
    /// The integer, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Int(v) => Some(*v),
            Self::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    /// The text, if this is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The number, if this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Float(v) => Some(*v),
            Self::Int(v) => Some(*v as f64),
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

    /// Whether this is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("NULL"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Int(v) => write!(f, "{v}"),
            Self::Float(v) => write!(f, "{v}"),
            Self::Text(t) => write!(f, "{t:?}"),
            Self::Bytes(b) => write!(f, "<{} bytes>", b.len()),
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

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Self::Float(v)
    }
}

impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Self::Float(f64::from(v))
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Text(v.to_string())
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Self::Bytes(v)
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
    columns: Arc<[String]>,
    values: Vec<Value>,
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

/// A NULL whose type the database infers from the statement, as it does for a literal NULL.
#[cfg(feature = "postgres")]
struct UntypedNull;

#[cfg(feature = "postgres")]
impl sqlx::Type<sqlx::Postgres> for UntypedNull {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        // OID 0 leaves the parameter's type unspecified in Parse, so PostgreSQL infers it.
        sqlx::postgres::PgTypeInfo::with_oid(sqlx::postgres::types::Oid(0))
    }
}

#[cfg(feature = "postgres")]
impl sqlx::Encode<'_, sqlx::Postgres> for UntypedNull {
    fn encode_by_ref(
        &self,
        _: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, Box<dyn std::error::Error + Send + Sync>> {
        Ok(sqlx::encode::IsNull::Yes)
    }
}

/// Binds each value with its natural type, on any backend.
pub(crate) trait BindValues: Sized {
    fn bind_value(self, value: Value) -> Self;
}

macro_rules! bind_values_for {
    ($feature:literal, $db:ty, $null:expr) => {
        #[cfg(feature = $feature)]
        impl<'q> BindValues for sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments> {
            fn bind_value(self, value: Value) -> Self {
                match value {
                    Value::Null => self.bind($null),
                    Value::Bool(v) => self.bind(v),
                    Value::Int(v) => self.bind(v),
                    Value::Float(v) => self.bind(v),
                    Value::Text(v) => self.bind(v),
                    Value::Bytes(v) => self.bind(v),
                }
            }
        }
    };
}
bind_values_for!("postgres", sqlx::Postgres, UntypedNull);
bind_values_for!("mysql", sqlx::MySql, None::<String>);
bind_values_for!("sqlite", sqlx::Sqlite, None::<String>);

pub(crate) fn bind_all<Q: BindValues>(query: Q, params: impl IntoIterator<Item = Value>) -> Q {
    params.into_iter().fold(query, BindValues::bind_value)
}

/// Reads rows into portable values, column by column, by the database's type for the column.
pub(crate) trait DecodeRow {
    fn decode(&self, columns: &Arc<[String]>) -> Result<Row, DataError>;
    fn column_names(&self) -> Arc<[String]>;
}

macro_rules! decode_row_for {
    ($feature:literal, $row:ty, $db:ty) => {
        #[cfg(feature = $feature)]
        impl DecodeRow for $row {
            fn column_names(&self) -> Arc<[String]> {
                use sqlx::{Column as _, Row as _};
                self.columns()
                    .iter()
                    .map(|c| c.name().to_string())
                    .collect()
            }

            fn decode(&self, columns: &Arc<[String]>) -> Result<Row, DataError> {
                use sqlx::{Row as _, TypeInfo as _, ValueRef as _};
                let mut values = Vec::with_capacity(columns.len());
                for index in 0..columns.len() {
                    let raw = self
                        .try_get_raw(index)
                        .map_err(|e| DataError::Usage(e.to_string()))?;
                    if raw.is_null() {
                        values.push(Value::Null);
                        continue;
                    }
                    let type_name = raw.type_info().name().to_string();
                    // Try the portable types in order; the first the column's type accepts wins.
                    let value = if let Ok(v) = self.try_get::<i64, _>(index) {
                        Value::Int(v)
                    } else if let Ok(v) = self.try_get::<i32, _>(index) {
                        Value::Int(v.into())
                    } else if let Ok(v) = self.try_get::<i16, _>(index) {
                        Value::Int(v.into())
                    } else if let Ok(v) = self.try_get::<bool, _>(index) {
                        Value::Bool(v)
                    } else if let Ok(v) = self.try_get::<f64, _>(index) {
                        Value::Float(v)
                    } else if let Ok(v) = self.try_get::<f32, _>(index) {
                        Value::Float(v.into())
                    } else if let Ok(v) = self.try_get::<String, _>(index) {
                        Value::Text(v)
                    } else if let Ok(v) = self.try_get::<Vec<u8>, _>(index) {
                        Value::Bytes(v)
                    } else {
                        return Err(DataError::UnsupportedType {
                            column: columns[index].clone(),
                            type_name,
                        });
                    };
                    values.push(value);
                }
                Ok(Row {
                    columns: columns.clone(),
                    values,
                })
            }
        }
    };
}
decode_row_for!("postgres", sqlx::postgres::PgRow, sqlx::Postgres);
decode_row_for!("mysql", sqlx::mysql::MySqlRow, sqlx::MySql);
decode_row_for!("sqlite", sqlx::sqlite::SqliteRow, sqlx::Sqlite);

pub(crate) fn decode_rows<R: DecodeRow>(rows: &[R]) -> Result<Vec<Row>, DataError> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let columns = first.column_names();
    rows.iter().map(|row| row.decode(&columns)).collect()
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
}
