//! A connection taken from the application's sqlx pool, whichever backend it speaks, and the
//! transactions revisions run in.
//!
//! A session that holds the migration lock is never handed back to the pool: if the run ends by an
//! error, a panic or a dropped future, the connection is closed, so the server frees the lock. This is
//! the sqlx leak (a lock returned to the pool inside a live connection) made impossible by type.

use std::future::Future;

use sqlx::pool::PoolConnection;

use super::Backend;
use super::lock::Held;

/// Evaluates `$body` with `$conn` bound to the concrete `&mut &mut XConnection` inside a [`Conn`], for
/// every backend compiled in. Code that is the same text on every backend is written once this way.
macro_rules! each_conn {
    ($value:expr, $conn:ident => $body:expr) => {
        match $value {
            #[cfg(feature = "postgres")]
            $crate::backend::session::Conn::Postgres($conn) => $body,
            #[cfg(feature = "mysql")]
            $crate::backend::session::Conn::MySql($conn) => $body,
            #[cfg(feature = "sqlite")]
            $crate::backend::session::Conn::Sqlite($conn) => $body,
        }
    };
}
pub(crate) use each_conn;

pub(crate) mod sealed {
    pub trait Sealed {}
}

/// A pool dbmigrate migrates through: `sqlx::PgPool`, `sqlx::MySqlPool` or `sqlx::SqlitePool`,
/// each behind its cargo feature (`postgres`, `mysql`, `sqlite`).
pub trait Pool: sealed::Sealed + Sync {
    /// Takes one connection for the run.
    #[doc(hidden)]
    fn acquire_session(&self) -> impl Future<Output = Result<Session, sqlx::Error>> + Send;
}

macro_rules! pool_impl {
    ($feature:literal, $db:ty, $variant:ident) => {
        #[cfg(feature = $feature)]
        impl sealed::Sealed for sqlx::Pool<$db> {}
        #[cfg(feature = $feature)]
        impl Pool for sqlx::Pool<$db> {
            fn acquire_session(&self) -> impl Future<Output = Result<Session, sqlx::Error>> + Send {
                let acquire = self.acquire();
                async move {
                    Ok(Session {
                        pooled: Pooled::$variant(acquire.await?),
                        held: None,
                    })
                }
            }
        }
    };
}
pool_impl!("postgres", sqlx::Postgres, Postgres);
pool_impl!("mysql", sqlx::MySql, MySql);
pool_impl!("sqlite", sqlx::Sqlite, Sqlite);

enum Pooled {
    #[cfg(feature = "postgres")]
    Postgres(PoolConnection<sqlx::Postgres>),
    #[cfg(feature = "mysql")]
    MySql(PoolConnection<sqlx::MySql>),
    #[cfg(feature = "sqlite")]
    Sqlite(PoolConnection<sqlx::Sqlite>),
}

/// One connection for the length of a run, and the migration lock when it holds it.
#[doc(hidden)]
pub struct Session {
    pooled: Pooled,
    pub(crate) held: Option<Held>,
}

