//! One connection taken from the application's sqlx pool for the length of a run, whichever backend
//! it speaks, and the pools dbmigrate accepts.
//!
//! A session that holds the migration lock, an open transaction or SQLite's hooks is never handed
//! back to the pool: if the run ends by an error, a panic or a dropped future, the connection is
//! closed, so the server frees the lock and rolls the transaction back. This is the sqlx leak (a
//! lock returned to the pool inside a live connection) made impossible by type.

use std::future::Future;
use std::time::{Duration, Instant};

use super::connection::{Connection, LockError};
use super::{Backend, ServerRole};

pub(crate) mod sealed {
    pub trait Sealed {}
}

/// A pool dbmigrate migrates through: `sqlx::PgPool`, `sqlx::MySqlPool` or `sqlx::SqlitePool`,
/// each behind its cargo feature (`postgres`, `mysql`, `sqlite`), or a [`super::pool::BackendPool`].
pub trait Pool: sealed::Sealed + Sync {
    /// Takes one connection for the run.
    #[doc(hidden)]
    fn acquire_session(&self) -> impl Future<Output = Result<Session, sqlx::Error>> + Send;

    /// Opens one connection with the pool's options, outside the pool, and returns why it failed:
    /// the pool itself answers only that it timed out while the server refused connections.
    #[doc(hidden)]
    fn probe(&self) -> impl Future<Output = Option<sqlx::Error>> + Send;
}

macro_rules! pool_impl {
    ($feature:literal, $db:ty, $live:path) => {
        #[cfg(feature = $feature)]
        impl sealed::Sealed for sqlx::Pool<$db> {}
        #[cfg(feature = $feature)]
        impl Pool for sqlx::Pool<$db> {
            fn acquire_session(&self) -> impl Future<Output = Result<Session, sqlx::Error>> + Send {
                let acquire = self.acquire();
                async move { Ok(Session::new(Box::new(<$live>::new(acquire.await?)))) }
            }

            fn probe(&self) -> impl Future<Output = Option<sqlx::Error>> + Send {
                let options = self.connect_options();
                async move {
                    use sqlx::ConnectOptions as _;
                    use sqlx::Connection as _;
                    match options.connect().await {
                        Ok(connection) => {
                            let _ = connection.close().await;
                            None
                        }
                        Err(error) => Some(error),
                    }
                }
            }
        }
    };
}
pool_impl!("postgres", sqlx::Postgres, super::postgres::PgLive);
pool_impl!("mysql", sqlx::MySql, super::mysql::MySqlLive);
pool_impl!("sqlite", sqlx::Sqlite, super::sqlite::SqliteLive);

/// One connection for the length of a run, and the migration lock when it holds it.
///
/// End it with [`Session::end`]: a session dropped otherwise (an error path that returned early, a
/// panic, a dropped future) closes its connection instead of returning it to the pool.
#[doc(hidden)]
pub struct Session {
    conn: Box<dyn Connection>,
    /// The connection's state is not known to be clean (a transaction SQLite abandoned, a broken
    /// protocol exchange, an abandoned statement): it must not go back to the pool.
    poisoned: bool,
    /// `start_session` ran, so `end_session` must run before the connection is pooled again.
    started: bool,
    /// Ended cleanly: the connection may go back to the pool.
    ended: bool,
}

impl Session {
    fn new(conn: Box<dyn Connection>) -> Self {
        Self {
            conn,
            poisoned: false,
            started: false,
            ended: false,
        }
    }

    /// Prepares the connection for a run (see [`Connection::start_session`]).
    pub(crate) async fn start(&mut self, lock_timeout: Duration) -> Result<(), sqlx::Error> {
        self.started = true;
        self.conn.start_session(lock_timeout).await
    }

    /// Hands the connection back to the pool in the state the application left it. A poisoned
    /// session, or one still holding the lock or a transaction, is closed instead.
    pub(crate) async fn end(mut self) {
        if self.started && !self.poisoned && self.conn.end_session().await.is_err() {
            self.poisoned = true;
        }
        self.ended =
            !self.poisoned && !self.conn.holds_lock() && self.conn.transaction_depth() == 0;
    }

    /// The connection.
    pub(crate) fn conn(&mut self) -> &mut dyn Connection {
        &mut *self.conn
    }

    /// The database the session speaks to.
    pub fn backend(&self) -> Backend {
        self.conn.backend()
    }

    /// Takes the migration lock for `table`, waiting up to `timeout`.
    pub(crate) async fn lock(
        &mut self,
        table: &str,
        timeout: Duration,
        waiting: &mut (dyn FnMut(Option<String>) + Send),
    ) -> Result<(), LockError> {
        debug_assert!(!self.conn.holds_lock(), "the lock is not re-entrant");
        self.conn.lock(table, timeout, waiting).await
    }

    /// Releases the lock. If the database cannot confirm, the session stays locked, so dropping it
    /// closes the connection and the server frees the lock.
    pub(crate) async fn unlock(&mut self) -> Result<(), sqlx::Error> {
        self.conn.unlock().await
    }

    /// The server's id for this connection, read with the lock.
    pub(crate) fn server_session(&self) -> Option<i64> {
        self.conn.server_session()
    }

    /// Marks the connection as unfit for reuse: it is closed when the session ends.
    pub(crate) fn poison(&mut self) {
        self.poisoned = true;
    }

    /// Whether the connection was marked unfit for reuse.
    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// See [`Connection::end_lost_session`].
    pub(crate) async fn end_lost_session(
        &mut self,
        server_session: i64,
        deadline: Instant,
    ) -> Result<bool, sqlx::Error> {
        self.conn.end_lost_session(server_session, deadline).await
    }

    /// Whether the server accepts writes, or is a standby or read-only replica.
    pub(crate) async fn role(&mut self) -> Result<ServerRole, sqlx::Error> {
        self.conn.role().await
    }

    /// Who holds the database's write lock, when it answered "database is locked".
    pub(crate) fn write_lock_holder(&self) -> Option<String> {
        self.conn.write_lock_holder()
    }

    /// Whether an error is the database saying its own write lock stayed taken.
    pub(crate) fn is_busy(&self, error: &sqlx::Error) -> bool {
        self.conn.is_busy(error)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Still locked (the run was cut short), or in an unknown state: closing the connection is
        // what frees a session lock on the server and drops whatever the connection still holds;
        // returning it to the pool would keep them alive.
        if !self.ended {
            self.conn.close_on_drop();
        }
    }
}
