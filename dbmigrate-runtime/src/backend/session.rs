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
                async move { Session::new(Pooled::$variant(acquire.await?)).await }
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
///
/// End it with [`Session::end`]: a session dropped otherwise (an error path that returned early, a
/// panic, a dropped future) closes its connection instead of returning it to the pool, because it may
/// still hold the lock, an open transaction or SQLite hooks.
#[doc(hidden)]
pub struct Session {
    pooled: Pooled,
    pub(crate) held: Option<Held>,
    /// On SQLite, the hooks watching dbmigrate's transactions (see [`super::sqlite::TransactionWatch`]).
    #[cfg(feature = "sqlite")]
    watch: Option<std::sync::Arc<super::sqlite::TransactionWatch>>,
    /// The connection's state is not known to be clean (a transaction SQLite abandoned behind sqlx's
    /// back, a broken protocol exchange): it must not go back to the pool.
    poisoned: bool,
    ended: bool,
    /// The server's id for this connection (PostgreSQL backend pid, MySQL connection id), read
    /// with the lock, so that after losing the connection a new one can wait for it to be gone.
    pub(crate) server_session: Option<i64>,
    /// On SQLite: the database file (for saying who holds its write lock), and the busy timeout
    /// the connection had before the session set its own, restored when it ends.
    #[cfg(feature = "sqlite")]
    sqlite: Option<(Option<std::path::PathBuf>, i64)>,
}

impl Session {
    async fn new(mut pooled: Pooled) -> Result<Self, sqlx::Error> {
        #[cfg(feature = "sqlite")]
        let watch = match &mut pooled {
            Pooled::Sqlite(c) => Some(super::sqlite::TransactionWatch::install(c).await?),
            #[allow(unreachable_patterns)]
            _ => None,
        };
        Ok(Self {
            pooled,
            held: None,
            #[cfg(feature = "sqlite")]
            watch,
            poisoned: false,
            ended: false,
            server_session: None,
            #[cfg(feature = "sqlite")]
            sqlite: None,
        })
    }

    /// Hands the connection back to the pool in the state the application left it: SQLite's hooks
    /// removed. A poisoned session, or one still holding the lock, is closed instead.
    pub(crate) async fn end(mut self) {
        #[cfg(feature = "sqlite")]
        if let (Pooled::Sqlite(c), Some((_, previous))) = (&mut self.pooled, &self.sqlite)
            && super::sqlite::set_busy_timeout(
                c,
                std::time::Duration::from_millis(u64::try_from(*previous).unwrap_or(0)),
            )
            .await
            .is_err()
        {
            self.poisoned = true;
        }
        #[cfg(feature = "sqlite")]
        if let (Pooled::Sqlite(c), Some(_)) = (&mut self.pooled, &self.watch)
            && super::sqlite::TransactionWatch::remove(c).await.is_err()
        {
            self.poisoned = true;
        }
        self.ended = !self.poisoned && self.held.is_none();
    }

    /// On SQLite, makes every wait for SQLite's own locks (another connection writing, a commit in
    /// progress) last up to `timeout`, as waits for the migration lock do, instead of the
    /// connection's busy timeout (5 s by default in sqlx). Nothing elsewhere.
    pub(crate) async fn wait_for_locks_up_to(
        &mut self,
        timeout: std::time::Duration,
    ) -> Result<(), sqlx::Error> {
        #[cfg(feature = "sqlite")]
        if let Pooled::Sqlite(c) = &mut self.pooled {
            let file = super::sqlite::database_file(c).await?;
            let previous = super::sqlite::set_busy_timeout(c, timeout).await?;
            self.sqlite = Some((file, previous));
        }
        #[cfg(not(feature = "sqlite"))]
        let _ = timeout;
        Ok(())
    }

    /// Who holds the database's write lock, when SQLite answered "database is locked".
    pub(crate) fn write_lock_holder(&self) -> Option<String> {
        #[cfg(feature = "sqlite")]
        if let Some((file, _)) = &self.sqlite {
            return Some(super::sqlite::write_lock_holder(file.as_deref()));
        }
        None
    }

    /// Marks the connection as unfit for reuse: it is closed when the session ends.
    pub(crate) fn poison(&mut self) {
        self.poisoned = true;
    }

    /// Whether the connection was marked unfit for reuse.
    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// Ends the server's side of another, lost connection of this program (`server_session`) and
    /// waits, until `deadline`, for it to be gone; returns whether it is. Until it is, whatever it
    /// was doing (a commit in flight) may still land.
    pub(crate) async fn end_lost_session(
        &mut self,
        server_session: i64,
        deadline: std::time::Instant,
    ) -> Result<bool, sqlx::Error> {
        match &mut self.pooled {
            #[cfg(feature = "postgres")]
            Pooled::Postgres(c) => super::postgres::end_session(c, server_session, deadline).await,
            #[cfg(feature = "mysql")]
            Pooled::MySql(c) => super::mysql::end_session(c, server_session, deadline).await,
            // A SQLite connection is in this process: it cannot be lost.
            #[cfg(feature = "sqlite")]
            Pooled::Sqlite(_) => Ok(true),
        }
    }

