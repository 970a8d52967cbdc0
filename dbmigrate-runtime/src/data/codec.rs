//! How each [`Value`] kind goes to and comes back from each backend: what a backend cannot store
//! (refused before anything is sent), how values are bound, how columns are read by their type, and
//! the text forms of dates and times where a backend keeps them as text.
//!
//! Columns are read by the type the database reports for them, never by trying Rust types in turn:
//! a type that could be read two ways (MySQL's `TINYINT(1)`, a SQLite `DATE` column) has one rule,
//! and no value is ever read into a kind that cannot hold it exactly.

use std::fmt::Write as _;
use std::sync::Arc;

use super::DataError;
use super::numeric;
use super::value::{Row, Value};
use crate::backend::Backend;

/// Why `value` cannot be stored on `backend` exactly, if it cannot. Checked before a statement is
/// sent, so nothing is stored changed (SQLite would store NaN as NULL) or half-written.
pub(crate) fn unstorable(value: &Value, backend: Backend) -> Option<String> {
    use Backend::{MySql, Postgres, Sqlite};
    let sub_microsecond = |nanos: u32| !nanos.is_multiple_of(1_000) && backend != Sqlite;
    match value {
        Value::Float(v) if v.is_nan() && backend != Postgres => Some(format!(
            "NaN cannot be stored on {backend} ({}); store NULL or a sentinel value instead",
            if backend == Sqlite {
                "SQLite would silently store NULL"
            } else {
                "it refuses NaN"
            }
        )),
        Value::Float(v) if v.is_infinite() && backend == MySql => Some(format!(
            "{v} cannot be stored on MySQL/MariaDB, which refuses infinities; store NULL or a sentinel value instead"
        )),
        Value::UInt(v) if backend == Sqlite && i64::try_from(*v).is_err() => Some(format!(
            "{v} is above SQLite's largest integer ({}); store it as text or as a decimal",
            i64::MAX
        )),
        Value::Decimal(d) if !numeric::is_decimal(d) => Some(format!(
            "`{d}` is not a decimal number (an optional sign, digits, optionally `.` and digits; no exponent)"
        )),
        Value::Decimal(d) if numeric::is_special(d) && backend != Postgres => Some(format!(
            "the decimal `{d}` exists only on PostgreSQL; {backend} cannot store it"
        )),
        Value::Text(t) if backend == Postgres && t.contains('\0') => Some(
            "PostgreSQL text cannot hold the NUL character (U+0000); store such data as Bytes (BYTEA)"
                .to_string(),
        ),
        Value::Time(t) if sub_microsecond(t.nanosecond()) => Some(sub_microsecond_refusal(backend)),
        Value::DateTime(t) if sub_microsecond(t.nanosecond()) => {
            Some(sub_microsecond_refusal(backend))
        }
        Value::Timestamp(t) if sub_microsecond(t.nanosecond()) => {
            Some(sub_microsecond_refusal(backend))
        }
        Value::Date(d) if backend == MySql && d.year() < 0 => Some(before_year_zero()),
        Value::DateTime(d) if backend == MySql && d.year() < 0 => Some(before_year_zero()),
        Value::Timestamp(t) if backend == MySql && t.to_offset(time::UtcOffset::UTC).year() < 0 => {
            Some(before_year_zero())
        }
        _ => None,
    }
}

fn sub_microsecond_refusal(backend: Backend) -> String {
    format!(
        "{backend} keeps times to the microsecond and would drop the nanoseconds; round the value to microseconds first"
    )
}

fn before_year_zero() -> String {
    "MySQL/MariaDB has no dates before year 0".to_string()
}

/// A short code for the type each parameter is bound with on PostgreSQL. PostgreSQL prepares a
/// statement with its parameters' types once and sqlx reuses it by its text: the same text bound
/// later with other types would be read as the first types (an `f64` as an `int8`). The code, put
/// after the statement as a comment, gives each combination of types a statement of its own.
#[cfg(feature = "postgres")]
pub(crate) fn postgres_signature(params: &[Value]) -> String {
    let mut out = String::with_capacity(params.len() + 32);
    out.push_str("\n-- dbmigrate parameter types: ");
    out.extend(params.iter().map(|value| match value {
        Value::Null => 'n',
        Value::Bool(_) => 'b',
        Value::Int(_) => 'i',
        Value::UInt(v) if i64::try_from(*v).is_ok() => 'i',
        Value::UInt(_) | Value::Decimal(_) => 'd',
        Value::Float(_) => 'f',
        Value::Text(_) => 't',
        Value::Bytes(_) => 'y',
        Value::Json(_) => 'j',
        Value::Uuid(_) => 'u',
        Value::Date(_) => 'D',
        Value::Time(_) => 'T',
        Value::DateTime(_) => 'M',
        Value::Timestamp(_) => 'Z',
    }));
    out
}

