//! A live connection to one of the databases, as everything above `backend/` uses it: the one
//! trait each backend implements in its own file (`postgres/driver.rs`, `mysql/driver.rs`,
//! `sqlite/driver.rs`), with its lock, its transactions and how it runs SQL. The runner, the history
//! table and data steps hold a `&mut dyn Connection` and never ask which database it is.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use super::dialect::Dialect;
use super::{Backend, ServerRole};
use crate::data::{DataError, Row, Value};
use crate::history::AppliedRef;

/// A boxed future, so the trait can be used as `dyn Connection`.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why the migration lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LockError {
    #[error("timed out")]
    Timeout {
        /// Who holds it, as far as the database can tell.
        holder: Option<String>,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("cannot open the lock file {path}: {source}", path = path.display())]
    #[cfg_attr(
        not(feature = "sqlite"),
        allow(dead_code, reason = "SQLite's lock is a file")
    )]
    File {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Why rows could not be fetched.
#[derive(Debug)]
pub(crate) enum FetchError {
    /// The database refused the statement.
    Database(sqlx::Error),
    /// A column could not be read as a portable value.
    Decode(DataError),
}

/// A connection taken from the application's pool for one run.
pub(crate) trait Connection: Send {
    /// The database's SQL.
    fn dialect(&self) -> &'static Dialect;

    /// Which database this is (for messages).
    fn backend(&self) -> Backend {
        self.dialect().backend
    }

    /// Runs SQL text without parameters (simple protocol); returns the rows it affected.
    fn execute<'a>(&'a mut self, sql: &'a str) -> BoxFuture<'a, Result<u64, sqlx::Error>>;

    /// Runs statements as one batch (one round trip on the servers; a few KiB per call into
    /// SQLite's worker), calling `completed_one` with each statement's index as its result arrives.
    /// On a failure, returns how many completed before it, so the one that failed is the next.
    fn execute_batch<'a>(
        &'a mut self,
        statements: &'a [&'a str],
        completed_one: &'a mut (dyn FnMut(usize) + Send),
    ) -> BoxFuture<'a, Result<(), (usize, sqlx::Error)>>;

    /// Runs one statement, its placeholders in the dialect's form, bound to `params`.
    fn execute_with<'a>(
        &'a mut self,
        sql: String,
        params: Vec<Value>,
    ) -> BoxFuture<'a, Result<u64, sqlx::Error>>;

    /// Runs a query, its placeholders in the dialect's form, and reads every row as portable values.
    fn fetch_with<'a>(
        &'a mut self,
        sql: String,
        params: Vec<Value>,
    ) -> BoxFuture<'a, Result<Vec<Row>, FetchError>>;

    /// Runs a query of refinery's four columns (version, name, applied_on, checksum) and hands the
    /// rows to `use_rows` borrowed from the result set, without copying them.
    fn with_history_rows<'a>(
        &'a mut self,
        sql: &'a str,
        use_rows: &'a mut (dyn FnMut(&[AppliedRef<'_>]) + Send),
    ) -> BoxFuture<'a, Result<(), sqlx::Error>>;

    /// Opens a transaction, or a savepoint inside the one open.
    fn begin(&mut self) -> BoxFuture<'_, Result<(), sqlx::Error>>;

    /// Commits the innermost transaction (releases the savepoint).
    fn commit(&mut self) -> BoxFuture<'_, Result<(), sqlx::Error>>;

    /// Rolls the innermost transaction back (to its savepoint), waiting for the database.
    fn rollback(&mut self) -> BoxFuture<'_, Result<(), sqlx::Error>>;

    /// How many transactions (and savepoints) are open.
    fn transaction_depth(&self) -> usize;

    /// Whether the database ended the open transaction by itself (SQLite, on an `OR ROLLBACK`
    /// conflict, `RAISE(ROLLBACK)`, a full disk or an I/O error): nothing done since it began is
    /// there any more, and nothing more may be recorded in it.
    fn transaction_lost(&self) -> bool {
        false
    }

    /// Prepares the connection for a run: on SQLite, the watch over its transactions and waits for
    /// SQLite's own locks as long as `lock_timeout`.
    fn start_session(&mut self, lock_timeout: Duration) -> BoxFuture<'_, Result<(), sqlx::Error>> {
        let _ = lock_timeout;
        Box::pin(async { Ok(()) })
    }

    /// Puts back what `start_session` changed, before the connection returns to the pool.
    fn end_session(&mut self) -> BoxFuture<'_, Result<(), sqlx::Error>> {
        Box::pin(async { Ok(()) })
    }

    /// Takes the migration lock for `table`, waiting up to `timeout`; `waiting` is told, with who
    /// holds it where the database can tell, when the lock is taken and the wait begins.
    fn lock<'a>(
        &'a mut self,
        table: &'a str,
        timeout: Duration,
        waiting: &'a mut (dyn FnMut(Option<String>) + Send),
    ) -> BoxFuture<'a, Result<(), LockError>>;

    /// Releases the migration lock. If the database cannot confirm, the connection still counts as
    /// locked, so it is closed rather than pooled, which frees the lock on the server.
    fn unlock(&mut self) -> BoxFuture<'_, Result<(), sqlx::Error>>;

    /// Whether this connection holds the migration lock.
    fn holds_lock(&self) -> bool;

    /// The server's id for this connection (PostgreSQL backend pid, MySQL connection id), read with
    /// the lock, so that after losing the connection a new one can wait for it to be gone.
    fn server_session(&self) -> Option<i64> {
        None
    }

    /// Ends the server's side of another, lost connection of this program and waits, until
    /// `deadline`, for it to be gone; returns whether it is. Until it is, whatever it was doing (a
    /// commit in flight) may still land.
    fn end_lost_session(
        &mut self,
        server_session: i64,
        deadline: Instant,
    ) -> BoxFuture<'_, Result<bool, sqlx::Error>> {
        let _ = (server_session, deadline);
        Box::pin(async { Ok(true) })
    }

    /// Whether the server accepts writes, or is a standby or read-only replica.
    fn role(&mut self) -> BoxFuture<'_, Result<ServerRole, sqlx::Error>> {
        Box::pin(async { Ok(ServerRole::Writable) })
    }

    /// Who holds the database's own write lock, when it answered "database is locked" (SQLite).
    fn write_lock_holder(&self) -> Option<String> {
        None
    }

    /// Whether an error is the database saying its own write lock stayed taken (SQLite's "database
    /// is locked").
    fn is_busy(&self, error: &sqlx::Error) -> bool {
        let _ = error;
        false
    }

    /// Closes the connection when it is dropped instead of returning it to the pool.
    fn close_on_drop(&mut self);

    /// The PostgreSQL connection, for data steps' own sqlx queries and `COPY`.
    #[cfg(feature = "postgres")]
    fn as_postgres(&mut self) -> Option<&mut sqlx::PgConnection> {
        None
    }

    /// The MySQL/MariaDB connection, for data steps' own sqlx queries.
    #[cfg(feature = "mysql")]
    fn as_mysql(&mut self) -> Option<&mut sqlx::MySqlConnection> {
        None
    }

    /// The SQLite connection, for data steps' own sqlx queries.
    #[cfg(feature = "sqlite")]
    fn as_sqlite(&mut self) -> Option<&mut sqlx::SqliteConnection> {
        None
    }
}

