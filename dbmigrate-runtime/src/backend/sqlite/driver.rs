//! SQLite specifics: the lock file beside the database, which the kernel frees when its process dies.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use sqlx::SqliteConnection;

use crate::backend::connection::LockError;

/// The main database's file; `None` for an in-memory or temporary database.
pub(crate) async fn database_file(
    conn: &mut SqliteConnection,
) -> Result<Option<PathBuf>, sqlx::Error> {
    let databases: Vec<(i64, String, String)> = sqlx::query_as("PRAGMA database_list")
        .fetch_all(&mut *conn)
        .await?;
    Ok(databases
        .into_iter()
        .find(|(_, name, file)| name == "main" && !file.is_empty())
        .map(|(_, _, file)| PathBuf::from(file)))
}

/// The lock file beside a database file.
fn lock_path(database: &std::path::Path) -> PathBuf {
    let mut path = database.as_os_str().to_owned();
    path.push("-dbmigrate.lock");
    PathBuf::from(path)
}

/// Sets how long SQLite waits for its own locks (another connection's write, a commit in progress)
/// before answering "database is locked"; returns the previous setting, in milliseconds.
pub(crate) async fn set_busy_timeout(
    conn: &mut SqliteConnection,
    timeout: Duration,
) -> Result<i64, sqlx::Error> {
    let previous: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(&mut *conn)
        .await?;
    let millis = timeout.as_millis().clamp(1, i32::MAX as u128);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "PRAGMA busy_timeout = {millis}"
    )))
    .execute(&mut *conn)
    .await?;
    Ok(previous)
}

/// Who holds SQLite's write lock on `database`, as far as can be told: a dbmigrate runner holding
/// the migration lock says so in its lock file; anything else is another connection.
pub(crate) fn write_lock_holder(database: Option<&std::path::Path>) -> String {
    let other =
        "another connection to the database (the application, or a tool) holds SQLite's write lock";
    let Some(database) = database else {
        return other.to_string();
    };
    let path = lock_path(database);
    let Ok(mut file) = OpenOptions::new().read(true).open(&path) else {
        return other.to_string();
    };
    match file.try_lock_shared() {
        // Nobody holds the migration lock: the writer is not a dbmigrate runner.
        Ok(()) => other.to_string(),
        Err(_) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            if holder.is_empty() {
                format!("a dbmigrate runner (lock file {})", path.display())
            } else {
                format!("{holder} (lock file {})", path.display())
            }
        }
    }
}

/// Whether an error is SQLite's "database is locked" or "table is locked".
pub(crate) fn is_busy(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .filter(|e| e.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some())
        .and_then(|e| e.code())
        .and_then(|code| code.parse::<i64>().ok())
        .is_some_and(|code| matches!(code & 0xff, 5 | 6))
}

/// Locks `<database file>-dbmigrate.lock`, waiting up to `timeout`. An in-memory or temporary
/// database needs no lock: no other process can open it.
pub(crate) async fn lock(
    conn: &mut SqliteConnection,
    timeout: Duration,
    waiting: &mut (dyn FnMut(Option<String>) + Send),
) -> Result<Option<File>, LockError> {
    let Some(file) = database_file(conn).await? else {
        return Ok(None);
    };
    let path = lock_path(&file);
    let io = |source| LockError::File {
        path: path.clone(),
        source,
    };
    // Never truncated on open and never deleted: a waiter may hold the same inode open.
    let mut lock_file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    let started = Instant::now();
    let mut backoff = Duration::ZERO;
    let holder = |lock_file: &mut File| {
        let mut holder = String::new();
        let _ = lock_file.rewind();
        let _ = lock_file.read_to_string(&mut holder);
        let holder = holder.trim();
        (!holder.is_empty()).then(|| format!("{holder} (lock file {})", path.display()))
    };
    let mut told = false;
    loop {
        match lock_file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(error)) => return Err(io(error)),
        }
        if !told {
            told = true;
            waiting(holder(&mut lock_file));
        }
        if started.elapsed() >= timeout {
            return Err(LockError::Timeout {
                holder: holder(&mut lock_file),
            });
        }
        backoff = next_backoff(backoff);
        tokio::time::sleep(backoff.min(timeout.saturating_sub(started.elapsed()))).await;
    }
    // Say who holds it, for the message a waiter prints when it gives up. Best effort: the lock is held.
    let program = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let since = crate::history::now_rfc3339();
    let _ = lock_file.set_len(0).and_then(|()| lock_file.rewind());
    let _ = write!(
        lock_file,
        "process {} ({program}), holding it since {since}",
        std::process::id()
    );
    Ok(Some(lock_file))
}

