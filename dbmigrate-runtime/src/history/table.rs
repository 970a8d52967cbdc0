//! Reading and writing the history tables on a live connection. Table names are always quoted
//! ([`crate::backend::Backend::quote_identifier`]), and checked before they get here
//! ([`crate::config::check_table_name`]).

use super::{AppliedRef, AppliedRow, History, RunState, StateRow};
use crate::backend::connection::{Connection, FetchError};
use crate::backend::dialect::Dialect;
use crate::backend::state_table;
use crate::data::Value;
use crate::revision::VersionWidth;

/// The history table's name quoted in `dialect` (see [`crate::backend::Backend::quote_identifier`]).
fn history(dialect: &Dialect, table: &str) -> String {
    dialect.quote_identifier(table)
}

/// The side table's name quoted in `dialect`.
fn side(dialect: &Dialect, table: &str) -> String {
    dialect.quote_identifier(&state_table(table))
}

/// `sql` with its portable `?` placeholders in the dialect's form.
fn placeholders(dialect: &Dialect, sql: &str) -> String {
    crate::sql::placeholders(sql, dialect.backend)
}

/// A fetch error as the database error it carries (history columns decode to plain integers and
/// text, so a decoding failure is a table whose columns are not refinery's).
fn database_error(error: FetchError) -> sqlx::Error {
    match error {
        FetchError::Database(error) => error,
        FetchError::Decode(error) => sqlx::Error::Decode(Box::new(error)),
    }
}

/// Whether the error says a table does not exist.
pub(crate) fn is_undefined_table(error: &sqlx::Error) -> bool {
    let Some(database) = error.as_database_error() else {
        return false;
    };
    match database.code().as_deref() {
        // PostgreSQL undefined_table; MySQL ER_NO_SUCH_TABLE's SQLSTATE.
        Some("42P01" | "42S02") => true,
        _ => database.message().contains("no such table"),
    }
}

/// Creates both tables if they do not exist. On MySQL this commits implicitly, so it runs before any
/// revision's transaction.
pub(crate) async fn ensure(
    conn: &mut dyn Connection,
    table: &str,
    width: VersionWidth,
) -> Result<(), sqlx::Error> {
    let backend = conn.backend();
    conn.execute(&backend.create_history_table(table, width))
        .await?;
    conn.execute(&backend.create_state_table(table)).await?;
    Ok(())
}

/// Reads both tables; `None` when refinery's table does not exist yet. A missing side table (a
/// database only refinery has migrated) reads as empty.
pub(crate) async fn read(
    conn: &mut dyn Connection,
    table: &str,
) -> Result<Option<History>, sqlx::Error> {
    let states = read_states(conn, table).await?;
    let applied = with_applied_rows(conn, table, |rows| {
        rows.iter().map(|r| r.to_row()).collect()
    })
    .await?;
    Ok(applied.map(|applied| History { applied, states }))
}