/// The methods whose text is the same on every backend, written once for a connection type whose
/// `conn` field derefs to an sqlx connection (each backend's file expands it in its `impl`).
macro_rules! shared_connection_methods {
    () => {
        fn execute<'a>(
            &'a mut self,
            sql: &'a str,
        ) -> $crate::backend::connection::BoxFuture<'a, Result<u64, sqlx::Error>> {
            Box::pin(async move {
                let sql = sqlx::AssertSqlSafe(sql.to_string());
                Ok(sqlx::raw_sql(sql)
                    .execute(&mut *self.conn)
                    .await?
                    .rows_affected())
            })
        }

        fn execute_batch<'a>(
            &'a mut self,
            statements: &'a [&'a str],
            completed_one: &'a mut (dyn FnMut(usize) + Send),
        ) -> $crate::backend::connection::BoxFuture<'a, Result<(), (usize, sqlx::Error)>> {
            Box::pin(async move {
                use futures_util::TryStreamExt as _;
                let call_bytes = Self::BATCH_CALL_BYTES;
                let mut completed = 0;
                while completed < statements.len() {
                    // Each statement ends with its own semicolon and newline, so a trailing line
                    // comment in one cannot swallow the next.
                    let mut batch = String::new();
                    let mut end = completed;
                    for statement in &statements[completed..] {
                        if !batch.is_empty() && batch.len() + statement.len() > call_bytes {
                            break;
                        }
                        batch.push_str(statement);
                        batch.push_str(";\n");
                        end += 1;
                    }
                    let mut results =
                        sqlx::raw_sql(sqlx::AssertSqlSafe(batch)).execute_many(&mut *self.conn);
                    loop {
                        match results.try_next().await {
                            Ok(Some(_)) => {
                                completed_one(completed);
                                completed += 1;
                            }
                            Ok(None) => break,
                            Err(error) => return Err((completed, error)),
                        }
                    }
                    drop(results);
                    // Never send a statement twice, even if a call reported fewer results than
                    // it had statements.
                    completed = end;
                }
                Ok(())
            })
        }

        fn execute_with<'a>(
            &'a mut self,
            sql: String,
            params: Vec<$crate::data::Value>,
        ) -> $crate::backend::connection::BoxFuture<'a, Result<u64, sqlx::Error>> {
            Box::pin(async move {
                let query =
                    $crate::data::codec::bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), params);
                Ok(query.execute(&mut *self.conn).await?.rows_affected())
            })
        }

        fn fetch_with<'a>(
            &'a mut self,
            sql: String,
            params: Vec<$crate::data::Value>,
        ) -> $crate::backend::connection::BoxFuture<
            'a,
            Result<Vec<$crate::data::Row>, $crate::backend::connection::FetchError>,
        > {
            Box::pin(async move {
                use $crate::backend::connection::FetchError;
                let query =
                    $crate::data::codec::bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), params);
                let rows = query
                    .fetch_all(&mut *self.conn)
                    .await
                    .map_err(FetchError::Database)?;
                $crate::data::codec::decode_rows(&rows).map_err(FetchError::Decode)
            })
        }

        fn with_history_rows<'a>(
            &'a mut self,
            sql: &'a str,
            use_rows: &'a mut (dyn FnMut(&[$crate::history::AppliedRef<'_>]) + Send),
        ) -> $crate::backend::connection::BoxFuture<'a, Result<(), sqlx::Error>> {
            Box::pin(async move {
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                    .fetch_all(&mut *self.conn)
                    .await?;
                let refs = $crate::history::table::decode_applied(&rows, Self::TYPED_COLUMNS)?;
                use_rows(&refs);
                Ok(())
            })
        }

        fn transaction_depth(&self) -> usize {
            self.depth
        }

        fn begin(&mut self) -> $crate::backend::connection::BoxFuture<'_, Result<(), sqlx::Error>> {
            Box::pin(async move {
                let [open, _, _] = $crate::backend::connection::transaction_statements(
                    Self::dialect_of().begin,
                    self.depth,
                );
                sqlx::raw_sql(sqlx::AssertSqlSafe(open))
                    .execute(&mut *self.conn)
                    .await?;
                if self.depth == 0 {
                    self.outermost_began();
                }
                self.depth += 1;
                Ok(())
            })
        }

        fn commit(
            &mut self,
        ) -> $crate::backend::connection::BoxFuture<'_, Result<(), sqlx::Error>> {
            Box::pin(async move {
                // A failed COMMIT ends the transaction too (the server rolls it back).
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 {
                    self.outermost_ending();
                }
                let [_, commit, _] = $crate::backend::connection::transaction_statements(
                    Self::dialect_of().begin,
                    self.depth,
                );
                sqlx::raw_sql(sqlx::AssertSqlSafe(commit))
                    .execute(&mut *self.conn)
                    .await?;
                Ok(())
            })
        }

        fn rollback(
            &mut self,
        ) -> $crate::backend::connection::BoxFuture<'_, Result<(), sqlx::Error>> {
            Box::pin(async move {
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 {
                    self.outermost_ending();
                }
                let [_, _, rollback] = $crate::backend::connection::transaction_statements(
                    Self::dialect_of().begin,
                    self.depth,
                );
                sqlx::raw_sql(sqlx::AssertSqlSafe(rollback))
                    .execute(&mut *self.conn)
                    .await?;
                Ok(())
            })
        }

        fn dialect(&self) -> &'static $crate::backend::dialect::Dialect {
            Self::dialect_of()
        }

        fn close_on_drop(&mut self) {
            self.conn.close_on_drop();
        }
    };
}
pub(crate) use shared_connection_methods;

/// The statements that open, commit and roll back transaction level `depth` (0 is the outermost),
/// given the dialect's `BEGIN`.
pub(crate) fn transaction_statements(begin: &'static str, depth: usize) -> [String; 3] {
    if depth == 0 {
        [begin.to_string(), "COMMIT".into(), "ROLLBACK".into()]
    } else {
        let name = format!("dbmigrate_level_{depth}");
        [
            format!("SAVEPOINT {name}"),
            format!("RELEASE SAVEPOINT {name}"),
            format!("ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}"),
        ]
    }
}