// ---------------------------------------------------------------------------------------------
// Text forms of dates and times (SQLite stores them so; `Display` shows them so).

/// `2024-02-29`; a year before 1 is written with a minus sign (`-0044-03-15`).
pub(crate) fn date_text(date: time::Date) -> String {
    let (year, month, day) = (date.year(), u8::from(date.month()), date.day());
    if year < 0 {
        format!("-{:04}-{month:02}-{day:02}", -year)
    } else {
        format!("{year:04}-{month:02}-{day:02}")
    }
}

/// `13:05:09`, with as many fractional digits as the value needs (`13:05:09.25`).
pub(crate) fn time_text(time: time::Time) -> String {
    let mut out = format!(
        "{:02}:{:02}:{:02}",
        time.hour(),
        time.minute(),
        time.second()
    );
    let nanos = time.nanosecond();
    if nanos != 0 {
        let digits = format!("{nanos:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out
}

/// `2024-02-29 13:05:09.25`.
pub(crate) fn date_time_text(value: time::PrimitiveDateTime) -> String {
    format!("{} {}", date_text(value.date()), time_text(value.time()))
}

/// `2024-02-29 13:05:09.25+01:00`, in the value's own offset.
pub(crate) fn timestamp_text(value: time::OffsetDateTime) -> String {
    let offset = value.offset();
    let (hours, minutes, seconds) = offset.as_hms();
    let sign = if offset.is_negative() { '-' } else { '+' };
    let mut out = format!(
        "{} {}{sign}{:02}:{:02}",
        date_text(value.date()),
        time_text(value.time()),
        hours.unsigned_abs(),
        minutes.unsigned_abs()
    );
    if seconds != 0 {
        let _ = write!(out, ":{:02}", seconds.unsigned_abs());
    }
    out
}

mod text_forms {
    use time::format_description::BorrowedFormatItem;
    use time::macros::format_description;

    pub(super) const DATE: &[BorrowedFormatItem<'_>] = format_description!("[year]-[month]-[day]");
    pub(super) const TIME: &[BorrowedFormatItem<'_>] =
        format_description!("[hour]:[minute]:[second][optional [.[subsecond]]]");
    pub(super) const DATE_TIME: &[BorrowedFormatItem<'_>] = format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    pub(super) const TIMESTAMP: &[BorrowedFormatItem<'_>] = format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]][offset_hour sign:mandatory]:[offset_minute][optional [:[offset_second]]]"
    );
}

/// Text in a SQLite `DATE`, `TIME` or `DATETIME`/`TIMESTAMP` column, read as a date or time only
/// when it is exactly the text dbmigrate writes for one; any other text stays text, so reading a
/// value and binding it back always finds the row it came from.
fn sqlite_date_or_time(text: &str, declared: Declared) -> Option<Value> {
    let value = match declared {
        Declared::Date => Value::Date(time::Date::parse(text, text_forms::DATE).ok()?),
        Declared::Time => Value::Time(time::Time::parse(text, text_forms::TIME).ok()?),
        Declared::DateTime => time::OffsetDateTime::parse(text, text_forms::TIMESTAMP)
            .map(Value::Timestamp)
            .or_else(|_| {
                time::PrimitiveDateTime::parse(text, text_forms::DATE_TIME).map(Value::DateTime)
            })
            .ok()?,
        Declared::Bool | Declared::Other => return None,
    };
    let canonical = match &value {
        Value::Date(v) => date_text(*v),
        Value::Time(v) => time_text(*v),
        Value::DateTime(v) => date_time_text(*v),
        Value::Timestamp(v) => timestamp_text(*v),
        _ => return None,
    };
    (canonical == text).then_some(value)
}

// ---------------------------------------------------------------------------------------------
// Binding.

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
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        Ok(sqlx::encode::IsNull::Yes)
    }
}

/// An exact decimal as PostgreSQL's `NUMERIC`, in its binary form.
#[cfg(feature = "postgres")]
struct PgDecimal(String);