    /// Whether the server accepts writes, or is a standby or read-only replica.
    pub(crate) async fn role(&mut self) -> Result<super::ServerRole, sqlx::Error> {
        match &mut self.pooled {
            #[cfg(feature = "postgres")]
            Pooled::Postgres(c) => super::postgres::role(c).await,
            #[cfg(feature = "mysql")]
            Pooled::MySql(c) => super::mysql::role(c).await,
            #[cfg(feature = "sqlite")]
            Pooled::Sqlite(_) => Ok(super::ServerRole::Writable),
        }
    }

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
            Pooled::Sqlite(c) => Conn::Sqlite(SqliteConn {
                conn: c,
                watch: self.watch.as_ref(),
            }),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Still locked (the run was cut short), or in an unknown state: closing the connection is
        // what frees a session lock on the server and drops whatever the connection still holds;
        // returning it to the pool would keep them alive. (SQLite's lock is a file lock, released
        // when `held` drops; its connection is closed for its hooks and transaction state.)
        if !self.ended {
            match &mut self.pooled {
                #[cfg(feature = "postgres")]
                Pooled::Postgres(c) => c.close_on_drop(),
                #[cfg(feature = "mysql")]
                Pooled::MySql(c) => c.close_on_drop(),
                #[cfg(feature = "sqlite")]
                Pooled::Sqlite(c) => c.close_on_drop(),
            }
        }
    }
}

/// A SQLite connection with the watch over dbmigrate's transactions on it.
#[cfg(feature = "sqlite")]
pub(crate) struct SqliteConn<'c> {
    conn: &'c mut sqlx::SqliteConnection,
    watch: Option<&'c std::sync::Arc<super::sqlite::TransactionWatch>>,
}

#[cfg(feature = "sqlite")]
impl std::ops::Deref for SqliteConn<'_> {
    type Target = sqlx::SqliteConnection;

    fn deref(&self) -> &Self::Target {
        self.conn
    }
}

#[cfg(feature = "sqlite")]
impl std::ops::DerefMut for SqliteConn<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.conn
    }
}

/// A borrowed connection on one backend, inside a transaction or not.
pub(crate) enum Conn<'c> {
    #[cfg(feature = "postgres")]
    Postgres(&'c mut sqlx::PgConnection),
    #[cfg(feature = "mysql")]
    MySql(&'c mut sqlx::MySqlConnection),
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteConn<'c>),
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
            Self::Sqlite(c) => Conn::Sqlite(SqliteConn {
                conn: c.conn,
                watch: c.watch,
            }),
        }
    }

    /// Whether the database ended the transaction this connection is in by itself (SQLite, on an
    /// `OR ROLLBACK` conflict, `RAISE(ROLLBACK)`, a full disk or an I/O error): nothing done since
    /// it began is there any more, and nothing more may be recorded in it.
    pub(crate) fn transaction_lost(&self) -> bool {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(c) => c.watch.is_some_and(|w| w.lost()),
            #[allow(unreachable_patterns)]
            _ => false,
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
            Self::Sqlite(SqliteConn { conn, watch }) => {
                if sqlx::Connection::is_in_transaction(&*conn) {
                    Tx::Sqlite(Guarded(None), conn.begin().await?)
                } else {
                    let tx = conn.begin_with(Backend::Sqlite.begin_statement()).await?;
                    // Only the outermost transaction can be lost or committed behind our back.
                    if let Some(watch) = watch {
                        watch.guard();
                    }
                    Tx::Sqlite(Guarded(watch), tx)
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
    /// With the watch when this is the outermost transaction. The guard comes first, so that when
    /// the transaction is dropped unfinished, the watch stops guarding before sqlx rolls it back.
    #[cfg(feature = "sqlite")]
    Sqlite(Guarded<'c>, sqlx::Transaction<'c, sqlx::Sqlite>),
}

/// The watch over an outermost SQLite transaction, released when the transaction ends by our hand:
/// committed, rolled back, or dropped.
#[cfg(feature = "sqlite")]
pub(crate) struct Guarded<'c>(Option<&'c std::sync::Arc<super::sqlite::TransactionWatch>>);

#[cfg(feature = "sqlite")]
impl Drop for Guarded<'_> {
    fn drop(&mut self) {
        if let Some(watch) = self.0 {
            watch.release();
        }
    }
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
            Self::Sqlite(guarded, t) => Conn::Sqlite(SqliteConn {
                conn: t,
                watch: guarded.0,
            }),
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
            Self::Sqlite(guarded, t) => {
                drop(guarded);
                t.commit().await
            }
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
            Self::Sqlite(guarded, t) => {
                drop(guarded);
                t.rollback().await
            }
        }
    }
}
