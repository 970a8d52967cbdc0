//! Reading and writing the history tables on a live connection. Table names are always quoted
//! ([`Backend::quote_identifier`]), and checked before they get here
//! ([`crate::config::check_table_name`]).

use sqlx::AssertSqlSafe;

use super::{AppliedRef, AppliedRow, History, RunState, StateRow};
use crate::backend::session::{Conn, each_conn};
use crate::backend::{Backend, state_table};
use crate::revision::VersionWidth;

/// The history table's name quoted for `backend` (see [`Backend::quote_identifier`]).
fn history(backend: Backend, table: &str) -> String {
    backend.quote_identifier(table)
}

/// The side table's name quoted for `backend`.
fn side(backend: Backend, table: &str) -> String {
    backend.quote_identifier(&state_table(table))
}

/// `expr` cast to a 64-bit integer, in the backend's words.
fn bigint(backend: Backend, expr: &str) -> String {
    match backend {
        Backend::Postgres => format!("CAST({expr} AS BIGINT)"),
        Backend::MySql => format!("CAST({expr} AS SIGNED)"),
        Backend::Sqlite => format!("CAST({expr} AS INTEGER)"),
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
    conn: &mut Conn<'_>,
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
pub(crate) async fn read(conn: &mut Conn<'_>, table: &str) -> Result<Option<History>, sqlx::Error> {
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
pub(crate) async fn upgrade_verdict<T>(
    conn: &mut Conn<'_>,
    table: &str,
    decide: impl FnOnce(&[AppliedRef<'_>], &[StateRow]) -> T,
) -> Result<Option<T>, sqlx::Error> {
    let backend = conn.backend();
    // Byte-wise comparison, as `RunState::parse` compares: MySQL's default collation would take
    // `APPLIED` for `applied`.
    let state_differs = match backend {
        Backend::MySql => "BINARY s.state <> 'applied'",
        Backend::Postgres | Backend::Sqlite => "s.state <> 'applied'",
    };
    let mattering_sql = format!(
        "SELECT COUNT(*) FROM {} s WHERE {state_differs} OR NOT EXISTS (SELECT 1 FROM {} r WHERE r.version = s.version)",
        side(backend, table),
        history(backend, table),
    );
    let mattering: i64 = match each_conn!(conn, c => sqlx::query_scalar(AssertSqlSafe(mattering_sql)).fetch_one(&mut **c).await)
    {
        Ok(count) => count,
        Err(error) if is_undefined_table(&error) => 0,
        Err(error) => return Err(error),
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
async fn with_applied_rows<T>(
    conn: &mut Conn<'_>,
    table: &str,
    use_rows: impl FnOnce(&[AppliedRef<'_>]) -> T,
) -> Result<Option<T>, sqlx::Error> {
    let backend = conn.backend();
    let applied_sql = format!(
        "SELECT {}, name, applied_on, checksum FROM {} ORDER BY version",
        bigint(backend, "version"),
        history(backend, table),
    );
    let typed_columns = backend != Backend::Sqlite;
    let result = each_conn!(conn, c => {
        match sqlx::query(AssertSqlSafe(applied_sql)).fetch_all(&mut **c).await {
            Ok(rows) => decode_applied(&rows, typed_columns).map(|refs| use_rows(&refs)),
            Err(error) => Err(error),
        }
    });
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) if is_undefined_table(&error) => Ok(None),
        Err(error) => Err(error),
    }
}

/// The side table's rows, by version; none when it does not exist (a database only refinery has
/// migrated).
async fn read_states(conn: &mut Conn<'_>, table: &str) -> Result<Vec<StateRow>, sqlx::Error> {
    let backend = conn.backend();
    let state_sql = format!(
        "SELECT {}, state, direction, {}, {}, {}, {}, completed_checksum, error, updated_on FROM {} ORDER BY version",
        bigint(backend, "version"),
        bigint(backend, "execution_ms"),
        bigint(backend, "statement_index"),
        bigint(backend, "statement_count"),
        bigint(backend, "statement_line"),
        side(backend, table),
    );
    type StateTuple = (
        i64,
        String,
        Option<String>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<String>,
        Option<String>,
        String,
    );
    let states: Vec<StateTuple> = match each_conn!(conn, c => sqlx::query_as(AssertSqlSafe(state_sql)).fetch_all(&mut **c).await)
    {
        Ok(rows) => rows,
        Err(error) if is_undefined_table(&error) => Vec::new(),
        Err(error) => return Err(error),
    };
    Ok(states
        .into_iter()
        .map(
            |(
                version,
                state,
                direction,
                execution_ms,
                statement_index,
                statement_count,
                statement_line,
                completed_checksum,
                error,
                updated_on,
            )| StateRow {
                version,
                state: RunState::parse(&state),
                direction,
                execution_ms,
                statement_index,
                statement_count,
                statement_line,
                completed_checksum,
                error,
                updated_on,
            },
        )
        .collect())
}

/// Decodes refinery's rows as `query_as` would, borrowing the text columns from the rows. Where every
/// value of a column has the column's type (PostgreSQL, MySQL; not SQLite, whose values each carry
/// their own), the type check runs on the first non-NULL value of each column only: checking 500
/// rows again and again was a tenth of a no-op upgrade. A column of the wrong type fails as before,
/// at its first value.
fn decode_applied<R: sqlx::Row>(
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
    conn: &mut Conn<'_>,
    table: &str,
    width: VersionWidth,
    row: &AppliedRow,
) -> Result<(), sqlx::Error> {
    insert_applied_many(conn, table, width, std::slice::from_ref(row)).await
}

/// Writes refinery's rows for several applied revisions, a few hundred per statement.
pub(crate) async fn insert_applied_many(
    conn: &mut Conn<'_>,
    table: &str,
    width: VersionWidth,
    rows: &[AppliedRow],
) -> Result<(), sqlx::Error> {
    let backend = conn.backend();
    for chunk in rows.chunks(500) {
        let values = vec!["(?, ?, ?, ?)"; chunk.len()].join(", ");
        let sql = crate::sql::placeholders(
            &format!(
                "INSERT INTO {} (version, name, applied_on, checksum) VALUES {values}",
                history(backend, table)
            ),
            backend,
        );
        each_conn!(&mut *conn, c => {
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for row in chunk {
                // PostgreSQL types parameters strictly: bind the width the column has.
                query = match width {
                    VersionWidth::I32 => query.bind(i32::try_from(row.version).unwrap_or(i32::MAX)),
                    VersionWidth::I64 => query.bind(row.version),
                };
                query = query.bind(&row.name).bind(&row.applied_on).bind(&row.checksum);
            }
            query.execute(&mut **c).await?;
        });
    }
    Ok(())
}

/// Deletes refinery's row (and the side table's) for a reverted revision.
pub(crate) async fn delete(
    conn: &mut Conn<'_>,
    table: &str,
    width: VersionWidth,
    version: i64,
) -> Result<(), sqlx::Error> {
    let backend = conn.backend();
    let applied_sql = crate::sql::placeholders(
        &format!("DELETE FROM {} WHERE version = ?", history(backend, table)),
        backend,
    );
    let state_sql = crate::sql::placeholders(
        &format!("DELETE FROM {} WHERE version = ?", side(backend, table)),
        backend,
    );
    each_conn!(conn, c => {
        let query = sqlx::query(AssertSqlSafe(applied_sql));
        let query = match width {
            VersionWidth::I32 => query.bind(i32::try_from(version).unwrap_or(i32::MAX)),
            VersionWidth::I64 => query.bind(version),
        };
        query.execute(&mut **c).await?;
        sqlx::query(AssertSqlSafe(state_sql)).bind(version).execute(&mut **c).await?;
    });
    Ok(())
}

/// Writes refinery's row for a revision just applied and its side-table row, in the caller's
/// transaction. PostgreSQL takes both in one statement (one round trip per revision fewer); the
/// rows written are the same on every backend.
pub(crate) async fn record_applied(
    conn: &mut Conn<'_>,
    table: &str,
    width: VersionWidth,
    applied: &AppliedRow,
    state: &StateRow,
) -> Result<(), sqlx::Error> {
    match conn {
        #[cfg(feature = "postgres")]
        Conn::Postgres(c) => {
            // A data-modifying WITH runs exactly once, whether or not the main statement reads it.
            let sql = crate::sql::placeholders(
                &format!(
                    "WITH applied AS (INSERT INTO {} (version, name, applied_on, checksum) VALUES (?, ?, ?, ?)) {}",
                    history(Backend::Postgres, table),
                    state_upsert_sql(Backend::Postgres, table, 1)
                ),
                Backend::Postgres,
            );
            let query = sqlx::query(AssertSqlSafe(sql));
            let query = match width {
                VersionWidth::I32 => query.bind(i32::try_from(applied.version).unwrap_or(i32::MAX)),
                VersionWidth::I64 => query.bind(applied.version),
            };
            let int = |v: Option<i64>| v.and_then(|v| i32::try_from(v).ok());
            query
                .bind(&applied.name)
                .bind(&applied.applied_on)
                .bind(&applied.checksum)
                .bind(state.version)
                .bind(state.state.unwrap_or(RunState::Failed).as_str())
                .bind(&state.direction)
                .bind(state.execution_ms)
                .bind(int(state.statement_index))
                .bind(int(state.statement_count))
                .bind(int(state.statement_line))
                .bind(&state.completed_checksum)
                .bind(&state.error)
                .bind(&state.updated_on)
                .execute(&mut **c)
                .await?;
            Ok(())
        }
        #[allow(unreachable_patterns)]
        _ => {
            insert_applied(conn, table, width, applied).await?;
            write_state(conn, table, state).await
        }
    }
}

/// The side table's upsert, with `?` placeholders: version and the [`UPDATED`] columns.
fn state_upsert_sql(backend: Backend, table: &str, rows: usize) -> String {
    state_upsert(
        backend,
        table,
        &vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; rows].join(", "),
    )
}

/// The side table's upsert of `values`: tuples of version and the [`UPDATED`] columns.
fn state_upsert(backend: Backend, table: &str, values: &str) -> String {
    let assignments: Vec<String> = UPDATED
        .iter()
        .map(|column| match backend {
            Backend::MySql => format!("{column} = VALUES({column})"),
            Backend::Postgres | Backend::Sqlite => format!("{column} = excluded.{column}"),
        })
        .collect();
    let upsert = match backend {
        Backend::MySql => "ON DUPLICATE KEY UPDATE",
        Backend::Postgres | Backend::Sqlite => "ON CONFLICT (version) DO UPDATE SET",
    };
    format!(
        "INSERT INTO {} (version, {}) VALUES {values} {upsert} {}",
        side(backend, table),
        UPDATED.join(", "),
        assignments.join(", ")
    )
}

/// The statements that record an applied revision (refinery's row, then the side table's rows) as
/// SQL text with the values written in, for a batch sent in one round trip. `None` when a value
/// holds a character whose quoting depends on the server's settings (a backslash on MySQL without
/// `NO_BACKSLASH_ESCAPES`, say): such rows are written with bound parameters instead. An applied
/// row's execution time is the SQL expression `execution_ms`.
pub(crate) fn record_applied_literal(
    backend: Backend,
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
        history(backend, table),
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
        statements.push(state_upsert(backend, table, &rows.join(", ")));
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
    conn: &mut Conn<'_>,
    table: &str,
    row: &StateRow,
) -> Result<(), sqlx::Error> {
    write_states(conn, table, std::slice::from_ref(row)).await
}

/// Writes (inserts or replaces) the side table's rows for several revisions, a few hundred per
/// statement: on SQLite, where every `CREATE TABLE` makes cached statements be prepared again, one
/// statement for a group of revisions instead of one each.
pub(crate) async fn write_states(
    conn: &mut Conn<'_>,
    table: &str,
    rows: &[StateRow],
) -> Result<(), sqlx::Error> {
    let backend = conn.backend();
    let int = |v: Option<i64>| v.and_then(|v| i32::try_from(v).ok());
    for chunk in rows.chunks(500) {
        let sql = crate::sql::placeholders(&state_upsert_sql(backend, table, chunk.len()), backend);
        each_conn!(&mut *conn, c => {
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for row in chunk {
                query = query
                    .bind(row.version)
                    .bind(row.state.unwrap_or(RunState::Failed).as_str())
                    .bind(row.direction.clone())
                    .bind(row.execution_ms)
                    .bind(int(row.statement_index))
                    .bind(int(row.statement_count))
                    .bind(int(row.statement_line))
                    .bind(row.completed_checksum.clone())
                    .bind(row.error.clone())
                    .bind(row.updated_on.clone());
            }
            query.execute(&mut **c).await?;
        });
    }
    Ok(())
}

/// Deletes the side table's row for a revision.
pub(crate) async fn delete_state(
    conn: &mut Conn<'_>,
    table: &str,
    version: i64,
) -> Result<(), sqlx::Error> {
    let backend = conn.backend();
    let sql = crate::sql::placeholders(
        &format!("DELETE FROM {} WHERE version = ?", side(backend, table)),
        backend,
    );
    each_conn!(conn, c => sqlx::query(AssertSqlSafe(sql)).bind(version).execute(&mut **c).await.map(|_| ()))?;
    Ok(())
}

/// Replaces the checksum refinery's table records for a revision (`repair`).
pub(crate) async fn update_checksum(
    conn: &mut Conn<'_>,
    table: &str,
    width: VersionWidth,
    version: i64,
    checksum: &str,
) -> Result<u64, sqlx::Error> {
    let backend = conn.backend();
    let sql = crate::sql::placeholders(
        &format!(
            "UPDATE {} SET checksum = ? WHERE version = ?",
            history(backend, table)
        ),
        backend,
    );
    let affected = each_conn!(conn, c => {
        let query = sqlx::query(AssertSqlSafe(sql)).bind(checksum);
        let query = match width {
            VersionWidth::I32 => query.bind(i32::try_from(version).unwrap_or(i32::MAX)),
            VersionWidth::I64 => query.bind(version),
        };
        query.execute(&mut **c).await?.rows_affected()
    });
    Ok(affected)
}
