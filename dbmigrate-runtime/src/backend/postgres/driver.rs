//! PostgreSQL specifics: the advisory lock and who holds it, whether the server is a standby, and
//! `COPY` for bulk inserts.

use std::time::Duration;

use sqlx::PgConnection;

use crate::backend::ServerRole;
use crate::backend::connection::LockError;

/// Whether the server is a hot standby (in recovery), where nothing can be written.
pub(crate) async fn role(conn: &mut PgConnection) -> Result<ServerRole, sqlx::Error> {
    let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(conn)
        .await?;
    Ok(if in_recovery {
        ServerRole::PostgresStandby
    } else {
        ServerRole::Writable
    })
}

/// SQLSTATE `lock_not_available`, raised when `lock_timeout` expires.
const LOCK_NOT_AVAILABLE: &str = "55P03";

/// Takes the advisory lock for `table` in the current database and schema, waiting up to `timeout`;
/// returns the key, which unlocking needs, and the server process of this connection (see
/// [`end_session`]).
pub(crate) async fn lock(
    conn: &mut PgConnection,
    table: &str,
    timeout: Duration,
    waiting: &mut (dyn FnMut(Option<String>) + Send),
) -> Result<(i64, i64), LockError> {
    // The key is computed by the server from what identifies the history table, in the same round
    // trip as the first, non-blocking attempt.
    let (key, locked, pid): (i64, bool, i32) = sqlx::query_as(
        "SELECT k, pg_try_advisory_lock(k), pg_backend_pid() FROM (SELECT hashtextextended( \
           current_database() || '.' || COALESCE(current_schema(), '') || '.' || $1, 0) AS k) s",
    )
    .bind(table)
    .fetch_one(&mut *conn)
    .await?;
    let pid = i64::from(pid);
    if locked {
        return Ok((key, pid));
    }
    waiting(holder(conn, key).await.unwrap_or(None));
    // Wait on the server, where waiters queue in order, bounded by lock_timeout (which applies to
    // advisory locks too). A statement_timeout of the role, database or URL would cut the wait
    // short, so it is off for this one statement; both settings are restored afterwards.
    let millis = timeout.as_millis().clamp(1, i32::MAX as u128);
    let (previous_lock, previous_statement): (String, String) = sqlx::query_as(
        "SELECT current_setting('lock_timeout'), current_setting('statement_timeout') \
         FROM (SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', '0', false)) s",
    )
    .bind(format!("{millis}ms"))
    .fetch_one(&mut *conn)
    .await?;
    let waited = sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(key)
        .execute(&mut *conn)
        .await;
    sqlx::query(
        "SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)",
    )
    .bind(&previous_lock)
    .bind(&previous_statement)
    .execute(&mut *conn)
    .await?;
    match waited {
        Ok(_) => Ok((key, pid)),
        Err(error)
            if error.as_database_error().and_then(|e| e.code()).as_deref()
                == Some(LOCK_NOT_AVAILABLE) =>
        {
            Err(LockError::Timeout {
                holder: holder(conn, key).await.unwrap_or(None),
            })
        }
        Err(error) => Err(error.into()),
    }
}

/// Describes the session holding the advisory lock `key`, from `pg_locks` and `pg_stat_activity`.
async fn holder(conn: &mut PgConnection, key: i64) -> Result<Option<String>, sqlx::Error> {
    // A bigint advisory key is stored as classid = high 32 bits, objid = low 32 bits, objsubid = 1.
    let row: Option<(i32, String, String, String, String, String)> = sqlx::query_as(
        "SELECT a.pid, COALESCE(a.application_name, ''), COALESCE(host(a.client_addr), 'local socket'), \
                COALESCE(to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), \
                COALESCE(a.state, ''), COALESCE(left(a.query, 160), '') \
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
           AND l.classid = (($1::bigint >> 32) & 4294967295)::oid \
           AND l.objid = ($1::bigint & 4294967295)::oid \
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         LIMIT 1",
    )
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(pid, application, client, since, state, query)| {
        let application = if application.is_empty() { String::new() } else { format!("application `{application}`, ") };
        format!(
            "PostgreSQL backend pid {pid} ({application}client {client}, connected since {since}), {state}: `{}`",
            query.split_whitespace().collect::<Vec<_>>().join(" ")
        )
    }))
}

