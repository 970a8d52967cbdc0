//! MySQL/MariaDB specifics: the `GET_LOCK` named lock and who holds it, and whether the server is
//! read-only.

use std::time::Duration;

use sqlx::MySqlConnection;

use crate::backend::ServerRole;
use crate::backend::connection::LockError;

/// Whether the server refuses writes as a whole, as replicas are set up to (`read_only`, which
/// MySQL's `super_read_only` implies, or `innodb_read_only`). A user with the privilege to write on
/// a `read_only` server (SUPER, READ_ONLY ADMIN) is refused too: a migration written on a replica
/// breaks its replication.
pub(crate) async fn role(conn: &mut MySqlConnection) -> Result<ServerRole, sqlx::Error> {
    let (read_only, innodb_read_only): (i64, i64) = sqlx::query_as(
        "SELECT CAST(@@global.read_only AS SIGNED), CAST(@@global.innodb_read_only AS SIGNED)",
    )
    .fetch_one(conn)
    .await?;
    Ok(if read_only != 0 {
        ServerRole::MySqlReadOnly {
            setting: "read_only",
        }
    } else if innodb_read_only != 0 {
        ServerRole::MySqlReadOnly {
            setting: "innodb_read_only",
        }
    } else {
        ServerRole::Writable
    })
}

/// Takes the named lock for `table` in the current database, waiting up to `timeout`; returns the
/// name, which unlocking needs, and this connection's id (see [`end_session`]).
pub(crate) async fn lock(
    conn: &mut MySqlConnection,
    table: &str,
    timeout: Duration,
    waiting: &mut (dyn FnMut(Option<String>) + Send),
) -> Result<(String, i64), LockError> {
    // Lock names are limited to 64 characters, so the database and table are hashed into one.
    let (name, locked, id): (String, Option<i64>, i64) = sqlx::query_as(
        "SELECT n, GET_LOCK(n, 0), CAST(CONNECTION_ID() AS SIGNED) FROM (SELECT CONCAT('dbmigrate:', SHA1(CONCAT(COALESCE(DATABASE(), ''), '.', ?))) AS n) s",
    )
    .bind(table)
    .fetch_one(&mut *conn)
    .await?;
    if locked == Some(1) {
        return Ok((name, id));
    }
    waiting(holder(conn, &name).await.unwrap_or(None));
    // GET_LOCK takes whole seconds on every server version we support.
    let seconds = i64::try_from(timeout.as_millis().div_ceil(1000))
        .unwrap_or(i64::MAX)
        .max(1);
    let (locked,): (Option<i64>,) = sqlx::query_as("SELECT GET_LOCK(?, ?)")
        .bind(&name)
        .bind(seconds)
        .fetch_one(&mut *conn)
        .await?;
    if locked == Some(1) {
        Ok((name, id))
    } else {
        Err(LockError::Timeout {
            holder: holder(conn, &name).await.unwrap_or(None),
        })
    }
}

/// Describes the connection holding lock `name`, from `IS_USED_LOCK` and the process list.
async fn holder(conn: &mut MySqlConnection, name: &str) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(i64, String, String, String, i64, String, String)> = sqlx::query_as(
        "SELECT CAST(ID AS SIGNED), COALESCE(USER, ''), COALESCE(HOST, ''), COALESCE(DB, ''), \
                CAST(COALESCE(TIME, 0) AS SIGNED), COALESCE(STATE, ''), COALESCE(LEFT(INFO, 160), '') \
         FROM information_schema.PROCESSLIST WHERE ID = IS_USED_LOCK(?)",
    )
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(id, user, host, db, seconds, state, info)| {
        let doing = if info.is_empty() {
            state
        } else {
            format!(
                "`{}`",
                info.split_whitespace().collect::<Vec<_>>().join(" ")
            )
        };
        format!(
            "MySQL connection {id} ({user}@{host}, database `{db}`), busy for {seconds} s: {doing}"
        )
    }))
}

