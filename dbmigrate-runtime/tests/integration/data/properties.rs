//! Round-trip properties on every backend (proptest):
//!
//! - rows of every kind of `Value`, edge values included (NULL, empty, NUL bytes, COPY's escapes,
//!   non-ASCII, extremes, NaN, ±infinity, -0.0, BC dates, nanoseconds), go in through `bulk_insert`
//!   and through `execute`, and come back through `fetch_all` equal to what was written, or changed
//!   only as the data module documents, or refused before anything was sent, naming the row and
//!   column (or the parameter);
//! - tables with random keys (NULLs, duplicates, gaps, text, unsigned, decimals, near the extremes)
//!   and random filters are backfilled, and exactly the selected rows change, once each, with the
//!   report counting them.
//!
//! Every edge value is tried on its own first, then `DBMIGRATE_PROPTEST_CASES` random cases (16 by
//! default, so the suite stays fast; `cargo xtask data` runs many more). A failure is shrunk and
//! printed with the seed (`DBMIGRATE_PROPTEST_SEED` replays it). With `DBMIGRATE_DATA_REPORT` set to
//! a directory, each test writes what it covered there, for RELIABILITY.md.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Instant;

use dbmigrate_runtime::Backend;
use dbmigrate_runtime::data::{Context, DataError, StepFuture, Value};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use serde_json::json;
use time::macros::{date, datetime, time};
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use super::run_step;
use crate::support::on_every_backend;

/// The columns of the round-trip table, one per kind of value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Col {
    Bool,
    Int,
    UInt,
    Float,
    Decimal,
    Text,
    Bytes,
    Json,
    Uuid,
    Date,
    Time,
    DateTime,
    Timestamp,
}

const COLUMNS: [Col; 13] = [
    Col::Bool,
    Col::Int,
    Col::UInt,
    Col::Float,
    Col::Decimal,
    Col::Text,
    Col::Bytes,
    Col::Json,
    Col::Uuid,
    Col::Date,
    Col::Time,
    Col::DateTime,
    Col::Timestamp,
];

impl Col {
    fn name(self) -> &'static str {
        match self {
            Col::Bool => "b",
            Col::Int => "i",
            Col::UInt => "u",
            Col::Float => "f",
            Col::Decimal => "d",
            Col::Text => "t",
            Col::Bytes => "y",
            Col::Json => "j",
            Col::Uuid => "g",
            Col::Date => "dt",
            Col::Time => "tm",
            Col::DateTime => "ldt",
            Col::Timestamp => "ts",
        }
    }

    /// The kind as the data module's mapping table names it.
    fn kind(self) -> &'static str {
        match self {
            Col::Bool => "Bool",
            Col::Int => "Int",
            Col::UInt => "UInt (u64)",
            Col::Float => "Float",
            Col::Decimal => "Decimal",
            Col::Text => "Text",
            Col::Bytes => "Bytes",
            Col::Json => "Json",
            Col::Uuid => "Uuid",
            Col::Date => "Date",
            Col::Time => "Time",
            Col::DateTime => "DateTime",
            Col::Timestamp => "Timestamp",
        }
    }

    fn sql_type(self, backend: Backend) -> &'static str {
        use Backend::{MySql, Postgres, Sqlite};
        match (self, backend) {
            (Col::Bool, _) => "BOOLEAN",
            (Col::Int, Sqlite) => "INTEGER",
            (Col::Int, _) => "BIGINT",
            (Col::UInt, Postgres) => "NUMERIC(20, 0)",
            (Col::UInt, MySql) => "BIGINT UNSIGNED",
            (Col::UInt, Sqlite) => "INTEGER",
            (Col::Float, MySql) => "DOUBLE",
            (Col::Float, Postgres) => "DOUBLE PRECISION",
            (Col::Float, Sqlite) => "REAL",
            (Col::Decimal, Postgres) => "NUMERIC",
            (Col::Decimal, MySql) => "DECIMAL(65, 30)",
            (Col::Text, MySql) => "LONGTEXT",
            (Col::Json, Postgres) => "JSONB",
            (Col::Json, MySql) => "JSON",
            (Col::Uuid, Postgres) => "UUID",
            (Col::Uuid, MySql) => "CHAR(36)",
            (Col::Decimal | Col::Text | Col::Json | Col::Uuid, _) => "TEXT",
            (Col::Bytes, Postgres) => "BYTEA",
            (Col::Bytes, MySql) => "LONGBLOB",
            (Col::Bytes, Sqlite) => "BLOB",
            (Col::Date, _) => "DATE",
            (Col::Time, MySql) => "TIME(6)",
            (Col::Time, _) => "TIME",
            (Col::DateTime, Postgres) => "TIMESTAMP",
            (Col::DateTime, MySql) => "DATETIME(6)",
            (Col::DateTime, Sqlite) => "DATETIME",
            (Col::Timestamp, Postgres) => "TIMESTAMPTZ",
            (Col::Timestamp, MySql) => "TIMESTAMP(6) NULL",
            (Col::Timestamp, Sqlite) => "TIMESTAMP",
        }
    }
}

fn round_trip_schema(backend: Backend) -> String {
    let columns: Vec<String> = COLUMNS
        .iter()
        .map(|c| format!("{} {}", c.name(), c.sql_type(backend)))
        .collect();
    format!(
        "CREATE TABLE rt (id INTEGER PRIMARY KEY, {});\n",
        columns.join(", ")
    )
}