#[cfg(feature = "postgres")]
impl sqlx::Type<sqlx::Postgres> for PgDecimal {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        sqlx::postgres::PgTypeInfo::with_oid(sqlx::postgres::types::Oid(1700))
    }
}

#[cfg(feature = "postgres")]
impl sqlx::Encode<'_, sqlx::Postgres> for PgDecimal {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        numeric::encode(&self.0, buf)?;
        Ok(sqlx::encode::IsNull::No)
    }
}

#[cfg(feature = "postgres")]
impl<'r> sqlx::Decode<'r, sqlx::Postgres> for PgDecimal {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        match value.format() {
            sqlx::postgres::PgValueFormat::Binary => Ok(Self(numeric::decode(value.as_bytes()?)?)),
            sqlx::postgres::PgValueFormat::Text => Ok(Self(value.as_str()?.to_string())),
        }
    }
}

/// Binds each value with its backend's natural type (the table in the module documentation).
pub(crate) trait BindValues: Sized {
    fn bind_value(self, value: Value) -> Self;
}

#[cfg(feature = "postgres")]
impl<'q> BindValues for sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    fn bind_value(self, value: Value) -> Self {
        match value {
            Value::Null => self.bind(UntypedNull),
            Value::Bool(v) => self.bind(v),
            Value::Int(v) => self.bind(v),
            Value::UInt(v) => match i64::try_from(v) {
                Ok(v) => self.bind(v),
                Err(_) => self.bind(PgDecimal(v.to_string())),
            },
            Value::Float(v) => self.bind(v),
            Value::Decimal(v) => self.bind(PgDecimal(v)),
            Value::Text(v) => self.bind(v),
            Value::Bytes(v) => self.bind(v),
            Value::Json(v) => self.bind(sqlx::types::Json(v)),
            Value::Uuid(v) => self.bind(v),
            Value::Date(v) => self.bind(v),
            Value::Time(v) => self.bind(v),
            Value::DateTime(v) => self.bind(v),
            Value::Timestamp(v) => self.bind(v),
        }
    }
}

#[cfg(feature = "mysql")]
impl<'q> BindValues for sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments> {
    fn bind_value(self, value: Value) -> Self {
        match value {
            Value::Null => self.bind(None::<String>),
            Value::Bool(v) => self.bind(v),
            Value::Int(v) => self.bind(v),
            Value::UInt(v) => self.bind(v),
            Value::Float(v) => self.bind(v),
            // MySQL reads a string into a DECIMAL column exactly.
            Value::Decimal(v) | Value::Text(v) => self.bind(v),
            Value::Bytes(v) => self.bind(v),
            // As text: MariaDB's JSON is a text column, and MySQL parses text into JSON.
            Value::Json(v) => self.bind(v.to_string()),
            Value::Uuid(v) => self.bind(v.hyphenated().to_string()),
            Value::Date(v) => self.bind(v),
            Value::Time(v) => self.bind(v),
            Value::DateTime(v) => self.bind(v),
            Value::Timestamp(v) => self.bind(v),
        }
    }
}

#[cfg(feature = "sqlite")]
impl<'q> BindValues for sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    fn bind_value(self, value: Value) -> Self {
        match value {
            Value::Null => self.bind(None::<String>),
            Value::Bool(v) => self.bind(v),
            Value::Int(v) => self.bind(v),
            // Above i64::MAX it was refused before binding; text keeps the digits regardless.
            Value::UInt(v) => match i64::try_from(v) {
                Ok(v) => self.bind(v),
                Err(_) => self.bind(v.to_string()),
            },
            Value::Float(v) => self.bind(v),
            Value::Decimal(v) | Value::Text(v) => self.bind(v),
            Value::Bytes(v) => self.bind(v),
            Value::Json(v) => self.bind(v.to_string()),
            Value::Uuid(v) => self.bind(v.hyphenated().to_string()),
            Value::Date(v) => self.bind(date_text(v)),
            Value::Time(v) => self.bind(time_text(v)),
            Value::DateTime(v) => self.bind(date_time_text(v)),
            Value::Timestamp(v) => self.bind(timestamp_text(v)),
        }
    }
}

pub(crate) fn bind_all<Q: BindValues>(query: Q, params: impl IntoIterator<Item = Value>) -> Q {
    params.into_iter().fold(query, BindValues::bind_value)
}

