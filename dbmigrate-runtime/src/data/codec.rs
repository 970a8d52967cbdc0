//! How each [`Value`] kind goes to and comes back from each backend: what a backend cannot store
//! (refused before anything is sent), how values are bound, how columns are read by their type, and
//! the text forms of dates and times where a backend keeps them as text.
//!
//! Columns are read by the type the database reports for them, never by trying Rust types in turn:
//! a type that could be read two ways (MySQL's `TINYINT(1)`, a SQLite `DATE` column) has one rule,
//! and no value is ever read into a kind that cannot hold it exactly.

// The helpers below are shared by the backends' codecs (`backend/*/codec.rs`), each using some:
// a build with one backend leaves the others' unused.
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code)
)]

use std::fmt::Write as _;
use std::sync::Arc;

use super::DataError;
use super::numeric;
use super::value::{Row, Value};
use crate::backend::Backend;

/// Why `value` cannot be stored on `backend` exactly, if it cannot. Checked before a statement is
/// sent, so nothing is stored changed (SQLite would store NaN as NULL) or half-written.
pub(crate) fn unstorable(value: &Value, backend: Backend) -> Option<String> {
    use crate::backend::dialect::Nan;
    let rules = backend.dialect().values;
    let sub_microsecond = |nanos: u32| !nanos.is_multiple_of(1_000) && !rules.sub_microsecond_times;
    match value {
        Value::Float(v) if v.is_nan() && rules.nan != Nan::Stored => Some(format!(
            "NaN cannot be stored on {backend} ({}); store NULL or a sentinel value instead",
            if rules.nan == Nan::BecomesNull {
                "it would silently store NULL, as SQLite does"
            } else {
                "it refuses NaN"
            }
        )),
        Value::Float(v) if v.is_infinite() && !rules.infinities => Some(format!(
            "{v} cannot be stored on {backend}, which refuses infinities; store NULL or a sentinel value instead"
        )),
        Value::UInt(v) if !rules.integers_above_i64 && i64::try_from(*v).is_err() => Some(format!(
            "{v} is above {backend}'s largest integer ({}); store it as text or as a decimal",
            i64::MAX
        )),
        Value::Decimal(d) if !numeric::is_decimal(d) => Some(format!(
            "`{d}` is not a decimal number (an optional sign, digits, optionally `.` and digits; no exponent)"
        )),
        Value::Decimal(d) if numeric::is_special(d) && !rules.special_decimals => Some(format!(
            "the decimal `{d}` exists only on PostgreSQL; {backend} cannot store it"
        )),
        Value::Text(t) if !rules.nul_in_text && t.contains('\0') => Some(format!(
            "{backend} text cannot hold the NUL character (U+0000); store such data as Bytes (BYTEA)"
        )),
        Value::Time(t) if sub_microsecond(t.nanosecond()) => Some(sub_microsecond_refusal(backend)),
        Value::DateTime(t) if sub_microsecond(t.nanosecond()) => {
            Some(sub_microsecond_refusal(backend))
        }
        Value::Timestamp(t) if sub_microsecond(t.nanosecond()) => {
            Some(sub_microsecond_refusal(backend))
        }
        Value::Date(d) if !rules.years_before_one && d.year() < 0 => Some(before_year_zero()),
        Value::DateTime(d) if !rules.years_before_one && d.year() < 0 => Some(before_year_zero()),
        Value::Timestamp(t)
            if !rules.years_before_one && t.to_offset(time::UtcOffset::UTC).year() < 0 =>
        {
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

pub(crate) mod text_forms {
    use time::format_description::BorrowedFormatItem;
    use time::macros::format_description;

    pub(crate) const DATE: &[BorrowedFormatItem<'_>] = format_description!("[year]-[month]-[day]");
    pub(crate) const TIME: &[BorrowedFormatItem<'_>] =
        format_description!("[hour]:[minute]:[second][optional [.[subsecond]]]");
    pub(crate) const DATE_TIME: &[BorrowedFormatItem<'_>] = format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    pub(crate) const TIMESTAMP: &[BorrowedFormatItem<'_>] = format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]][offset_hour sign:mandatory]:[offset_minute][optional [:[offset_second]]]"
    );
}

/// Binds each value with its backend's natural type (the table in the module documentation).
pub(crate) trait BindValues: Sized {
    fn bind_value(self, value: Value) -> Self;
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

pub(crate) fn column_names<R: sqlx::Row>(row: &R) -> Arc<[String]> {
    use sqlx::Column as _;
    row.columns().iter().map(|c| c.name().to_string()).collect()
}

pub(crate) fn unsupported(column: &str, type_name: &str, backend: Backend) -> DataError {
    DataError::UnsupportedType {
        column: column.to_string(),
        type_name: type_name.to_string(),
        backend,
    }
}

pub(crate) fn undecodable(
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

pub(crate) fn integer(value: i64, maybe_bool: bool) -> Value {
    match value {
        0 | 1 if maybe_bool => Value::Bool(value == 1),
        _ => Value::Int(value),
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
    }

    #[test]
    fn refuses_what_a_backend_would_change() {
        let nan = Value::Float(f64::NAN);
        assert!(unstorable(&nan, Backend::Postgres).is_none());
        assert!(
            unstorable(&nan, Backend::Sqlite)
                .unwrap()
                .contains("it would silently store NULL")
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