/// A value and the name of the edge it is (`random` for a random one).
#[derive(Clone)]
struct Cell {
    value: Value,
    label: &'static str,
}

impl std::fmt::Debug for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&short(&self.value))
    }
}

fn year_range(backend: Backend) -> std::ops::RangeInclusive<i32> {
    match backend {
        // PostgreSQL's dates start in 4714 BC; a few years before MySQL's year 0 are tried there to
        // check the refusal.
        Backend::MySql => -3..=9998,
        _ => -4712..=9998,
    }
}

/// The edge values of a column, named.
fn edges(col: Col, backend: Backend) -> Vec<(&'static str, Value)> {
    let text = |s: &str| Value::Text(s.to_string());
    let decimal = |s: &str| Value::Decimal(s.to_string());
    let nines = format!("{}.{}", "9".repeat(35), "9".repeat(30));
    let mysql = backend == Backend::MySql;
    match col {
        Col::Bool => vec![("true", true.into()), ("false", false.into())],
        Col::Int => vec![
            ("0", 0.into()),
            ("-1", (-1).into()),
            ("i64::MIN", i64::MIN.into()),
            ("i64::MAX", i64::MAX.into()),
            ("2^53 + 1 (beyond f64)", ((1_i64 << 53) + 1).into()),
        ],
        Col::UInt => vec![
            ("0", 0_u64.into()),
            ("i64::MAX", (i64::MAX as u64).into()),
            ("i64::MAX + 1", (i64::MAX as u64 + 1).into()),
            ("u64::MAX", u64::MAX.into()),
        ],
        Col::Float => vec![
            ("0.0", 0.0.into()),
            ("-0.0", (-0.0).into()),
            ("NaN", f64::NAN.into()),
            ("+infinity", f64::INFINITY.into()),
            ("-infinity", f64::NEG_INFINITY.into()),
            ("smallest normal", f64::MIN_POSITIVE.into()),
            ("smallest subnormal", 5e-324.into()),
            ("f64::MAX", f64::MAX.into()),
            ("f64::MIN", f64::MIN.into()),
            ("0.1", 0.1.into()),
        ],
        Col::Decimal => vec![
            ("0", decimal("0")),
            ("0.000 (zero with a scale)", decimal("0.000")),
            ("-0.001", decimal("-0.001")),
            ("1.10 (trailing zero)", decimal("1.10")),
            ("007 (leading zeros)", decimal("007")),
            ("+7", decimal("+7")),
            ("-0.00 (negative zero)", decimal("-0.00")),
            ("65 digits", Value::Decimal(nines.clone())),
            ("-65 digits", Value::Decimal(format!("-{nines}"))),
            ("1e-30", decimal("0.000000000000000000000000000001")),
            ("NaN", decimal("NaN")),
            ("Infinity", decimal("Infinity")),
            ("-Infinity", decimal("-Infinity")),
        ],
        Col::Text => vec![
            ("empty", text("")),
            ("NUL", text("\0")),
            ("NUL inside", text("a\0b")),
            (
                "COPY escapes (tab, newline, CR, backslash)",
                text("\t\n\r\\ \\t"),
            ),
            ("COPY's NULL marker \\N", text("\\N")),
            ("quotes and comment marks", text("'\"`;-- /*")),
            ("non-ASCII", text("héllo, 日本, 🎉")),
            ("trailing spaces", text("x   ")),
            ("1 MiB", Value::Text("abcdefgh".repeat(1 << 17))),
        ],
        Col::Bytes => vec![
            ("empty", Value::Bytes(Vec::new())),
            ("NUL", Value::Bytes(vec![0])),
            ("every byte", Value::Bytes((0..=255).collect())),
            ("COPY's NULL marker \\N", Value::Bytes(b"\\N".to_vec())),
            ("256 KiB", Value::Bytes(vec![0xA5; 1 << 18])),
        ],
        Col::Json => vec![
            ("null", json!(null).into()),
            ("true", json!(true).into()),
            ("empty object", json!({}).into()),
            ("empty array", json!([]).into()),
            (
                "nested",
                json!({"a": [1, {"b": null, "c": [true, "x"]}], "d": {}}).into(),
            ),
            (
                "escapes and non-ASCII",
                json!("quote \" backslash \\ newline \n tab \t é 🎉").into(),
            ),
            ("i64::MAX", json!(i64::MAX).into()),
            ("-1.5", json!(-1.5).into()),
            ("20 levels deep", {
                let mut v = json!(1);
                for _ in 0..20 {
                    v = json!([v]);
                }
                v.into()
            }),
        ],
        Col::Uuid => vec![
            ("nil", uuid::Uuid::nil().into()),
            ("max", uuid::Uuid::max().into()),
            (
                "version 4",
                uuid::Uuid::from_u128(0x9b2d_8f3c_5a1e_4c7b_9f0d_1234_5678_9abc).into(),
            ),
        ],
        Col::Date => vec![
            ("leap day", date!(2024 - 02 - 29).into()),
            ("year 1", date!(0001 - 01 - 01).into()),
            ("9999-12-31", date!(9999 - 12 - 31).into()),
            ("Unix epoch", date!(1970 - 01 - 01).into()),
            (
                "year 0 (1 BC)",
                Date::from_calendar_date(0, time::Month::June, 15)
                    .unwrap()
                    .into(),
            ),
            (
                "44 BC",
                Date::from_calendar_date(-43, time::Month::March, 15)
                    .unwrap()
                    .into(),
            ),
            (
                "PostgreSQL's first year (4713 BC)",
                Date::from_calendar_date(-4712, time::Month::January, 1)
                    .unwrap()
                    .into(),
            ),
        ],
        Col::Time => vec![
            ("midnight", time!(0:00).into()),
            ("last microsecond", time!(23:59:59.999999).into()),
            ("half a second", time!(12:00:00.5).into()),
            ("a nanosecond", time!(0:00:00.000000001).into()),
        ],
        Col::DateTime => vec![
            (
                "leap second's neighbour",
                datetime!(2016-12-31 23:59:59.999999).into(),
            ),
            ("year 1", datetime!(0001-01-01 00:00).into()),
            (
                "last microsecond of 9999",
                datetime!(9999-12-31 23:59:59.999999).into(),
            ),
            (
                "44 BC",
                PrimitiveDateTime::new(
                    Date::from_calendar_date(-43, time::Month::March, 15).unwrap(),
                    time!(12:00),
                )
                .into(),
            ),
            (
                "a nanosecond",
                datetime!(2024-01-01 00:00:00.000000001).into(),
            ),
        ],
        Col::Timestamp if mysql => vec![
            (
                "first TIMESTAMP (1970-01-01 00:00:01 UTC)",
                datetime!(1970-01-01 00:00:01 UTC).into(),
            ),
            (
                "last TIMESTAMP (2038-01-19 03:14:07.999999 UTC)",
                datetime!(2038-01-19 03:14:07.999999 UTC).into(),
            ),
            ("offset +14:00", datetime!(2024-06-01 12:00 +14:00).into()),
            ("offset -12:30", datetime!(2024-06-01 12:00 -12:30).into()),
            (
                "a nanosecond",
                datetime!(2024-06-01 12:00:00.000000001 UTC).into(),
            ),
        ],
        Col::Timestamp => vec![
            ("Unix epoch", datetime!(1970-01-01 00:00 UTC).into()),
            ("offset +14:00", datetime!(2024-06-01 12:00 +14:00).into()),
            ("offset -12:30", datetime!(2024-06-01 12:00 -12:30).into()),
            ("year 1", datetime!(0001-01-02 00:00 UTC).into()),
            (
                "year 9998",
                datetime!(9998-12-31 23:59:59.999999 UTC).into(),
            ),
            (
                "a nanosecond",
                datetime!(2024-06-01 12:00:00.000000001 UTC).into(),
            ),
        ],
    }
}