pub(crate) async fn unlock(conn: &mut PgConnection, key: i64) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends the server process of a connection this program lost (`pid`), and waits until it is gone,
/// at most until `deadline`: only then is what it was doing settled, committed or rolled back.
/// Returns whether it is gone.
pub(crate) async fn end_session(
    conn: &mut PgConnection,
    pid: i64,
    deadline: std::time::Instant,
) -> Result<bool, sqlx::Error> {
    let pid = i32::try_from(pid).unwrap_or(i32::MAX);
    // The server may not have noticed the lost connection yet; a process of our own role may be
    // terminated without special rights. If this fails, waiting still tells.
    let _ = sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .execute(&mut *conn)
        .await;
    loop {
        let alive: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE pid = $1")
            .bind(pid)
            .fetch_one(&mut *conn)
            .await?;
        if alive == 0 {
            return Ok(true);
        }
        if std::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A PostgreSQL connection from the application's pool, for one run.
pub(crate) struct PgLive {
    conn: sqlx::pool::PoolConnection<sqlx::Postgres>,
    depth: usize,
    /// The advisory lock key while the lock is held.
    lock_key: Option<i64>,
    /// This connection's backend pid, read with the lock.
    pid: Option<i64>,
}

impl PgLive {
    pub(crate) fn new(conn: sqlx::pool::PoolConnection<sqlx::Postgres>) -> Self {
        Self {
            conn,
            depth: 0,
            lock_key: None,
            pid: None,
        }
    }

    /// One call holds a whole batch: PostgreSQL parses and runs a multi-statement message in order.
    const BATCH_CALL_BYTES: usize = usize::MAX;
    /// Every value of a column has the column's type.
    const TYPED_COLUMNS: bool = true;

    fn dialect_of() -> &'static crate::backend::dialect::Dialect {
        &super::DIALECT
    }

    fn outermost_began(&mut self) {}

    fn outermost_ending(&mut self) {}
}

impl crate::backend::connection::Connection for PgLive {
    crate::backend::connection::shared_connection_methods!();

    fn lock<'a>(
        &'a mut self,
        table: &'a str,
        timeout: Duration,
        waiting: &'a mut (dyn FnMut(Option<String>) + Send),
    ) -> crate::backend::connection::BoxFuture<'a, Result<(), LockError>> {
        Box::pin(async move {
            let (key, pid) = lock(&mut self.conn, table, timeout, waiting).await?;
            self.lock_key = Some(key);
            self.pid = Some(pid);
            Ok(())
        })
    }

    fn unlock(&mut self) -> crate::backend::connection::BoxFuture<'_, Result<(), sqlx::Error>> {
        Box::pin(async move {
            if let Some(key) = self.lock_key {
                unlock(&mut self.conn, key).await?;
                self.lock_key = None;
            }
            Ok(())
        })
    }

    fn holds_lock(&self) -> bool {
        self.lock_key.is_some()
    }

    fn server_session(&self) -> Option<i64> {
        self.pid
    }

    fn end_lost_session(
        &mut self,
        server_session: i64,
        deadline: std::time::Instant,
    ) -> crate::backend::connection::BoxFuture<'_, Result<bool, sqlx::Error>> {
        Box::pin(end_session(&mut self.conn, server_session, deadline))
    }

    fn role(
        &mut self,
    ) -> crate::backend::connection::BoxFuture<'_, Result<ServerRole, sqlx::Error>> {
        Box::pin(role(&mut self.conn))
    }

    fn as_postgres(&mut self) -> Option<&mut sqlx::PgConnection> {
        Some(&mut self.conn)
    }
}

/// PostgreSQL's errors: SQLSTATE classes, DETAIL and HINT, and the error's position in the text sent.
pub(crate) const ERRORS: crate::backend::errors::ErrorMapping =
    crate::backend::errors::ErrorMapping {
        diagnose: |error| {
            let pg = error.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()?;
            Some(crate::migrator::Diagnosis::of_sqlstate(pg.code()))
        },
        render: |error| {
            let pg = error.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()?;
            let mut text = format!("PostgreSQL error {}: {}", pg.code(), pg.message());
            if let Some(detail) = pg.detail() {
                text.push_str(&format!("\nDETAIL: {detail}"));
            }
            if let Some(hint) = pg.hint() {
                text.push_str(&format!("\nHINT: {hint}"));
            }
            if let Some(context) = pg.r#where() {
                text.push_str(&format!("\nCONTEXT: {context}"));
            }
            Some(text)
        },
        // A 1-based character position in the text sent.
        position: |error, statement, offset_in_sent| {
            let pg = error.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()?;
            let sqlx::postgres::PgErrorPosition::Original(position) = pg.position()? else {
                return None;
            };
            let within = position.checked_sub(1)?.checked_sub(offset_in_sent)?;
            (within <= statement.chars().count()).then_some(within)
        },
    };