// ---------------------------------------------------------------------------------------------
// Decoding.

/// How a column is read, decided once per result set from the type the database reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Bool,
    /// MySQL's `TINYINT(1)`, alias `BOOLEAN`: `Bool` for 0 and 1, `Int` for anything else it holds.
    MaybeBool,
    Int16,
    Int32,
    Int64,
    Oid,
    Unsigned,
    Float32,
    Float64,
    Decimal,
    Text,
    Bytes,
    Json,
    Uuid,
    Date,
    Time,
    DateTime,
    Timestamp,
    Void,
    Unsupported,
}

/// What a SQLite column was declared as, where that changes how its values read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Declared {
    Bool,
    Date,
    Time,
    DateTime,
    Other,
}

/// Reads rows into portable values.
pub(crate) trait DecodeRow: Sized {
    /// How each column is read, from the first row.
    type Plan;
    fn plan(&self) -> Self::Plan;
    fn column_names(&self) -> Arc<[String]>;
    fn decode(&self, plan: &Self::Plan, columns: &Arc<[String]>) -> Result<Row, DataError>;
}

pub(crate) fn decode_rows<R: DecodeRow>(rows: &[R]) -> Result<Vec<Row>, DataError> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let columns = first.column_names();
    let plan = first.plan();
    rows.iter().map(|row| row.decode(&plan, &columns)).collect()
}

fn column_names<R: sqlx::Row>(row: &R) -> Arc<[String]> {
    use sqlx::Column as _;
    row.columns().iter().map(|c| c.name().to_string()).collect()
}

fn unsupported(column: &str, type_name: &str, backend: Backend) -> DataError {
    DataError::UnsupportedType {
        column: column.to_string(),
        type_name: type_name.to_string(),
        backend,
    }
}

fn undecodable(
    column: &str,
    type_name: &str,
    backend: Backend,
    reason: impl std::fmt::Display,
) -> DataError {
    DataError::Undecodable {
        column: column.to_string(),
        type_name: type_name.to_string(),
        backend,
        reason: reason.to_string(),
    }
}

fn integer(value: i64, maybe_bool: bool) -> Value {
    match value {
        0 | 1 if maybe_bool => Value::Bool(value == 1),
        _ => Value::Int(value),
    }
}

#[cfg(feature = "postgres")]
fn postgres_kind(ty: &sqlx::postgres::PgTypeInfo) -> Kind {
    use sqlx::TypeInfo as _;
    use sqlx::postgres::PgTypeKind;
    match ty.kind() {
        PgTypeKind::Enum(_) => return Kind::Text,
        PgTypeKind::Domain(base) => return postgres_kind(base),
        _ => {}
    }
    match ty.name() {
        "BOOL" => Kind::Bool,
        "INT2" => Kind::Int16,
        "INT4" => Kind::Int32,
        "INT8" => Kind::Int64,
        "OID" => Kind::Oid,
        "FLOAT4" => Kind::Float32,
        "FLOAT8" => Kind::Float64,
        "NUMERIC" => Kind::Decimal,
        "TEXT" | "VARCHAR" | "CHAR" | "NAME" | "UNKNOWN" => Kind::Text,
        name if name.eq_ignore_ascii_case("citext") => Kind::Text,
        "BYTEA" => Kind::Bytes,
        "JSON" | "JSONB" => Kind::Json,
        "UUID" => Kind::Uuid,
        "DATE" => Kind::Date,
        "TIME" => Kind::Time,
        "TIMESTAMP" => Kind::DateTime,
        "TIMESTAMPTZ" => Kind::Timestamp,
        "VOID" => Kind::Void,
        _ => Kind::Unsupported,
    }
}

#[cfg(feature = "postgres")]
impl DecodeRow for sqlx::postgres::PgRow {
    type Plan = Vec<Kind>;

    fn plan(&self) -> Vec<Kind> {
        use sqlx::{Column as _, Row as _};
        self.columns()
            .iter()
            .map(|c| postgres_kind(c.type_info()))
            .collect()
    }

    fn column_names(&self) -> Arc<[String]> {
        column_names(self)
    }