/// Backoff for polling a lock that cannot block on the server: short first (most waits are short),
/// growing to 200 ms.
fn next_backoff(current: Duration) -> Duration {
    (current * 2).clamp(Duration::from_millis(5), Duration::from_millis(200))
}

/// Watches the transactions dbmigrate opens on a SQLite connection, through SQLite's commit and
/// rollback hooks.
///
/// SQLite abandons a whole transaction by itself on some errors (an `OR ROLLBACK` conflict,
/// `RAISE(ROLLBACK)` in a trigger, a full disk, an I/O error), and every statement after that runs
/// in autocommit mode, each committing on its own. While one of dbmigrate's transactions is open,
/// the watch notes any rollback it did not ask for, and turns any commit it did not ask for into a
/// rollback: so nothing a revision or a history row does can commit outside the revision's
/// transaction, and the runner learns that the transaction is gone before it records anything.
#[derive(Debug, Default)]
pub(crate) struct TransactionWatch {
    /// One of our transactions is open and we have not asked to end it.
    guarding: std::sync::atomic::AtomicBool,
    /// SQLite ended a guarded transaction by itself.
    lost: std::sync::atomic::AtomicBool,
}

impl TransactionWatch {
    /// Installs the hooks on `conn`; they stay until [`TransactionWatch::remove`].
    pub(crate) async fn install(
        conn: &mut SqliteConnection,
    ) -> Result<std::sync::Arc<Self>, sqlx::Error> {
        use std::sync::atomic::Ordering::SeqCst;
        let watch = std::sync::Arc::new(Self::default());
        let mut handle = conn.lock_handle().await?;
        let on_commit = watch.clone();
        handle.set_commit_hook(move || {
            if on_commit.guarding.load(SeqCst) {
                on_commit.lost.store(true, SeqCst);
                // Refused: SQLite rolls back instead of committing.
                return false;
            }
            true
        });
        let on_rollback = watch.clone();
        handle.set_rollback_hook(move || {
            if on_rollback.guarding.load(SeqCst) {
                on_rollback.lost.store(true, SeqCst);
            }
        });
        Ok(watch)
    }

    /// Takes the hooks off `conn`, so the application's own transactions are left alone.
    pub(crate) async fn remove(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
        let mut handle = conn.lock_handle().await?;
        handle.remove_commit_hook();
        handle.remove_rollback_hook();
        Ok(())
    }

    /// Our transaction has begun: from now on, any commit or rollback we do not ask for is a loss.
    pub(crate) fn guard(&self) {
        use std::sync::atomic::Ordering::SeqCst;
        self.lost.store(false, SeqCst);
        self.guarding.store(true, SeqCst);
    }