fn json_leaf() -> BoxedStrategy<serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        // jsonb refuses \u0000 in strings (documented), so the strings here have none.
        "[^\u{0}]{0,12}".prop_map(serde_json::Value::from),
    ]
    .boxed()
}

fn random_json() -> BoxedStrategy<serde_json::Value> {
    json_leaf()
        .prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                proptest::collection::btree_map("[a-z]{0,4}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
        .boxed()
}

fn random_time() -> BoxedStrategy<Time> {
    (0_u8..24, 0_u8..60, 0_u8..60, 0_u32..1_000_000, 0_u32..10)
        .prop_map(|(h, m, s, micros, nanos_sometimes)| {
            let nanos = micros * 1000 + if nanos_sometimes == 0 { 7 } else { 0 };
            Time::from_hms_nano(h, m, s, nanos).unwrap()
        })
        .boxed()
}

fn random_date(backend: Backend) -> BoxedStrategy<Date> {
    (year_range(backend), 1_u16..=365)
        .prop_map(|(year, day)| Date::from_ordinal_date(year, day).unwrap())
        .boxed()
}

/// A random value of a column's kind.
fn random(col: Col, backend: Backend) -> BoxedStrategy<Value> {
    match col {
        Col::Bool => any::<bool>().prop_map(Value::from).boxed(),
        Col::Int => prop_oneof![any::<i64>(), -3_i64..3]
            .prop_map(Value::from)
            .boxed(),
        Col::UInt => any::<u64>().prop_map(Value::from).boxed(),
        Col::Float => any::<f64>().prop_map(Value::from).boxed(),
        Col::Decimal => "-?[0-9]{1,35}(\\.[0-9]{1,30})?"
            .prop_map(Value::Decimal)
            .boxed(),
        Col::Text => prop_oneof![any::<String>(), "[\\x00-\\x7f]{0,24}"]
            .prop_map(Value::Text)
            .boxed(),
        Col::Bytes => proptest::collection::vec(any::<u8>(), 0..64)
            .prop_map(Value::Bytes)
            .boxed(),
        Col::Json => random_json().prop_map(Value::Json).boxed(),
        Col::Uuid => any::<u128>()
            .prop_map(|n| Value::Uuid(uuid::Uuid::from_u128(n)))
            .boxed(),
        Col::Date => random_date(backend).prop_map(Value::Date).boxed(),
        Col::Time => random_time().prop_map(Value::Time).boxed(),
        Col::DateTime => (random_date(backend), random_time())
            .prop_map(|(d, t)| Value::DateTime(PrimitiveDateTime::new(d, t)))
            .boxed(),
        Col::Timestamp if backend == Backend::MySql => {
            // MySQL's TIMESTAMP holds 1970-01-01 00:00:01 to 2038-01-19 03:14:07 UTC.
            (1_i64..2_147_483_647, 0_u32..1_000_000, -50_400_i32..=50_400)
                .prop_map(|(seconds, micros, offset)| {
                    let offset = UtcOffset::from_whole_seconds(offset / 60 * 60).unwrap();
                    let at = OffsetDateTime::from_unix_timestamp(seconds).unwrap()
                        + time::Duration::microseconds(i64::from(micros));
                    Value::Timestamp(at.to_offset(offset))
                })
                .boxed()
        }
        Col::Timestamp => (random_date(backend), random_time(), -50_400_i32..=50_400)
            .prop_filter(
                "a year PostgreSQL and the time crate both hold after the offset",
                |(d, _, _)| d.year() > -4712 && d.year() < 9998,
            )
            .prop_map(|(d, t, offset)| {
                let offset = UtcOffset::from_whole_seconds(offset / 60 * 60).unwrap();
                Value::Timestamp(PrimitiveDateTime::new(d, t).assume_offset(offset))
            })
            .boxed(),
    }
}

fn cell(col: Col, backend: Backend) -> BoxedStrategy<Cell> {
    let edge_values = edges(col, backend)
        .into_iter()
        // The large edges are tried once each, not in random rows.
        .filter(|(label, _)| !label.contains("MiB") && !label.contains("KiB"))
        .map(|(label, value)| Cell { value, label })
        .collect::<Vec<_>>();
    prop_oneof![
        1 => Just(Cell { value: Value::Null, label: "NULL" }),
        3 => proptest::sample::select(edge_values),
        6 => random(col, backend).prop_map(|value| Cell { value, label: "random" }),
    ]
    .boxed()
}

fn case(backend: Backend) -> impl Strategy<Value = Vec<Vec<Cell>>> {
    let row: Vec<BoxedStrategy<Cell>> = COLUMNS.iter().map(|c| cell(*c, backend)).collect();
    proptest::collection::vec(row, 1..=8)
}

/// What a value should read back as on a backend, from the data module's mapping table.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// Read back as this value (equal to the one written unless `note` says how it changes).
    Same(Value, Option<&'static str>),
    /// Refused before anything is sent.
    Refused,
}

fn expect(backend: Backend, col: Col, value: &Value) -> Expect {
    use Backend::{MySql, Postgres, Sqlite};
    let same = |v: &Value| Expect::Same(v.clone(), None);
    let sub_microsecond = |nanos: u32| !nanos.is_multiple_of(1000) && backend != Sqlite;
    match (col, value) {
        (_, Value::Null) => same(value),
        (Col::UInt, v) => match (backend, v) {
            (Sqlite, Value::UInt(_)) => Expect::Refused,
            (Postgres, v) => Expect::Same(
                Value::Decimal(v.as_u64().unwrap().to_string()),
                Some("reads back as Decimal (NUMERIC)"),
            ),
            _ => same(v),
        },
        (Col::Float, Value::Float(x)) => {
            if x.is_nan() && backend != Postgres || x.is_infinite() && backend == MySql {
                Expect::Refused
            } else if *x == 0.0 && x.is_sign_negative() && backend != Postgres {
                Expect::Same(Value::Float(0.0), Some("reads back as 0.0"))
            } else {
                same(value)
            }
        }
        (Col::Decimal, Value::Decimal(text)) => {
            let special = ["NaN", "Infinity", "-Infinity"].contains(&text.as_str());
            match backend {
                _ if special && backend != Postgres => Expect::Refused,
                Postgres if special => same(value),
                Postgres => {
                    let printed = decimal_as_printed(text, None);
                    let note = (printed != *text).then_some("reads back as PostgreSQL prints it");
                    Expect::Same(Value::Decimal(printed), note)
                }
                MySql => Expect::Same(
                    Value::Decimal(decimal_as_printed(text, Some(30))),
                    Some("reads back padded to DECIMAL(65, 30)'s scale"),
                ),
                Sqlite => Expect::Same(Value::Text(text.clone()), Some("reads back as Text")),
            }
        }
        (Col::Text, Value::Text(text)) if backend == Postgres && text.contains('\0') => {
            Expect::Refused
        }
        (Col::Json, Value::Json(_)) if backend == MySql => Expect::Same(
            value.clone(),
            Some("equal as JSON (MariaDB's JSON is text, and reads back as Text)"),
        ),
        (Col::Json, Value::Json(_)) if backend == Sqlite => Expect::Same(
            Value::Text(value.to_json().unwrap().to_string()),
            Some("reads back as Text"),
        ),
        (Col::Uuid, Value::Uuid(u)) if backend != Postgres => Expect::Same(
            Value::Text(u.hyphenated().to_string()),
            Some("reads back as Text"),
        ),
        (Col::Date, Value::Date(d)) if backend == MySql && d.year() < 0 => Expect::Refused,
        (Col::Time, Value::Time(t)) if sub_microsecond(t.nanosecond()) => Expect::Refused,
        (Col::DateTime, Value::DateTime(t))
            if sub_microsecond(t.nanosecond()) || backend == MySql && t.year() < 0 =>
        {
            Expect::Refused
        }
        (Col::Timestamp, Value::Timestamp(t)) if sub_microsecond(t.nanosecond()) => Expect::Refused,
        (Col::Timestamp, Value::Timestamp(t)) if backend != Sqlite && !t.offset().is_utc() => {
            Expect::Same(value.clone(), Some("reads back in UTC (the same instant)"))
        }
        _ => same(value),
    }
}

/// A decimal as the database prints it: no `+`, no leading zeros, no negative zero, and (with a
/// scale) the fraction padded to it.
fn decimal_as_printed(text: &str, scale: Option<usize>) -> String {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
    let whole = whole.trim_start_matches('0');
    let whole = if whole.is_empty() { "0" } else { whole };
    let mut fraction = fraction.to_string();
    if let Some(scale) = scale {
        while fraction.len() < scale {
            fraction.push('0');
        }
    }
    let zero = whole == "0" && fraction.bytes().all(|b| b == b'0');
    let mut out = String::new();
    if negative && !zero {
        out.push('-');
    }
    out.push_str(whole);
    if !fraction.is_empty() {
        out.push('.');
        out.push_str(&fraction);
    }
    out
}

/// Whether `got` is what `want` says, floats compared bit for bit (NaN equal to NaN), JSON read
/// back as text (MariaDB's JSON columns) compared as JSON.
fn matches(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Float(a), Value::Float(b)) => {
            a.to_bits() == b.to_bits() || a.is_nan() && b.is_nan()
        }
        (Value::Text(_), Value::Json(json)) => got.to_json().as_ref() == Some(json),
        _ => got == want,
    }
}