pub(crate) async fn unlock(conn: &mut MySqlConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT RELEASE_LOCK(?)")
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends the server thread of a connection this program lost (`id`), and waits until it is gone, at
/// most until `deadline`: only then is what it was doing settled. Returns whether it is gone.
pub(crate) async fn end_session(
    conn: &mut MySqlConnection,
    id: i64,
    deadline: std::time::Instant,
) -> Result<bool, sqlx::Error> {
    // KILL takes no parameters; the id is a number we read from the server. It fails when the
    // thread is gone already, or without the right to kill it: waiting tells either way.
    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("KILL CONNECTION {id}")))
        .execute(&mut *conn)
        .await;
    loop {
        let alive: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?")
                .bind(id)
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

/// A MySQL/MariaDB connection from the application's pool, for one run.
pub(crate) struct MySqlLive {
    conn: sqlx::pool::PoolConnection<sqlx::MySql>,
    depth: usize,
    /// The named lock while it is held.
    lock_name: Option<String>,
    /// This connection's id, read with the lock.
    id: Option<i64>,
}

impl MySqlLive {
    pub(crate) fn new(conn: sqlx::pool::PoolConnection<sqlx::MySql>) -> Self {
        Self {
            conn,
            depth: 0,
            lock_name: None,
            id: None,
        }
    }

    /// One call holds a whole batch: the server runs a multi-statement query in order.
    const BATCH_CALL_BYTES: usize = usize::MAX;
    /// Every value of a column has the column's type.
    const TYPED_COLUMNS: bool = true;

    fn dialect_of() -> &'static crate::backend::dialect::Dialect {
        &super::DIALECT
    }

    fn outermost_began(&mut self) {}

    fn outermost_ending(&mut self) {}
}

impl crate::backend::connection::Connection for MySqlLive {
    crate::backend::connection::shared_connection_methods!();

    fn lock<'a>(
        &'a mut self,
        table: &'a str,
        timeout: Duration,
        waiting: &'a mut (dyn FnMut(Option<String>) + Send),
    ) -> crate::backend::connection::BoxFuture<'a, Result<(), LockError>> {
        Box::pin(async move {
            let (name, id) = lock(&mut self.conn, table, timeout, waiting).await?;
            self.lock_name = Some(name);
            self.id = Some(id);
            Ok(())
        })
    }

    fn unlock(&mut self) -> crate::backend::connection::BoxFuture<'_, Result<(), sqlx::Error>> {
        Box::pin(async move {
            if let Some(name) = &self.lock_name {
                unlock(&mut self.conn, name).await?;
                self.lock_name = None;
            }
            Ok(())
        })
    }

    fn holds_lock(&self) -> bool {
        self.lock_name.is_some()
    }

    fn server_session(&self) -> Option<i64> {
        self.id
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

    fn as_mysql(&mut self) -> Option<&mut sqlx::MySqlConnection> {
        Some(&mut self.conn)
    }
}

/// MySQL's and MariaDB's errors: error numbers, and the line a syntax error names.
pub(crate) const ERRORS: crate::backend::errors::ErrorMapping =
    crate::backend::errors::ErrorMapping {
        diagnose: |error| {
            use crate::migrator::Diagnosis;
            let mysql = error.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()?;
            Some(match mysql.number() {
                // Lock wait timeout; deadlock (and Galera's certification failure, reported as one).
                1205 | 1213 | 1180 | 1181 => Diagnosis::Conflict,
                // Query execution interrupted; max_statement_time / max_execution_time exceeded.
                1317 | 1028 | 3024 | 1969 => Diagnosis::Cancelled,
                // Access denied for a table, a column, a database; a missing SUPER-like privilege.
                1044 | 1045 | 1142 | 1143 | 1227 | 1370 => Diagnosis::Permission,
                // --read-only; a read-only transaction.
                1290 | 1792 | 1836 => Diagnosis::ReadOnly,
                // The table is full; out of memory; disk full.
                1114 | 1037 | 1038 | 1021 => Diagnosis::OutOfSpace,
                // Server gone, lost connection during query, shutdown in progress.
                2006 | 2013 | 1053 | 1927 => Diagnosis::ConnectionLost,
                _ => Diagnosis::of_sqlstate(mysql.code().unwrap_or("")),
            })
        },
        render: |error| {
            let mysql = error.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()?;
            Some(format!(
                "MySQL/MariaDB error {} ({}): {}",
                mysql.number(),
                mysql.code().unwrap_or("HY000"),
                mysql.message()
            ))
        },
        // Syntax errors end with "... at line N", N counted in the statement sent.
        position: |error, statement, _| {
            let mysql = error.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()?;
            let line: usize = mysql
                .message()
                .rsplit_once(" at line ")?
                .1
                .trim()
                .parse()
                .ok()?;
            let mut chars = 0;
            for (index, text) in statement.split('\n').enumerate() {
                if index + 1 == line {
                    return Some(chars);
                }
                chars += text.chars().count() + 1;
            }
            None
        },
    };