    fn decode(&self, plan: &Vec<Kind>, columns: &Arc<[String]>) -> Result<Row, DataError> {
        use sqlx::postgres::Postgres;
        use sqlx::{Column as _, Decode, Row as _, TypeInfo as _, ValueRef as _};
        let mut values = Vec::with_capacity(plan.len());
        for (index, &kind) in plan.iter().enumerate() {
            let raw = self
                .try_get_raw(index)
                .map_err(|e| DataError::Usage(e.to_string()))?;
            if raw.is_null() {
                values.push(Value::Null);
                continue;
            }
            let column = &columns[index];
            let type_name = || self.columns()[index].type_info().name().to_string();
            if kind == Kind::Unsupported {
                return Err(unsupported(column, &type_name(), Backend::Postgres));
            }
            let failed = |reason| undecodable(column, &type_name(), Backend::Postgres, reason);
            let value = match kind {
                Kind::Bool => <bool as Decode<Postgres>>::decode(raw).map(Value::Bool),
                Kind::Int16 => <i16 as Decode<Postgres>>::decode(raw).map(|v| Value::Int(v.into())),
                Kind::Int32 => <i32 as Decode<Postgres>>::decode(raw).map(|v| Value::Int(v.into())),
                Kind::Int64 => <i64 as Decode<Postgres>>::decode(raw).map(Value::Int),
                Kind::Oid => <sqlx::postgres::types::Oid as Decode<Postgres>>::decode(raw)
                    .map(|v| Value::Int(v.0.into())),
                Kind::Float32 => {
                    <f32 as Decode<Postgres>>::decode(raw).map(|v| Value::Float(v.into()))
                }
                Kind::Float64 => <f64 as Decode<Postgres>>::decode(raw).map(Value::Float),
                Kind::Decimal => {
                    <PgDecimal as Decode<Postgres>>::decode(raw).map(|v| Value::Decimal(v.0))
                }
                Kind::Text => <String as Decode<Postgres>>::decode(raw).map(Value::Text),
                Kind::Bytes => <Vec<u8> as Decode<Postgres>>::decode(raw).map(Value::Bytes),
                Kind::Json => {
                    <sqlx::types::Json<serde_json::Value> as Decode<Postgres>>::decode(raw)
                        .map(|v| Value::Json(v.0))
                }
                Kind::Uuid => <uuid::Uuid as Decode<Postgres>>::decode(raw).map(Value::Uuid),
                Kind::Date => <time::Date as Decode<Postgres>>::decode(raw).map(Value::Date),
                Kind::Time => <time::Time as Decode<Postgres>>::decode(raw).map(Value::Time),
                Kind::DateTime => {
                    <time::PrimitiveDateTime as Decode<Postgres>>::decode(raw).map(Value::DateTime)
                }
                Kind::Timestamp => {
                    <time::OffsetDateTime as Decode<Postgres>>::decode(raw).map(Value::Timestamp)
                }
                Kind::Void => Ok(Value::Null),
                Kind::MaybeBool | Kind::Unsigned | Kind::Unsupported => {
                    unreachable!("not a PostgreSQL kind")
                }
            };
            values.push(value.map_err(failed)?);
        }
        Ok(Row {
            columns: columns.clone(),
            values,
        })
    }
}

#[cfg(feature = "mysql")]
fn mysql_kind(ty: &sqlx::mysql::MySqlTypeInfo) -> Kind {
    use sqlx::{MySql, Type, TypeInfo as _};
    match ty.name() {
        "BIT" | "YEAR" => Kind::Unsigned,
        "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "BOOLEAN"
        | "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED"
        | "BIGINT UNSIGNED" => {
            if <u64 as Type<MySql>>::compatible(ty) {
                Kind::Unsigned
            } else if ty.name() == "BOOLEAN" {
                Kind::MaybeBool
            } else {
                Kind::Int64
            }
        }
        "FLOAT" => Kind::Float32,
        "DOUBLE" => Kind::Float64,
        "DECIMAL" => Kind::Decimal,
        "JSON" => Kind::Json,
        "DATE" => Kind::Date,
        "TIME" => Kind::Time,
        "DATETIME" => Kind::DateTime,
        "TIMESTAMP" => Kind::Timestamp,
        "NULL" => Kind::Void,
        "CHAR" | "VARCHAR" | "TINYTEXT" | "TEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM" | "SET"
        | "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" => {
            // A string column is text unless its collation is `binary` (sqlx's own rule for
            // `String`); a `_bin` collation is still text.
            if <str as Type<MySql>>::compatible(ty) {
                Kind::Text
            } else {
                Kind::Bytes
            }
        }
        _ => Kind::Unsupported,
    }
}