fn short(value: &Value) -> String {
    let text = format!("{value:?}");
    if text.len() > 120 {
        format!("{}... ({} characters)", &text[..120], text.len())
    } else {
        text
    }
}

/// What each edge value did on a backend: `exact`, `refused`, or the documented change.
#[derive(Default, Debug)]
struct Coverage {
    edges: BTreeMap<(Col, &'static str), BTreeSet<String>>,
    random_values: BTreeMap<Col, u64>,
    cases: u64,
    rows: u64,
}

impl Coverage {
    fn record(&mut self, col: Col, cell: &Cell, outcome: &Expect) {
        if cell.label == "random" {
            *self.random_values.entry(col).or_default() += 1;
            return;
        }
        let outcome = match outcome {
            Expect::Refused => "refused".to_string(),
            Expect::Same(_, None) => "exact".to_string(),
            Expect::Same(_, Some(note)) => (*note).to_string(),
        };
        self.edges
            .entry((col, cell.label))
            .or_default()
            .insert(outcome);
    }
}

#[derive(Debug, Clone, Copy)]
enum Path {
    BulkInsert,
    Execute,
}

/// Writes `rows` through `path` and reads them back; `Err` says how they differ from the model.
async fn round_trip(
    cx: &mut Context<'_>,
    rows: &[Vec<Cell>],
    path: Path,
    coverage: Option<&mut Coverage>,
) -> Result<(), String> {
    let backend = cx.backend();
    let database = |e: DataError| format!("unexpected error: {e}");
    cx.execute("DELETE FROM rt", &[]).await.map_err(database)?;
    let names: Vec<&str> = std::iter::once("id")
        .chain(COLUMNS.iter().map(|c| c.name()))
        .collect();
    let expected: Vec<Vec<Expect>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .zip(COLUMNS)
                .map(|(cell, col)| expect(backend, col, &cell.value))
                .collect()
        })
        .collect();
    let values = |index: usize, row: &[Cell]| -> Vec<Value> {
        std::iter::once(Value::from(index as i64 + 1))
            .chain(row.iter().map(|c| c.value.clone()))
            .collect()
    };
    let first_refused = |row: &[Expect]| row.iter().position(|e| *e == Expect::Refused);
    let mut stored: Vec<usize> = Vec::new();
    match path {
        Path::BulkInsert => {
            let refusal = expected
                .iter()
                .enumerate()
                .find_map(|(r, row)| first_refused(row).map(|c| (r, c)));
            let result = cx
                .bulk_insert(
                    "rt",
                    &names,
                    rows.iter().enumerate().map(|(i, row)| values(i, row)),
                )
                .await;
            match (refusal, result) {
                (None, Ok(count)) if count == rows.len() as u64 => {
                    stored = (0..rows.len()).collect()
                }
                (Some((r, c)), Err(error))
                    if error.to_string().starts_with(&format!(
                        "row {}, column {}, of the bulk insert: ",
                        r + 1,
                        COLUMNS[c].name()
                    )) => {}
                (refusal, result) => {
                    return Err(format!(
                        "bulk_insert: expected {}, got {result:?}",
                        match refusal {
                            None => "every row inserted".to_string(),
                            Some((r, c)) =>
                                format!("row {} refused at column {}", r + 1, COLUMNS[c].name()),
                        }
                    ));
                }
            }
        }
        Path::Execute => {
            let sql = format!(
                "INSERT INTO rt ({}) VALUES ({})",
                names.join(", "),
                vec!["?"; names.len()].join(", ")
            );
            for (index, row) in rows.iter().enumerate() {
                let result = cx.execute(&sql, &values(index, row)).await;
                match (first_refused(&expected[index]), result) {
                    (None, Ok(1)) => stored.push(index),
                    (Some(c), Err(error))
                        if error
                            .to_string()
                            .starts_with(&format!("parameter {}: ", c + 2)) => {}
                    (refusal, result) => {
                        return Err(format!(
                            "execute of row {}: expected {}, got {result:?}",
                            index + 1,
                            match refusal {
                                None => "the row inserted".to_string(),
                                Some(c) => format!("a refusal of parameter {}", c + 2),
                            }
                        ));
                    }
                }
            }
        }
    }
    let read = cx
        .fetch_all(
            &format!("SELECT {} FROM rt ORDER BY id", names.join(", ")),
            &[],
        )
        .await
        .map_err(database)?;
    if read.len() != stored.len() {
        return Err(format!(
            "{} rows stored, {} read back",
            stored.len(),
            read.len()
        ));
    }
    for (got, &index) in read.iter().zip(&stored) {
        for (c, col) in COLUMNS.iter().enumerate() {
            let Expect::Same(want, _) = &expected[index][c] else {
                unreachable!("a refused row is not stored")
            };
            let value = got.get(c + 1);
            if !matches(value, want) {
                return Err(format!(
                    "{path:?}: row {}, column {} ({}): wrote {}, expected {}, read back {}",
                    index + 1,
                    col.name(),
                    col.kind(),
                    short(&rows[index][c].value),
                    short(want),
                    short(value)
                ));
            }
        }
    }
    if let Some(coverage) = coverage {
        for (row, expected) in rows.iter().zip(&expected) {
            for ((cell, col), outcome) in row.iter().zip(COLUMNS).zip(expected) {
                coverage.record(col, cell, outcome);
            }
        }
    }
    Ok(())
}

