//! Bulk inserts for data steps: `COPY ... FROM STDIN` on PostgreSQL, multi-row `INSERT` batches
//! elsewhere.

use std::time::Instant;

use super::value::Value;
use super::{Context, DataError, identifier};
use crate::backend::Backend;

/// Rows between progress reports.
const REPORT_EVERY: u64 = 100_000;

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
    let table = identifier(table)?;
    if columns.is_empty() {
        return Err(DataError::Usage(
            "bulk_insert needs at least one column".into(),
        ));
    }
    for column in columns {
        identifier(column)?;
    }
    let task = format!("bulk insert into {table}");
    match cx.backend() {
        #[cfg(feature = "postgres")]
        Backend::Postgres => copy_in(cx, &task, table, columns, rows).await,
        _ => insert_batches(cx, &task, table, columns, rows).await,
    }
}

fn width_error(row: usize, found: usize, expected: usize) -> DataError {
    DataError::Usage(format!(
        "row {row} of the bulk insert has {found} values, but {expected} columns were named"
    ))
}

/// PostgreSQL: one `COPY` in text format, sent in chunks of about a megabyte.
#[cfg(feature = "postgres")]
async fn copy_in<I, R>(
    cx: &mut Context<'_>,
    task: &str,
    table: &str,
    columns: &[&str],
    rows: I,
) -> Result<u64, DataError>
where
    I: Iterator<Item = R> + Send,
    R: AsRef<[Value]> + Send,
{
    const CHUNK: usize = 1 << 20;
    let statement = format!("COPY {table} ({}) FROM STDIN", columns.join(", "));
    let database = |source| DataError::Database {
        statement: statement.clone(),
        source,
    };
    let started = Instant::now();
    #[allow(irrefutable_let_patterns)] // with only the postgres feature, there is no other variant
    let crate::backend::session::Conn::Postgres(conn) = &mut cx.conn else {
        unreachable!("copy_in runs on PostgreSQL only");
    };
    let mut copy = conn.copy_in_raw(&statement).await.map_err(database)?;
    let mut buffer = Vec::with_capacity(CHUNK + 4096);
    let mut count: u64 = 0;
    let mut failure = None;
    for (index, row) in rows.enumerate() {
        let values = row.as_ref();
        if values.len() != columns.len() {
            failure = Some(width_error(index + 1, values.len(), columns.len()));
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
                failure = Some(database(error));
                break;
            }
            buffer = Vec::with_capacity(CHUNK + 4096);
        }
        if count.is_multiple_of(REPORT_EVERY) {
            let elapsed = started.elapsed();
            let progress = super::Progress {
                version: cx.version,
                task: task.to_string(),
                rows: count,
                elapsed,
            };
            tracing::info!(
                version = cx.version,
                task,
                rows = count,
                "data step progress"
            );
            if let Some(callback) = cx.progress {
                callback(&progress);
            }
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
        return Err(database(error));
    }
    let inserted = copy.finish().await.map_err(database)?;
    Ok(inserted)
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
        Value::Float(v) if v.is_nan() => out.extend_from_slice(b"NaN"),
        Value::Float(v) if v.is_infinite() => {
            out.extend_from_slice(if *v > 0.0 { b"Infinity" } else { b"-Infinity" })
        }
        Value::Float(v) => {
            let _ = write!(out, "{v:?}");
        }
        Value::Text(text) => {
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
        Value::Bytes(bytes) => {
            // bytea's hex input `\x...`, whose backslash COPY's own escaping doubles.
            out.extend_from_slice(b"\\\\x");
            for byte in bytes {
                let _ = write!(out, "{byte:02x}");
            }
        }
    }
}

/// MySQL and SQLite: multi-row `INSERT` statements, each as large as the parameter limit allows.
async fn insert_batches<I, R>(
    cx: &mut Context<'_>,
    task: &str,
    table: &str,
    columns: &[&str],
    rows: I,
) -> Result<u64, DataError>
where
    I: Iterator<Item = R> + Send,
    R: AsRef<[Value]> + Send,
{
    // SQLite allows 32766 parameters per statement, MySQL 65535; 1000 rows keeps statements small
    // enough to prepare quickly and large enough that round trips do not dominate.
    let limit = match cx.backend() {
        Backend::Sqlite => 32_766,
        _ => 65_535,
    };
    let batch_rows = (limit / columns.len()).clamp(1, 1000);
    let head = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let tuple = format!("({})", vec!["?"; columns.len()].join(", "));
    let statement_for = |rows: usize| format!("{head}{}", vec![tuple.as_str(); rows].join(", "));
    let full_statement = statement_for(batch_rows);
    let started = Instant::now();
    let mut params: Vec<Value> = Vec::with_capacity(batch_rows * columns.len());
    let mut pending = 0;
    let mut count: u64 = 0;
    let mut reported: u64 = 0;
    for (index, row) in rows.enumerate() {
        let values = row.as_ref();
        if values.len() != columns.len() {
            return Err(width_error(index + 1, values.len(), columns.len()));
        }
        params.extend_from_slice(values);
        pending += 1;
        if pending == batch_rows {
            count += cx
                .execute_owned(
                    &full_statement,
                    std::mem::replace(&mut params, Vec::with_capacity(batch_rows * columns.len())),
                )
                .await?;
            pending = 0;
            if count - reported >= REPORT_EVERY {
                reported = count;
                cx.report(task, count, started.elapsed());
            }
        }
    }
    if pending > 0 {
        count += cx.execute_owned(&statement_for(pending), params).await?;
    }
    Ok(count)
}