/// What an upgrade needs to decide whether it has anything to do, handed to `decide` without
/// copying: refinery's rows borrowed from the result set, and the side table's rows only if one of
/// them matters to that decision (a revision that is unfinished, or recorded as applied while its
/// refinery row is gone). Otherwise the side rows come back empty, which compares with the files
/// exactly as the full set does, at the cost of one counted row instead of all of them. `None`
/// when refinery's table does not exist yet.
pub(crate) async fn upgrade_verdict<T: Send>(
    conn: &mut dyn Connection,
    table: &str,
    decide: impl FnOnce(&[AppliedRef<'_>], &[StateRow]) -> T + Send,
) -> Result<Option<T>, sqlx::Error> {
    let dialect = conn.dialect();
    // Byte-wise comparison, as `RunState::parse` compares: MySQL's default collation would take
    // `APPLIED` for `applied`.
    let state_differs = format!("{} <> 'applied'", (dialect.binary_comparison)("s.state"));
    let mattering_sql = format!(
        "SELECT {} FROM {} s WHERE {state_differs} OR NOT EXISTS (SELECT 1 FROM {} r WHERE r.version = s.version)",
        dialect.bigint("COUNT(*)"),
        side(dialect, table),
        history(dialect, table),
    );
    let mattering = match conn.fetch_with(mattering_sql, Vec::new()).await {
        Ok(rows) => rows
            .first()
            .and_then(|row| row.get(0).as_i64())
            .unwrap_or(0),
        Err(FetchError::Database(error)) if is_undefined_table(&error) => 0,
        Err(error) => return Err(database_error(error)),
    };
    let states = if mattering == 0 {
        Vec::new()
    } else {
        read_states(conn, table).await?
    };
    with_applied_rows(conn, table, |rows| decide(rows, &states)).await
}

/// Runs `use_rows` on refinery's rows, borrowed from the result set; `None` when the table does
/// not exist.
async fn with_applied_rows<T: Send>(
    conn: &mut dyn Connection,
    table: &str,
    use_rows: impl FnOnce(&[AppliedRef<'_>]) -> T + Send,
) -> Result<Option<T>, sqlx::Error> {
    let dialect = conn.dialect();
    let applied_sql = format!(
        "SELECT {}, name, applied_on, checksum FROM {} ORDER BY version",
        dialect.bigint("version"),
        history(dialect, table),
    );
    let mut use_rows = Some(use_rows);
    let mut value = None;
    let result = conn
        .with_history_rows(&applied_sql, &mut |rows| {
            if let Some(use_rows) = use_rows.take() {
                value = Some(use_rows(rows));
            }
        })
        .await;
    match result {
        Ok(()) => Ok(value),
        Err(error) if is_undefined_table(&error) => Ok(None),
        Err(error) => Err(error),
    }
}

/// The side table's rows, by version; none when it does not exist (a database only refinery has
/// migrated).
async fn read_states(conn: &mut dyn Connection, table: &str) -> Result<Vec<StateRow>, sqlx::Error> {
    let dialect = conn.dialect();
    let state_sql = format!(
        "SELECT {}, state, direction, {}, {}, {}, {}, completed_checksum, error, updated_on FROM {} ORDER BY version",
        dialect.bigint("version"),
        dialect.bigint("execution_ms"),
        dialect.bigint("statement_index"),
        dialect.bigint("statement_count"),
        dialect.bigint("statement_line"),
        side(dialect, table),
    );
    let rows = match conn.fetch_with(state_sql, Vec::new()).await {
        Ok(rows) => rows,
        Err(FetchError::Database(error)) if is_undefined_table(&error) => return Ok(Vec::new()),
        Err(error) => return Err(database_error(error)),
    };
    let text = |value: &Value| value.as_str().map(str::to_string);
    Ok(rows
        .iter()
        .map(|row| StateRow {
            version: row.get(0).as_i64().unwrap_or_default(),
            state: row.get(1).as_str().and_then(RunState::parse),
            direction: text(row.get(2)),
            execution_ms: row.get(3).as_i64(),
            statement_index: row.get(4).as_i64(),
            statement_count: row.get(5).as_i64(),
            statement_line: row.get(6).as_i64(),
            completed_checksum: text(row.get(7)),
            error: text(row.get(8)),
            updated_on: text(row.get(9)).unwrap_or_default(),
        })
        .collect())
}

/// Decodes refinery's rows as `query_as` would, borrowing the text columns from the rows. Where every
/// value of a column has the column's type (PostgreSQL, MySQL; not SQLite, whose values each carry
/// their own), the type check runs on the first non-NULL value of each column only: checking 500
/// rows again and again was a tenth of a no-op upgrade. A column of the wrong type fails as before,
/// at its first value.
pub(crate) fn decode_applied<R: sqlx::Row>(
    rows: &[R],
    typed_columns: bool,
) -> Result<Vec<AppliedRef<'_>>, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> &'r str: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    use sqlx::ValueRef as _;
    // Whether column i's type was checked on a non-NULL value.
    let mut checked = [false; 4];
    let mut refs = Vec::with_capacity(rows.len());
    for row in rows {
        let version: i64 = if typed_columns && checked[0] {
            row.try_get_unchecked(0)?
        } else {
            let version = row.try_get(0)?;
            checked[0] = typed_columns;
            version
        };
        let mut text = [None; 3];
        for (slot, index) in text.iter_mut().zip(1..4) {
            *slot = if typed_columns && checked[index] {
                row.try_get_unchecked::<Option<&str>, _>(index)?
            } else {
                let value: Option<&str> = row.try_get(index)?;
                checked[index] = typed_columns && !row.try_get_raw(index)?.is_null();
                value
            };
        }
        let [name, applied_on, checksum] = text;
        refs.push(AppliedRef {
            version,
            name,
            applied_on,
            checksum,
        });
    }
    Ok(refs)
}

/// Writes refinery's row for an applied revision.
pub(crate) async fn insert_applied(
    conn: &mut dyn Connection,
    table: &str,
    width: VersionWidth,
    row: &AppliedRow,
) -> Result<(), sqlx::Error> {
    insert_applied_many(conn, table, width, std::slice::from_ref(row)).await
}

/// A version as the history table's column takes it.
fn version_value(width: VersionWidth, version: i64) -> Value {
    match width {
        VersionWidth::I32 => Value::Int(i64::from(i32::try_from(version).unwrap_or(i32::MAX))),
        VersionWidth::I64 => Value::Int(version),
    }
}

fn text_value(text: Option<&str>) -> Value {
    text.map_or(Value::Null, |t| Value::Text(t.to_string()))
}

fn int_value(number: Option<i64>) -> Value {
    number.map_or(Value::Null, Value::Int)
}

/// The bound values of refinery's row.
fn applied_values(width: VersionWidth, row: &AppliedRow) -> [Value; 4] {
    [
        version_value(width, row.version),
        text_value(row.name.as_deref()),
        text_value(row.applied_on.as_deref()),
        text_value(row.checksum.as_deref()),
    ]
}

/// The bound values of a side-table row: version, then the [`UPDATED`] columns.
fn state_values(row: &StateRow) -> [Value; 10] {
    // The counters are INT columns: a value beyond them is recorded as unknown, not refused.
    let int = |v: Option<i64>| int_value(v.filter(|v| i32::try_from(*v).is_ok()));
    [
        Value::Int(row.version),
        Value::Text(row.state.unwrap_or(RunState::Failed).as_str().to_string()),
        text_value(row.direction.as_deref()),
        int_value(row.execution_ms),
        int(row.statement_index),
        int(row.statement_count),
        int(row.statement_line),
        text_value(row.completed_checksum.as_deref()),
        text_value(row.error.as_deref()),
        Value::Text(row.updated_on.clone()),
    ]
}

/// Writes refinery's rows for several applied revisions, a few hundred per statement.
pub(crate) async fn insert_applied_many(
    conn: &mut dyn Connection,
    table: &str,
    width: VersionWidth,
    rows: &[AppliedRow],
) -> Result<(), sqlx::Error> {
    let dialect = conn.dialect();
    for chunk in rows.chunks(500) {
        let values = vec!["(?, ?, ?, ?)"; chunk.len()].join(", ");
        let sql = placeholders(
            dialect,
            &format!(
                "INSERT INTO {} (version, name, applied_on, checksum) VALUES {values}",
                history(dialect, table)
            ),
        );
        let params = chunk
            .iter()
            .flat_map(|row| applied_values(width, row))
            .collect();
        conn.execute_with(sql, params).await?;
    }
    Ok(())
}

/// Deletes refinery's row (and the side table's) for a reverted revision.
pub(crate) async fn delete(
    conn: &mut dyn Connection,
    table: &str,
    width: VersionWidth,
    version: i64,
) -> Result<(), sqlx::Error> {
    let dialect = conn.dialect();
    let applied_sql = placeholders(
        dialect,
        &format!("DELETE FROM {} WHERE version = ?", history(dialect, table)),
    );
    conn.execute_with(applied_sql, vec![version_value(width, version)])
        .await?;
    delete_state(conn, table, version).await
}

/// Writes refinery's row for a revision just applied and its side-table row, in the caller's
/// transaction.
pub(crate) async fn record_applied(
    conn: &mut dyn Connection,
    table: &str,
    width: VersionWidth,
    applied: &AppliedRow,
    state: &StateRow,
) -> Result<(), sqlx::Error> {
    insert_applied(conn, table, width, applied).await?;
    write_state(conn, table, state).await
}

/// The side table's upsert, with `?` placeholders: version and the [`UPDATED`] columns.
fn state_upsert_sql(dialect: &Dialect, table: &str, rows: usize) -> String {
    state_upsert(
        dialect,
        table,
        &vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; rows].join(", "),
    )
}

/// The side table's upsert of `values`: tuples of version and the [`UPDATED`] columns.
fn state_upsert(dialect: &Dialect, table: &str, values: &str) -> String {
    format!(
        "INSERT INTO {} (version, {}) VALUES {values} {}",
        side(dialect, table),
        UPDATED.join(", "),
        (dialect.upsert)(&UPDATED)
    )
}

/// The statements that record an applied revision (refinery's row, then the side table's rows) as
/// SQL text with the values written in, for a batch sent in one round trip. `None` when a value
/// holds a character whose quoting depends on the server's settings (a backslash on MySQL without
/// `NO_BACKSLASH_ESCAPES`, say): such rows are written with bound parameters instead. An applied
/// row's execution time is the SQL expression `execution_ms`.
pub(crate) fn record_applied_literal(
    dialect: &Dialect,
    table: &str,
    applied: &AppliedRow,
    states: &[StateRow],
    execution_ms: &str,
) -> Option<Vec<String>> {
    fn text(value: Option<&str>) -> Option<String> {
        match value {
            None => Some("NULL".to_string()),
            Some(v)
                if v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-:.+ ".contains(c)) =>
            {
                Some(format!("'{v}'"))
            }
            Some(_) => None,
        }
    }
    let number = |value: Option<i64>| value.map_or_else(|| "NULL".to_string(), |v| v.to_string());
    let applied_sql = format!(
        "INSERT INTO {} (version, name, applied_on, checksum) VALUES ({}, {}, {}, {})",
        history(dialect, table),
        applied.version,
        text(applied.name.as_deref())?,
        text(applied.applied_on.as_deref())?,
        text(applied.checksum.as_deref())?,
    );
    let mut rows = Vec::with_capacity(states.len());
    for row in states {
        rows.push(format!(
            "({}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
            row.version,
            text(Some(row.state.unwrap_or(RunState::Failed).as_str()))?,
            text(row.direction.as_deref())?,
            match row.state {
                Some(RunState::Applied) => execution_ms.to_string(),
                _ => number(row.execution_ms),
            },
            number(row.statement_index),
            number(row.statement_count),
            number(row.statement_line),
            text(row.completed_checksum.as_deref())?,
            text(row.error.as_deref())?,
            text(Some(&row.updated_on))?,
        ));
    }
    let mut statements = vec![applied_sql];
    if !rows.is_empty() {
        statements.push(state_upsert(dialect, table, &rows.join(", ")));
    }
    Some(statements)
}

/// The side table's columns an upsert writes besides the version.
const UPDATED: [&str; 9] = [
    "state",
    "direction",
    "execution_ms",
    "statement_index",
    "statement_count",
    "statement_line",
    "completed_checksum",
    "error",
    "updated_on",
];

/// Writes (inserts or replaces) the side table's row for a revision.
pub(crate) async fn write_state(
    conn: &mut dyn Connection,
    table: &str,
    row: &StateRow,
) -> Result<(), sqlx::Error> {
    write_states(conn, table, std::slice::from_ref(row)).await
}

/// Writes (inserts or replaces) the side table's rows for several revisions, a few hundred per
/// statement: on SQLite, where every `CREATE TABLE` makes cached statements be prepared again, one
/// statement for a group of revisions instead of one each.
pub(crate) async fn write_states(
    conn: &mut dyn Connection,
    table: &str,
    rows: &[StateRow],
) -> Result<(), sqlx::Error> {
    let dialect = conn.dialect();
    for chunk in rows.chunks(500) {
        let sql = placeholders(dialect, &state_upsert_sql(dialect, table, chunk.len()));
        let params = chunk.iter().flat_map(state_values).collect();
        conn.execute_with(sql, params).await?;
    }
    Ok(())
}

/// Deletes the side table's row for a revision.
pub(crate) async fn delete_state(
    conn: &mut dyn Connection,
    table: &str,
    version: i64,
) -> Result<(), sqlx::Error> {
    let dialect = conn.dialect();
    let sql = placeholders(
        dialect,
        &format!("DELETE FROM {} WHERE version = ?", side(dialect, table)),
    );
    conn.execute_with(sql, vec![Value::Int(version)]).await?;
    Ok(())
}

/// Replaces the checksum refinery's table records for a revision (`repair`).
pub(crate) async fn update_checksum(
    conn: &mut dyn Connection,
    table: &str,
    width: VersionWidth,
    version: i64,
    checksum: &str,
) -> Result<u64, sqlx::Error> {
    let dialect = conn.dialect();
    let sql = placeholders(
        dialect,
        &format!(
            "UPDATE {} SET checksum = ? WHERE version = ?",
            history(dialect, table)
        ),
    );
    conn.execute_with(
        sql,
        vec![
            Value::Text(checksum.to_string()),
            version_value(width, version),
        ],
    )
    .await
}