fn cases_to_run() -> u32 {
    std::env::var("DBMIGRATE_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16)
}

fn seed() -> u64 {
    std::env::var("DBMIGRATE_PROPTEST_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        })
}

fn runner(seed: u64) -> TestRunner {
    let mut bytes = [0_u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases: cases_to_run(),
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// Runs `check` on random values of `strategy` with proptest, which shrinks a failure to a smallest
/// failing value. Each check runs the database work to completion on this thread: a step's future
/// must be `Send`, and proptest's value trees are not, so they never live across an `.await`.
fn property<S: Strategy>(
    seed: u64,
    strategy: &S,
    check: impl Fn(S::Value) -> Result<(), String>,
) -> Result<(), String> {
    let mut runner = runner(seed);
    tokio::task::block_in_place(|| {
        runner.run(strategy, |value| check(value).map_err(TestCaseError::fail))
    })
    .map_err(|error| match error {
        TestError::Fail(reason, value) => format!(
            "{reason}\n  smallest failing input: {value:?}\n  (seed {seed}; replay with DBMIGRATE_PROPTEST_SEED={seed})"
        ),
        TestError::Abort(reason) => format!("proptest aborted: {reason}"),
    })
}

/// The reports the steps leave for their tests, by backend.
static REPORTS: Mutex<Vec<(Backend, &'static str, serde_json::Value)>> = Mutex::new(Vec::new());

fn leave_report(backend: Backend, name: &'static str, report: serde_json::Value) {
    REPORTS.lock().unwrap().push((backend, name, report));
}

/// Writes the report a step left into `DBMIGRATE_DATA_REPORT`, if set.
fn write_report(backend: Backend, name: &'static str) {
    let mut reports = REPORTS.lock().unwrap();
    let Some(index) = reports
        .iter()
        .position(|(b, n, _)| *b == backend && *n == name)
    else {
        panic!("the {name} step left no report");
    };
    let (_, _, report) = reports.remove(index);
    if let Some(dir) = std::env::var_os("DBMIGRATE_DATA_REPORT") {
        let path = std::path::Path::new(&dir).join(format!("{}-{name}.json", backend.name()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    }
}

fn round_trips<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        let backend = cx.backend();
        let started = Instant::now();
        let mut coverage = Coverage::default();
        // Every edge value on its own, through both paths.
        for col in COLUMNS {
            for (label, value) in edges(col, backend) {
                let row: Vec<Cell> = COLUMNS
                    .iter()
                    .map(|c| Cell {
                        value: if *c == col {
                            value.clone()
                        } else {
                            Value::Null
                        },
                        label: if *c == col { label } else { "NULL" },
                    })
                    .collect();
                for path in [Path::BulkInsert, Path::Execute] {
                    round_trip(cx, std::slice::from_ref(&row), path, Some(&mut coverage))
                        .await
                        .map_err(|e| format!("{backend}, edge {label:?} of {}: {e}", col.kind()))?;
                }
            }
        }
        // Then random rows, shrunk to a smallest failing case if one fails.
        let seed = seed();
        let handle = tokio::runtime::Handle::current();
        // Lent to one check at a time (proptest's checks are `Fn`), and taken back after it.
        let state = std::cell::Cell::new(Some((cx, coverage)));
        let result = property(seed, &case(backend), |rows| {
            let (cx, mut coverage) = state.take().expect("one check at a time");
            let result = handle.block_on(async {
                for path in [Path::BulkInsert, Path::Execute] {
                    round_trip(cx, &rows, path, Some(&mut coverage)).await?;
                }
                coverage.cases += 1;
                coverage.rows += rows.len() as u64;
                Ok(())
            });
            state.set(Some((cx, coverage)));
            result
        });
        result.map_err(|e| format!("{backend}: round trip failed: {e}"))?;
        let (_, coverage) = state.take().expect("the checks are over");
        let edges: BTreeMap<String, BTreeMap<&str, Vec<String>>> =
            COLUMNS.iter().fold(BTreeMap::new(), |mut out, col| {
                let labels = coverage
                    .edges
                    .iter()
                    .filter(|((c, _), _)| c == col)
                    .map(|((_, label), outcomes)| (*label, outcomes.iter().cloned().collect()))
                    .collect();
                out.insert(format!("{:02} {}", *col as u8, col.kind()), labels);
                out
            });
        let random: BTreeMap<String, u64> = coverage
            .random_values
            .iter()
            .map(|(col, n)| (col.kind().to_string(), *n))
            .collect();
        leave_report(
            backend,
            "round-trip",
            json!({
                "backend": backend.to_string(),
                "seed": seed,
                "cases": coverage.cases,
                "rows": coverage.rows,
                "edges": edges,
                "random_values": random,
                "column_types": COLUMNS.iter().map(|c| (c.kind(), c.sql_type(backend))).collect::<BTreeMap<_, _>>(),
                "seconds": started.elapsed().as_secs_f64(),
            }),
        );
        Ok(())
    })
}

on_every_backend! {
    /// Every kind of value, edge values included, comes back as written, as documented, or is
    /// refused by name; through `bulk_insert` and through `execute`.
    async fn every_value_round_trips_or_is_refused_as_documented(db) {
        run_step(&db, &round_trip_schema(db.backend), round_trips, true).await.unwrap();
        write_report(db.backend, "round-trip");
    }
}

// ---------------------------------------------------------------------------------------------
// Backfills.

/// The key kinds backfills are walked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum KeyKind {
    Integer,
    Unsigned,
    Text,
    Decimal,
    DateTime,
}

const KEY_KINDS: [KeyKind; 5] = [
    KeyKind::Integer,
    KeyKind::Unsigned,
    KeyKind::Text,
    KeyKind::Decimal,
    KeyKind::DateTime,
];

impl KeyKind {
    fn table(self) -> &'static str {
        match self {
            KeyKind::Integer => "bf_integer",
            KeyKind::Unsigned => "bf_unsigned",
            KeyKind::Text => "bf_text",
            KeyKind::Decimal => "bf_decimal",
            KeyKind::DateTime => "bf_datetime",
        }
    }

    fn sql_type(self, backend: Backend) -> &'static str {
        use Backend::{MySql, Postgres, Sqlite};
        match (self, backend) {
            (KeyKind::Integer, _) => "BIGINT",
            (KeyKind::Unsigned, MySql) => "BIGINT UNSIGNED",
            (KeyKind::Unsigned, Postgres) => "NUMERIC(20, 0)",
            (KeyKind::Unsigned, Sqlite) => "INTEGER",
            (KeyKind::Text, _) => "VARCHAR(40)",
            (KeyKind::Decimal, Sqlite) => "TEXT",
            (KeyKind::Decimal, _) => "DECIMAL(40, 20)",
            (KeyKind::DateTime, Postgres) => "TIMESTAMP",
            (KeyKind::DateTime, MySql) => "DATETIME(6)",
            (KeyKind::DateTime, Sqlite) => "DATETIME",
        }
    }

    fn key(self, backend: Backend) -> BoxedStrategy<Value> {
        match self {
            KeyKind::Integer => prop_oneof![
                2 => -4_i64..8,
                1 => proptest::sample::select(vec![i64::MIN, i64::MIN + 1, -1, 0, i64::MAX - 1, i64::MAX]),
                1 => any::<i64>(),
            ]
            .prop_map(Value::from)
            .boxed(),
            KeyKind::Unsigned => {
                let top = if backend == Backend::Sqlite {
                    i64::MAX as u64
                } else {
                    u64::MAX
                };
                prop_oneof![
                    2 => 0_u64..8,
                    1 => proptest::sample::select(vec![0, i64::MAX as u64 - 1, i64::MAX as u64, top - 1, top]),
                    1 => 0..=top,
                ]
                .prop_map(Value::from)
                .boxed()
            }
            KeyKind::Text => prop_oneof![
                2 => proptest::sample::select(vec!["", "a", "A", "a ", "b", "B", "é", "e", "z", "10", "9"])
                    .prop_map(String::from),
                1 => "[^\u{0}]{0,10}",
            ]
            .prop_map(Value::Text)
            .boxed(),
            KeyKind::Decimal => prop_oneof![
                2 => proptest::sample::select(vec![
                    "0", "-1.5", "0.10000000000000000001", "0.10000000000000000002", "10000000000000000000",
                ])
                .prop_map(String::from),
                1 => "-?[0-9]{1,19}\\.[0-9]{1,20}",
            ]
            .prop_map(move |s| {
                if backend == Backend::Sqlite {
                    Value::Text(s)
                } else {
                    Value::Decimal(s)
                }
            })
            .boxed(),
            KeyKind::DateTime => (0_i64..40, 0_u32..3)
                .prop_map(|(seconds, micros)| {
                    Value::DateTime(
                        datetime!(2024-01-01 00:00)
                            + time::Duration::seconds(seconds)
                            + time::Duration::microseconds(i64::from(micros)),
                    )
                })
                .boxed(),
        }
    }
}

fn backfill_schema(backend: Backend) -> String {
    KEY_KINDS
        .iter()
        .map(|kind| {
            format!(
                "CREATE TABLE {} (id INTEGER PRIMARY KEY, k {}, sel INTEGER NOT NULL, hits INTEGER NOT NULL DEFAULT 0);\n",
                kind.table(),
                kind.sql_type(backend)
            )
        })
        .collect()
}

/// What the backfill cases of one key kind covered.
#[derive(Debug, Default)]
struct Counts {
    cases: u64,
    rows: u64,
    null_keys: u64,
    duplicate_keys: u64,
    filtered_cases: u64,
}

#[derive(Debug, Clone)]
struct BackfillCase {
    kind: KeyKind,
    /// Each row's key (None for NULL) and whether the filter selects it.
    rows: Vec<(Option<Value>, bool)>,
    filtered: bool,
    batch_size: u64,
}

fn backfill_case(backend: Backend) -> impl Strategy<Value = BackfillCase> {
    proptest::sample::select(KEY_KINDS.to_vec()).prop_flat_map(move |kind| {
        (
            proptest::collection::vec(
                (
                    proptest::option::weighted(0.8, kind.key(backend)),
                    any::<bool>(),
                ),
                0..=30,
            ),
            any::<bool>(),
            1_u64..=8,
        )
            .prop_map(move |(rows, filtered, batch_size)| BackfillCase {
                kind,
                rows,
                filtered,
                batch_size,
            })
    })
}

async fn backfill_once(cx: &mut Context<'_>, case: &BackfillCase) -> Result<(), String> {
    let unexpected = |e: DataError| format!("unexpected error: {e}");
    let table = case.kind.table();
    cx.execute(&format!("DELETE FROM {table}"), &[])
        .await
        .map_err(unexpected)?;
    let rows = case.rows.iter().enumerate().map(|(i, (key, sel))| {
        [
            Value::from(i as i64 + 1),
            key.clone().unwrap_or(Value::Null),
            Value::from(i64::from(*sel)),
        ]
    });
    cx.bulk_insert(table, &["id", "k", "sel"], rows)
        .await
        .map_err(unexpected)?;
    let mut backfill = cx
        .backfill(table, "k", "hits = hits + 1")
        .batch_size(case.batch_size);
    if case.filtered {
        backfill = backfill.filter("sel = 1");
    }
    let report = backfill.run().await.map_err(unexpected)?;
    let read = cx
        .fetch_all(&format!("SELECT id, hits FROM {table} ORDER BY id"), &[])
        .await
        .map_err(unexpected)?;
    let selected = |sel: bool| !case.filtered || sel;
    let expected: Vec<i64> = case
        .rows
        .iter()
        .map(|(_, sel)| i64::from(selected(*sel)))
        .collect();
    let hits: Vec<i64> = read.iter().map(|r| r.get(1).as_i64().unwrap()).collect();
    if hits != expected {
        return Err(format!("hits per row {hits:?}, expected {expected:?}"));
    }
    let count = expected.iter().sum::<i64>() as u64;
    if report.rows != count {
        return Err(format!(
            "the report counts {} rows, {count} changed",
            report.rows
        ));
    }
    Ok(())
}

fn backfills<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        let backend = cx.backend();
        let started = Instant::now();
        let seed = seed();
        let handle = tokio::runtime::Handle::current();
        // Lent to one check at a time (proptest's checks are `Fn`), and taken back after it.
        let state = std::cell::Cell::new(Some(cx));
        let seen: RefCell<HashMap<KeyKind, Counts>> = RefCell::default();
        let result = property(seed, &backfill_case(backend), |case| {
            let cx = state.take().expect("one check at a time");
            let result = handle.block_on(backfill_once(cx, &case));
            state.set(Some(cx));
            result?;
            let mut seen = seen.borrow_mut();
            let counts = seen.entry(case.kind).or_default();
            counts.cases += 1;
            counts.rows += case.rows.len() as u64;
            counts.null_keys += case.rows.iter().filter(|(k, _)| k.is_none()).count() as u64;
            let keys: Vec<String> = case
                .rows
                .iter()
                .filter_map(|(k, _)| k.as_ref().map(|k| format!("{k:?}")))
                .collect();
            let distinct: BTreeSet<&String> = keys.iter().collect();
            counts.duplicate_keys += (keys.len() - distinct.len()) as u64;
            counts.filtered_cases += u64::from(case.filtered);
            Ok(())
        });
        result.map_err(|e| format!("{backend}: backfill failed: {e}"))?;
        let seen = seen.into_inner();
        let kinds: BTreeMap<String, serde_json::Value> = seen
            .iter()
            .map(|(kind, counts)| {
                (
                    format!("{kind:?}"),
                    json!({
                        "column_type": kind.sql_type(backend),
                        "cases": counts.cases,
                        "rows": counts.rows,
                        "null_keys": counts.null_keys,
                        "duplicate_keys": counts.duplicate_keys,
                        "filtered_cases": counts.filtered_cases,
                    }),
                )
            })
            .collect();
        leave_report(
            backend,
            "backfill",
            json!({
                "backend": backend.to_string(),
                "seed": seed,
                "kinds": kinds,
                "seconds": started.elapsed().as_secs_f64(),
            }),
        );
        Ok(())
    })
}

on_every_backend! {
    /// Random keys and filters: exactly the selected rows change, once each, and the report counts them.
    async fn a_backfill_changes_exactly_the_selected_rows_once(db) {
        run_step(&db, &backfill_schema(db.backend), backfills, true).await.unwrap();
        write_report(db.backend, "backfill");
    }
}