    /// We are about to end our transaction ourselves.
    pub(crate) fn release(&self) {
        self.guarding
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether SQLite ended the guarded transaction by itself.
    pub(crate) fn lost(&self) -> bool {
        self.lost.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A SQLite connection from the application's pool, for one run.
pub(crate) struct SqliteLive {
    conn: sqlx::pool::PoolConnection<sqlx::Sqlite>,
    depth: usize,
    /// The lock file while the migration lock is held (`Some(None)`: held, on an in-memory
    /// database no other process can open).
    lock: Option<Option<File>>,
    /// The hooks watching dbmigrate's transactions, from `start_session` on.
    watch: Option<std::sync::Arc<TransactionWatch>>,
    /// The database file (for saying who holds its write lock), and the busy timeout the connection
    /// had before the run set its own.
    session: Option<(Option<PathBuf>, i64)>,
}

impl SqliteLive {
    pub(crate) fn new(conn: sqlx::pool::PoolConnection<sqlx::Sqlite>) -> Self {
        Self {
            conn,
            depth: 0,
            lock: None,
            watch: None,
            session: None,
        }
    }

    /// SQLite copies the rest of the text each time it prepares the next statement, so one call's
    /// cost grows with the square of its size: a revision of 80,000 one-line INSERTs took 8.5 s in
    /// one call, 0.7 s in calls of 4 KiB. Each call is a round trip to sqlx's worker thread, and for
    /// a fresh database's 1,000 small revisions calls of 2 to 8 KiB ran fastest of 1 to 64 KiB
    /// (`cargo xtask bench fresh-to-head --backend sqlite`), within the noise of each other.
    const BATCH_CALL_BYTES: usize = 4 << 10;
    /// Each value carries its own type, whatever the column's.
    const TYPED_COLUMNS: bool = false;

    fn dialect_of() -> &'static crate::backend::dialect::Dialect {
        &super::DIALECT
    }

    /// Only the outermost transaction can be lost or committed behind our back.
    fn outermost_began(&mut self) {
        if let Some(watch) = &self.watch {
            watch.guard();
        }
    }

    fn outermost_ending(&mut self) {
        if let Some(watch) = &self.watch {
            watch.release();
        }
    }
}

impl crate::backend::connection::Connection for SqliteLive {
    crate::backend::connection::shared_connection_methods!();

    fn transaction_lost(&self) -> bool {
        self.watch.as_ref().is_some_and(|w| w.lost())
    }

    fn start_session(
        &mut self,
        lock_timeout: Duration,
    ) -> crate::backend::connection::BoxFuture<'_, Result<(), sqlx::Error>> {
        Box::pin(async move {
            self.watch = Some(TransactionWatch::install(&mut self.conn).await?);
            let file = database_file(&mut self.conn).await?;
            let previous = set_busy_timeout(&mut self.conn, lock_timeout).await?;
            self.session = Some((file, previous));
            Ok(())
        })
    }

    fn end_session(
        &mut self,
    ) -> crate::backend::connection::BoxFuture<'_, Result<(), sqlx::Error>> {
        Box::pin(async move {
            if let Some((_, previous)) = self.session.take() {
                let previous = Duration::from_millis(u64::try_from(previous).unwrap_or(0));
                set_busy_timeout(&mut self.conn, previous).await?;
            }
            if self.watch.take().is_some() {
                TransactionWatch::remove(&mut self.conn).await?;
            }
            Ok(())
        })
    }

    fn lock<'a>(
        &'a mut self,
        _table: &'a str,
        timeout: Duration,
        waiting: &'a mut (dyn FnMut(Option<String>) + Send),
    ) -> crate::backend::connection::BoxFuture<'a, Result<(), LockError>> {
        // SQLite's lock is the database file's, whatever the table.
        Box::pin(async move {
            self.lock = Some(lock(&mut self.conn, timeout, waiting).await?);
            Ok(())
        })
    }

    fn unlock(&mut self) -> crate::backend::connection::BoxFuture<'_, Result<(), sqlx::Error>> {
        // Closing the lock file frees the lock.
        self.lock = None;
        Box::pin(async { Ok(()) })
    }

    fn holds_lock(&self) -> bool {
        self.lock.is_some()
    }

    fn write_lock_holder(&self) -> Option<String> {
        let (file, _) = self.session.as_ref()?;
        Some(write_lock_holder(file.as_deref()))
    }

    fn is_busy(&self, error: &sqlx::Error) -> bool {
        is_busy(error)
    }

    fn as_sqlite(&mut self) -> Option<&mut sqlx::SqliteConnection> {
        Some(&mut self.conn)
    }
}

/// SQLite's errors: result codes (the primary code is the low byte of the extended one).
pub(crate) const ERRORS: crate::backend::errors::ErrorMapping =
    crate::backend::errors::ErrorMapping {
        diagnose: |error| {
            use crate::migrator::Diagnosis;
            error.try_downcast_ref::<sqlx::sqlite::SqliteError>()?;
            let extended: i64 = error.code()?.parse().ok()?;
            Some(match extended & 0xff {
                // SQLITE_BUSY, SQLITE_LOCKED
                5 | 6 => Diagnosis::Conflict,
                // SQLITE_INTERRUPT
                9 => Diagnosis::Cancelled,
                // SQLITE_PERM, SQLITE_AUTH
                3 | 23 => Diagnosis::Permission,
                // SQLITE_READONLY
                8 => Diagnosis::ReadOnly,
                // SQLITE_FULL, SQLITE_NOMEM
                13 | 7 => Diagnosis::OutOfSpace,
                _ => Diagnosis::Revision,
            })
        },
        render: |error| {
            error.try_downcast_ref::<sqlx::sqlite::SqliteError>()?;
            let code = error.code().unwrap_or_default();
            Some(format!("SQLite error {code}: {}", error.message()))
        },
        // SQLite's messages say no position.
        position: |_, _, _| None,
    };