#[cfg(feature = "mysql")]
impl DecodeRow for sqlx::mysql::MySqlRow {
    type Plan = Vec<Kind>;

    fn plan(&self) -> Vec<Kind> {
        use sqlx::{Column as _, Row as _};
        self.columns()
            .iter()
            .map(|c| mysql_kind(c.type_info()))
            .collect()
    }

    fn column_names(&self) -> Arc<[String]> {
        column_names(self)
    }

    fn decode(&self, plan: &Vec<Kind>, columns: &Arc<[String]>) -> Result<Row, DataError> {
        use sqlx::mysql::MySql;
        use sqlx::{Column as _, Decode, Row as _, TypeInfo as _, ValueRef as _};
        let mut values = Vec::with_capacity(plan.len());
        for (index, &kind) in plan.iter().enumerate() {
            let raw = self
                .try_get_raw(index)
                .map_err(|e| DataError::Usage(e.to_string()))?;
            if raw.is_null() {
                values.push(Value::Null);
                continue;
            }
            let column = &columns[index];
            let type_name = || self.columns()[index].type_info().name().to_string();
            if kind == Kind::Unsupported {
                return Err(unsupported(column, &type_name(), Backend::MySql));
            }
            let failed = |reason| undecodable(column, &type_name(), Backend::MySql, reason);
            let value = match kind {
                Kind::Int64 => <i64 as Decode<MySql>>::decode(raw).map(Value::Int),
                Kind::MaybeBool => <i64 as Decode<MySql>>::decode(raw).map(|v| integer(v, true)),
                Kind::Unsigned => <u64 as Decode<MySql>>::decode(raw).map(Value::from),
                Kind::Float32 => {
                    <f32 as Decode<MySql>>::decode(raw).map(|v| Value::Float(v.into()))
                }
                Kind::Float64 => <f64 as Decode<MySql>>::decode(raw).map(Value::Float),
                Kind::Decimal => <String as Decode<MySql>>::decode(raw).map(Value::Decimal),
                Kind::Text => <String as Decode<MySql>>::decode(raw).map(Value::Text),
                Kind::Bytes => <Vec<u8> as Decode<MySql>>::decode(raw).map(Value::Bytes),
                Kind::Json => <sqlx::types::Json<serde_json::Value> as Decode<MySql>>::decode(raw)
                    .map(|v| Value::Json(v.0)),
                Kind::Date => <time::Date as Decode<MySql>>::decode(raw).map(Value::Date),
                Kind::Time => <time::Time as Decode<MySql>>::decode(raw).map(Value::Time),
                Kind::DateTime => {
                    <time::PrimitiveDateTime as Decode<MySql>>::decode(raw).map(Value::DateTime)
                }
                Kind::Timestamp => {
                    <time::OffsetDateTime as Decode<MySql>>::decode(raw).map(Value::Timestamp)
                }
                Kind::Void => Ok(Value::Null),
                Kind::Bool
                | Kind::Int16
                | Kind::Int32
                | Kind::Oid
                | Kind::Uuid
                | Kind::Unsupported => unreachable!("not a MySQL kind"),
            };
            values.push(value.map_err(failed)?);
        }
        Ok(Row {
            columns: columns.clone(),
            values,
        })
    }
}

#[cfg(feature = "sqlite")]
fn sqlite_declared(ty: &sqlx::sqlite::SqliteTypeInfo) -> Declared {
    use sqlx::TypeInfo as _;
    match ty.name() {
        "BOOLEAN" => Declared::Bool,
        "DATE" => Declared::Date,
        "TIME" => Declared::Time,
        "DATETIME" => Declared::DateTime,
        _ => Declared::Other,
    }
}

#[cfg(feature = "sqlite")]
impl DecodeRow for sqlx::sqlite::SqliteRow {
    type Plan = Vec<Declared>;

    fn plan(&self) -> Vec<Declared> {
        use sqlx::{Column as _, Row as _};
        self.columns()
            .iter()
            .map(|c| sqlite_declared(c.type_info()))
            .collect()
    }

    fn column_names(&self) -> Arc<[String]> {
        column_names(self)
    }

