//! Bulk inserts for data steps: `COPY ... FROM STDIN` on PostgreSQL, multi-row `INSERT` batches
//! elsewhere; all rows or none.

use std::sync::Arc;
use std::time::Instant;

use super::codec;
use super::identifier::Name;
use super::value::Value;
use super::{Context, DataError};
use crate::backend::Backend;

/// Rows between progress reports.
const REPORT_EVERY: u64 = 100_000;

/// The target of a bulk insert, its names checked and quoted.
struct Target<'a> {
    /// The table as the caller wrote it, for messages.
    table: &'a str,
    /// `"schema"."table" ("a", "b")`.
    sql: String,
    /// The columns as the caller wrote them, for messages.
    columns: &'a [&'a str],
}

impl<'a> Target<'a> {
    fn new(table: &'a str, columns: &'a [&'a str], backend: Backend) -> Result<Self, DataError> {
        let name = Name::table(table, backend)?;
        if columns.is_empty() {
            return Err(DataError::Usage(
                "bulk_insert needs at least one column".into(),
            ));
        }
        let mut names: Vec<Name> = Vec::with_capacity(columns.len());
        for column in columns {
            let column_name = Name::column(column, backend)?;
            if let Some(earlier) = names.iter().position(|n| n.same_column(column_name.last())) {
                return Err(DataError::Usage(format!(
                    "bulk_insert into {table} names column `{column}` twice (as `{}` and `{column}`); \
                     each column takes one value per row, so name it once",
                    columns[earlier]
                )));
            }
            names.push(column_name);
        }
        let list: Vec<String> = names.iter().map(Name::sql).collect();
        Ok(Self {
            table,
            sql: format!("{} ({})", name.sql(), list.join(", ")),
            columns,
        })
    }

    /// Checks one row: its width, and that the backend can store each value exactly.
    fn check(&self, row: u64, values: &[Value], backend: Backend) -> Result<(), DataError> {
        if values.len() != self.columns.len() {
            return Err(DataError::Usage(format!(
                "row {row} of the bulk insert into {} has {} values, but {} columns were named",
                self.table,
                values.len(),
                self.columns.len()
            )));
        }
        for (value, column) in values.iter().zip(self.columns) {
            if let Some(reason) = codec::unstorable(value, backend) {
                return Err(DataError::Unstorable {
                    row: Some(row),
                    column: Some((*column).to_string()),
                    parameter: None,
                    reason,
                });
            }
        }
        Ok(())
    }
}

pub(super) async fn insert<I, R>(
    cx: &mut Context<'_>,
    table: &str,
    columns: &[&str],
    rows: I,
) -> Result<u64, DataError>
where
    I: Iterator<Item = R> + Send,
    R: AsRef<[Value]> + Send,
{
    let target = Target::new(table, columns, cx.backend())?;
    let task = format!("bulk insert into {table}");
    // An iterator that knows its length gives progress an end to measure against.
    let total = match rows.size_hint() {
        (lower, Some(upper)) if lower == upper => u64::try_from(lower).ok(),
        _ => None,
    };
    let backend = cx.backend();
    let copies = cx.conn.dialect().copy_from_stdin;
    // All rows or none, and the connection usable afterwards, wherever the step runs: where each
    // statement would commit on its own, a failure at row 1,501 would leave the first batch behind
    // (and a rerun would insert it twice), so the insert takes a transaction of its own (a COPY is
    // one statement already); inside the step's transaction, a savepoint undoes the rows already
    // sent and, on PostgreSQL, the failed COPY, so a caller that handles the error can go on.
    let (open, commit, undo): (
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
    ) = if !cx.autocommitting() {
        (
            "SAVEPOINT dbmigrate_bulk_insert",
            &["RELEASE SAVEPOINT dbmigrate_bulk_insert"],
            &[
                "ROLLBACK TO SAVEPOINT dbmigrate_bulk_insert",
                "RELEASE SAVEPOINT dbmigrate_bulk_insert",
            ],
        )
    } else if copies {
        ("", &[], &[])
    } else {
        (backend.begin_statement(), &["COMMIT"], &["ROLLBACK"])
    };
    if !open.is_empty() {
        cx.control(open).await?;
    }
    #[cfg(feature = "postgres")]
    let result = if copies {
        copy_in(cx, &task, &target, rows, total).await
    } else {
        insert_batches(cx, &task, &target, rows, total).await
    };
    #[cfg(not(feature = "postgres"))]
    let result = insert_batches(cx, &task, &target, rows, total).await;
    match result {
        Ok(count) => {
            for statement in commit {
                cx.control(statement).await?;
            }
            Ok(count)
        }
        Err(error) => {
            for statement in undo {
                let _ = cx.control(statement).await;
            }
            Err(error)
        }
    }
}

/// PostgreSQL: one `COPY` in text format, sent in chunks of about a megabyte. One statement, so
/// all rows or none even outside a transaction.
#[cfg(feature = "postgres")]
async fn copy_in<I, R>(
    cx: &mut Context<'_>,
    task: &str,
    target: &Target<'_>,
    rows: I,
    total: Option<u64>,
) -> Result<u64, DataError>
where
    I: Iterator<Item = R> + Send,
    R: AsRef<[Value]> + Send,
{
    const CHUNK: usize = 1 << 20;
    let statement = format!("COPY {} FROM STDIN", target.sql);
    let database = |source| DataError::Database {
        statement: statement.clone(),
        source,
    };
    let started = Instant::now();
    let backend = cx.backend();
    let progress = cx.progress_sink();
    let Some(conn) = cx.conn.as_postgres() else {
        unreachable!("only PostgreSQL's dialect copies from stdin");
    };
    let mut copy = conn.copy_in_raw(&statement).await.map_err(database)?;
    let mut buffer = Vec::with_capacity(CHUNK + 4096);
    let mut count: u64 = 0;
    let mut failure = None;
    for row in rows {
        let values = row.as_ref();
        if let Err(error) = target.check(count + 1, values, backend) {
            failure = Some(error);
            break;
        }
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                buffer.push(b'\t');
            }
            copy_text(value, &mut buffer);
        }
        buffer.push(b'\n');
        count += 1;
        if buffer.len() >= CHUNK {
            if let Err(error) = copy.send(std::mem::take(&mut buffer)).await {
                failure = Some(copy_failure(target, error, count));
                break;
            }
            buffer = Vec::with_capacity(CHUNK + 4096);
        }
        if count.is_multiple_of(REPORT_EVERY) {
            progress.report(task, count, total, started.elapsed());
        }
    }
    if let Some(failure) = failure {
        // The COPY must be ended before the connection can be used (or rolled back) again.
        let _ = copy.abort(failure.to_string()).await;
        return Err(failure);
    }
    if !buffer.is_empty()
        && let Err(error) = copy.send(buffer).await
    {
        let _ = copy.abort(error.to_string()).await;
        return Err(copy_failure(target, error, count));
    }
    let copied = copy
        .finish()
        .await
        .map_err(|error| copy_failure(target, error, count))?;
    // The last count, so a bar reaches its end.
    if !count.is_multiple_of(REPORT_EVERY) {
        progress.report(task, count, total, started.elapsed());
    }
    Ok(copied)
}