impl Session {
    /// The database the session speaks to.
    pub fn backend(&self) -> Backend {
        match self.pooled {
            #[cfg(feature = "postgres")]
            Pooled::Postgres(_) => Backend::Postgres,
            #[cfg(feature = "mysql")]
            Pooled::MySql(_) => Backend::MySql,
            #[cfg(feature = "sqlite")]
            Pooled::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// The connection, borrowed.
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match &mut self.pooled {
            #[cfg(feature = "postgres")]
            Pooled::Postgres(c) => Conn::Postgres(c),
            #[cfg(feature = "mysql")]
            Pooled::MySql(c) => Conn::MySql(c),
            #[cfg(feature = "sqlite")]
            Pooled::Sqlite(c) => Conn::Sqlite(c),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.held.is_some() {
            // Still locked: the run was cut short. Closing the connection is what frees a session
            // lock on the server; returning it to the pool would keep the lock alive.
            match &mut self.pooled {
                #[cfg(feature = "postgres")]
                Pooled::Postgres(c) => c.close_on_drop(),
                #[cfg(feature = "mysql")]
                Pooled::MySql(c) => c.close_on_drop(),
                // SQLite's lock is a file lock, released when `held` drops.
                #[cfg(feature = "sqlite")]
                Pooled::Sqlite(_) => {}
            }
        }
    }
}

/// A borrowed connection on one backend, inside a transaction or not.
pub(crate) enum Conn<'c> {
    #[cfg(feature = "postgres")]
    Postgres(&'c mut sqlx::PgConnection),
    #[cfg(feature = "mysql")]
    MySql(&'c mut sqlx::MySqlConnection),
    #[cfg(feature = "sqlite")]
    Sqlite(&'c mut sqlx::SqliteConnection),
}

impl<'c> Conn<'c> {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => Backend::Postgres,
            #[cfg(feature = "mysql")]
            Self::MySql(_) => Backend::MySql,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// The same connection, borrowed for a shorter time.
    pub(crate) fn reborrow(&mut self) -> Conn<'_> {
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(c) => Conn::Postgres(c),
            #[cfg(feature = "mysql")]
            Self::MySql(c) => Conn::MySql(c),
            #[cfg(feature = "sqlite")]
            Self::Sqlite(c) => Conn::Sqlite(c),
        }
    }

    /// Runs SQL text without parameters (simple protocol), returning the rows it affected.
    pub(crate) async fn execute(&mut self, sql: &str) -> Result<u64, sqlx::Error> {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        each_conn!(self, c => Ok(sqlx::raw_sql(sql).execute(&mut **c).await?.rows_affected()))
    }

    /// Runs statements as one batch: one round trip on PostgreSQL (simple protocol), one call into
    /// SQLite's worker thread. On a failure, returns how many statements completed before it, so the
    /// one that failed is the next. (MySQL runs revisions statement by statement to record progress.)
    pub(crate) async fn execute_batch(
        &mut self,
        statements: &[&str],
    ) -> Result<(), (usize, sqlx::Error)> {
        self.execute_batch_observed(statements, |_| {}).await
    }

    /// [`Conn::execute_batch`], calling `completed_one` with each statement's index as its result
    /// arrives.
    pub(crate) async fn execute_batch_observed(
        &mut self,
        statements: &[&str],
        mut completed_one: impl FnMut(usize),
    ) -> Result<(), (usize, sqlx::Error)> {
        use futures_util::TryStreamExt as _;
        // SQLite copies the rest of the text each time it prepares the next statement, so one
        // call's cost grows with the square of its size: a revision of 80,000 one-line INSERTs took
        // 8.5 s in one call, 0.7 s in calls of 4 KiB. There, statements go a few KiB at a time;
        // each call is a round trip to sqlx's worker thread, and for a fresh database's 1,000 small
        // revisions calls of 2 to 8 KiB ran fastest of 1 to 64 KiB (`cargo xtask bench
        // fresh-to-head --backend sqlite`), within the noise of each other.
        let call_bytes = match self.backend() {
            Backend::Sqlite => 4 << 10,
            _ => usize::MAX,
        };
        let mut completed = 0;
        while completed < statements.len() {
            // Each statement ends with its own semicolon and newline, so a trailing line comment
            // in one cannot swallow the next.
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
            each_conn!(&mut *self, c => {
                let mut results = sqlx::raw_sql(sqlx::AssertSqlSafe(batch)).execute_many(&mut **c);
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
            });
            // Never send a statement twice, even if a call reported fewer results than it had
            // statements.
            completed = end;
        }
        Ok(())
    }

    /// Opens a transaction (or a savepoint inside one), with the backend's own BEGIN.
    pub(crate) async fn begin(self) -> Result<Tx<'c>, sqlx::Error> {
        use sqlx::Connection as _;
        Ok(match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(c) => Tx::Postgres(c.begin().await?),
            #[cfg(feature = "mysql")]
            Self::MySql(c) => Tx::MySql(c.begin().await?),
            #[cfg(feature = "sqlite")]
            Self::Sqlite(c) => {
                if sqlx::Connection::is_in_transaction(&*c) {
                    Tx::Sqlite(c.begin().await?)
                } else {
                    Tx::Sqlite(c.begin_with(Backend::Sqlite.begin_statement()).await?)
                }
            }
        })
    }
}

/// An open transaction; dropped without [`Tx::commit`], it rolls back.
pub(crate) enum Tx<'c> {
    #[cfg(feature = "postgres")]
    Postgres(sqlx::Transaction<'c, sqlx::Postgres>),
    #[cfg(feature = "mysql")]
    MySql(sqlx::Transaction<'c, sqlx::MySql>),
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::Transaction<'c, sqlx::Sqlite>),
}

impl Tx<'_> {
    /// The connection inside the transaction.
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(t) => Conn::Postgres(t),
            #[cfg(feature = "mysql")]
            Self::MySql(t) => Conn::MySql(t),
            #[cfg(feature = "sqlite")]
            Self::Sqlite(t) => Conn::Sqlite(t),
        }
    }

    /// Commits.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(t) => t.commit().await,
            #[cfg(feature = "mysql")]
            Self::MySql(t) => t.commit().await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(t) => t.commit().await,
        }
    }

    /// Rolls back, waiting for the database to confirm.
    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(t) => t.rollback().await,
            #[cfg(feature = "mysql")]
            Self::MySql(t) => t.rollback().await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(t) => t.rollback().await,
        }
    }
}