    fn decode(&self, plan: &Vec<Declared>, columns: &Arc<[String]>) -> Result<Row, DataError> {
        use sqlx::sqlite::Sqlite;
        use sqlx::{Decode, Row as _, TypeInfo as _, ValueRef as _};
        let mut values = Vec::with_capacity(plan.len());
        for (index, &declared) in plan.iter().enumerate() {
            let raw = self
                .try_get_raw(index)
                .map_err(|e| DataError::Usage(e.to_string()))?;
            let column = &columns[index];
            // A NULL's type info is the column's declared type, so ask first.
            if raw.is_null() {
                values.push(Value::Null);
                continue;
            }
            // SQLite types values, not columns: read each by its storage class.
            let storage: &'static str = match raw.type_info().name() {
                "INTEGER" => "INTEGER",
                "REAL" => "REAL",
                "TEXT" => "TEXT",
                "BLOB" => "BLOB",
                _ => "unknown",
            };
            let failed = |reason| undecodable(column, storage, Backend::Sqlite, reason);
            let value = match storage {
                "INTEGER" => <i64 as Decode<Sqlite>>::decode(raw)
                    .map(|v| integer(v, declared == Declared::Bool)),
                "REAL" => <f64 as Decode<Sqlite>>::decode(raw).map(Value::Float),
                "TEXT" => <String as Decode<Sqlite>>::decode(raw)
                    .map(|text| sqlite_date_or_time(&text, declared).unwrap_or(Value::Text(text))),
                "BLOB" => <Vec<u8> as Decode<Sqlite>>::decode(raw).map(Value::Bytes),
                other => return Err(unsupported(column, other, Backend::Sqlite)),
            };
            values.push(value.map_err(failed)?);
        }
        Ok(Row {
            columns: columns.clone(),
            values,
        })
    }
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime, time};

    use super::*;

    #[test]
    fn date_and_time_text_is_exact_and_read_back_only_when_canonical() {
        assert_eq!(date_text(date!(2024 - 02 - 29)), "2024-02-29");
        let ides = time::Date::from_calendar_date(-44, time::Month::March, 15).unwrap();
        assert_eq!(date_text(ides), "-0044-03-15");
        assert_eq!(time_text(time!(13:05:09.25)), "13:05:09.25");
        assert_eq!(time_text(time!(0:00)), "00:00:00");
        assert_eq!(
            timestamp_text(datetime!(2024-01-02 03:04:05.000006 -05:30)),
            "2024-01-02 03:04:05.000006-05:30"
        );
        for (text, declared) in [
            ("2024-02-29", Declared::Date),
            ("-0044-03-15", Declared::Date),
            ("13:05:09.25", Declared::Time),
            ("2024-02-29 13:05:09", Declared::DateTime),
            ("2024-02-29 13:05:09.123456789+01:00", Declared::DateTime),
        ] {
            let value = sqlite_date_or_time(text, declared).expect(text);
            assert_eq!(value.to_string(), text);
        }
        for (text, declared) in [
            ("2024-2-29", Declared::Date),
            ("2024-02-29T13:05:09", Declared::DateTime),
            ("13:05:09.250", Declared::Time),
            ("yesterday", Declared::Date),
            ("2024-02-29", Declared::Other),
        ] {
            assert_eq!(sqlite_date_or_time(text, declared), None, "{text}");
        }
    }

    #[test]
    fn refuses_what_a_backend_would_change() {
        let nan = Value::Float(f64::NAN);
        assert!(unstorable(&nan, Backend::Postgres).is_none());
        assert!(
            unstorable(&nan, Backend::Sqlite)
                .unwrap()
                .contains("SQLite would silently store NULL")
        );
        assert!(unstorable(&nan, Backend::MySql).is_some());
        assert!(unstorable(&Value::Float(f64::INFINITY), Backend::MySql).is_some());
        assert!(unstorable(&Value::Float(f64::INFINITY), Backend::Sqlite).is_none());
        assert!(unstorable(&Value::UInt(u64::MAX), Backend::Sqlite).is_some());
        assert!(unstorable(&Value::UInt(u64::MAX), Backend::Postgres).is_none());
        assert!(unstorable(&Value::Decimal("NaN".into()), Backend::MySql).is_some());
        assert!(unstorable(&Value::Text("a\0b".into()), Backend::Postgres).is_some());
        assert!(unstorable(&Value::Text("a\0b".into()), Backend::MySql).is_none());
        let nanos = Value::Time(time!(1:02:03.000000001));
        assert!(unstorable(&nanos, Backend::Postgres).is_some());
        assert!(unstorable(&nanos, Backend::Sqlite).is_none());
    }
}