/// The database's refusal of a `COPY`, with the row and column its context names (`COPY t, line
/// 1501, column score: "abc"`): each row is one line of the copy, so the line is the row.
#[cfg(feature = "postgres")]
fn copy_failure(target: &Target<'_>, source: sqlx::Error, sent: u64) -> DataError {
    let context = source
        .as_database_error()
        .and_then(|e| e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>())
        .and_then(|e| e.r#where())
        .unwrap_or("");
    let after = |marker: &str| context.find(marker).map(|at| &context[at + marker.len()..]);
    let row = after(", line ").and_then(|rest| {
        let digits = rest.split(|c: char| !c.is_ascii_digit()).next()?;
        digits.parse::<u64>().ok()
    });
    let column = after(", column ").map(|rest| {
        rest.split(':')
            .next()
            .unwrap_or(rest)
            .trim_end_matches('\n')
            .to_string()
    });
    DataError::BulkInsert {
        table: target.table.to_string(),
        row,
        column,
        rows: (1, sent),
        source: Box::new(source),
    }
}

/// Writes `value` in COPY's text format.
#[cfg(feature = "postgres")]
fn copy_text(value: &Value, out: &mut Vec<u8>) {
    use std::io::Write as _;
    match value {
        Value::Null => out.extend_from_slice(b"\\N"),
        Value::Bool(b) => out.push(if *b { b't' } else { b'f' }),
        Value::Int(v) => {
            let _ = write!(out, "{v}");
        }
        Value::UInt(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Float(v) if v.is_nan() => out.extend_from_slice(b"NaN"),
        Value::Float(v) if v.is_infinite() => {
            out.extend_from_slice(if *v > 0.0 { b"Infinity" } else { b"-Infinity" })
        }
        Value::Float(v) => {
            let _ = write!(out, "{v:?}");
        }
        // Checked to be digits, a sign and a point, or a special value: nothing to escape.
        Value::Decimal(text) => out.extend_from_slice(text.as_bytes()),
        Value::Text(text) => copy_escaped(text, out),
        Value::Bytes(bytes) => {
            // bytea's hex input `\x...`, whose backslash COPY's own escaping doubles.
            out.extend_from_slice(b"\\\\x");
            for byte in bytes {
                let _ = write!(out, "{byte:02x}");
            }
        }
        Value::Json(json) => copy_escaped(&json.to_string(), out),
        Value::Uuid(uuid) => {
            let _ = write!(out, "{}", uuid.hyphenated());
        }
        Value::Date(date) => copy_date(*date, out),
        Value::Time(time) => out.extend_from_slice(codec::time_text(*time).as_bytes()),
        Value::DateTime(value) => {
            copy_date(value.date(), out);
            let _ = write!(out, " {}", codec::time_text(value.time()));
        }
        Value::Timestamp(value) => {
            let utc = value.to_offset(time::UtcOffset::UTC);
            copy_date(utc.date(), out);
            let _ = write!(out, " {}+00", codec::time_text(utc.time()));
        }
    }
    // PostgreSQL writes years before 1 as `BC` after the whole value.
    let bc = match value {
        Value::Date(d) => d.year() <= 0,
        Value::DateTime(d) => d.year() <= 0,
        Value::Timestamp(t) => t.to_offset(time::UtcOffset::UTC).year() <= 0,
        _ => false,
    };
    if bc {
        out.extend_from_slice(b" BC");
    }
}

/// A date in PostgreSQL's ISO form: year 0 is 1 BC (the `BC` goes after the whole value).
#[cfg(feature = "postgres")]
fn copy_date(date: time::Date, out: &mut Vec<u8>) {
    use std::io::Write as _;
    let year = date.year();
    let year = if year <= 0 { 1 - year } else { year };
    let _ = write!(
        out,
        "{year:04}-{:02}-{:02}",
        u8::from(date.month()),
        date.day()
    );
}

#[cfg(feature = "postgres")]
fn copy_escaped(text: &str, out: &mut Vec<u8>) {
    for byte in text.bytes() {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            other => out.push(other),
        }
    }
}

/// MySQL and SQLite: multi-row `INSERT` statements, each as large as the parameter limit allows.
async fn insert_batches<I, R>(
    cx: &mut Context<'_>,
    task: &str,
    target: &Target<'_>,
    rows: I,
    total: Option<u64>,
) -> Result<u64, DataError>
where
    I: Iterator<Item = R> + Send,
    R: AsRef<[Value]> + Send,
{
    let backend = cx.backend();
    let width = target.columns.len();
    // SQLite allows 32766 parameters per statement, MySQL 65535; 1000 rows keeps statements small
    // enough to prepare quickly and large enough that round trips do not dominate.
    let limit = cx.conn.dialect().parameter_limit;
    let batch_rows = (limit / width).clamp(1, 1000);
    let head = format!("INSERT INTO {} VALUES ", target.sql);
    let tuple = format!("({})", vec!["?"; width].join(", "));
    let statement_for = |rows: usize| -> Arc<str> {
        format!("{head}{}", vec![tuple.as_str(); rows].join(", ")).into()
    };
    let full_statement = statement_for(batch_rows);
    let started = Instant::now();
    let mut params: Vec<Value> = Vec::with_capacity(batch_rows * width);
    let mut pending: u64 = 0;
    let mut count: u64 = 0;
    let mut reported: u64 = 0;
    let mut seen: u64 = 0;
    let failed = |first: u64, last: u64, source: sqlx::Error| DataError::BulkInsert {
        table: target.table.to_string(),
        row: row_in_message(&source).map(|row| first + row - 1),
        column: column_in_message(&source),
        rows: (first, last),
        source: Box::new(source),
    };
    for row in rows {
        let values = row.as_ref();
        seen += 1;
        target.check(seen, values, backend)?;
        params.extend_from_slice(values);
        pending += 1;
        if pending == batch_rows as u64 {
            let batch = std::mem::replace(&mut params, Vec::with_capacity(batch_rows * width));
            count += cx
                .execute_built(&full_statement, batch)
                .await
                .map_err(|e| failed(seen - pending + 1, seen, e))?;
            pending = 0;
            if count - reported >= REPORT_EVERY {
                reported = count;
                cx.report(task, count, total, started.elapsed());
            }
        }
    }
    if pending > 0 {
        let statement = statement_for(pending as usize);
        count += cx
            .execute_built(&statement, params)
            .await
            .map_err(|e| failed(seen - pending + 1, seen, e))?;
    }
    // The last count, so a bar reaches its end.
    if count > reported {
        cx.report(task, count, total, started.elapsed());
    }
    Ok(count)
}

/// The row a MySQL message names within its statement (`... for column 'x' at row 3`).
fn row_in_message(error: &sqlx::Error) -> Option<u64> {
    let message = error.as_database_error()?.message();
    let rest = &message[message.rfind(" at row ")? + " at row ".len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The column a MySQL message names (`Column 'x' cannot be null`, `... for column 'x' at row 3`).
fn column_in_message(error: &sqlx::Error) -> Option<String> {
    let message = error.as_database_error()?.message();
    let start = message.find("olumn '")? + "olumn '".len();
    let end = message[start..].find('\'')?;
    Some(message[start..start + end].to_string())
}
