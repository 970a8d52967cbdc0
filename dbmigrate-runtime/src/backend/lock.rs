//! The migration lock: one runner at a time per database, schema and history table, so replicas
//! starting at once apply each revision exactly once.
//!
//! - PostgreSQL: a session advisory lock keyed by database, schema and table (so tenants in separate
//!   schemas never block each other), taken on the run's own connection.
//! - MySQL/MariaDB: `GET_LOCK` on a name derived from the database and table, with a timeout.
//! - SQLite: an OS file lock on `<database file>-dbmigrate.lock`, which the kernel frees when the
//!   process dies; within it, each revision still takes SQLite's own write lock (`BEGIN IMMEDIATE`).
//!
//! A lock that cannot be had within the timeout is an error that names the holder where the database
//! can tell.

use std::time::Duration;

use super::session::Session;

/// A lock the session holds, and what releasing it needs.
pub(crate) enum Held {
    /// A PostgreSQL advisory lock key.
    #[cfg(feature = "postgres")]
    Postgres(i64),
    /// A MySQL named lock.
    #[cfg(feature = "mysql")]
    MySql(String),
    /// The open lock file, held for its drop (closing it frees the lock); `None` for an in-memory
    /// database, which no other process can reach.
    #[cfg(feature = "sqlite")]
    Sqlite { _file: Option<std::fs::File> },
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LockError {
    #[error("timed out")]
    Timeout {
        /// Who holds it, as far as the database can tell.
        holder: Option<String>,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[cfg(feature = "sqlite")]
    #[error("cannot open the lock file {path}: {source}", path = path.display())]
    File {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Takes the migration lock for `table`, waiting up to `timeout`.
pub(crate) async fn acquire(
    session: &mut Session,
    table: &str,
    timeout: Duration,
) -> Result<(), LockError> {
    debug_assert!(session.held.is_none(), "the lock is not re-entrant");
    // SQLite's lock is the database file's, whatever the table.
    #[cfg(not(any(feature = "postgres", feature = "mysql")))]
    let _ = table;
    let held = match session.conn() {
        #[cfg(feature = "postgres")]
        super::session::Conn::Postgres(c) => {
            let (key, pid) = super::postgres::lock(c, table, timeout).await?;
            session.server_session = Some(pid);
            Held::Postgres(key)
        }
        #[cfg(feature = "mysql")]
        super::session::Conn::MySql(c) => {
            let (name, id) = super::mysql::lock(c, table, timeout).await?;
            session.server_session = Some(id);
            Held::MySql(name)
        }
        #[cfg(feature = "sqlite")]
        super::session::Conn::Sqlite(mut c) => Held::Sqlite {
            _file: super::sqlite::lock(&mut c, timeout).await?,
        },
    };
    session.held = Some(held);
    Ok(())
}

/// Releases the lock. If the database cannot confirm, the session stays marked as locked, so
/// dropping it closes the connection and the server frees the lock.
pub(crate) async fn release(session: &mut Session) -> Result<(), sqlx::Error> {
    let Some(held) = session.held.take() else {
        return Ok(());
    };
    let result = match (&held, session.conn()) {
        #[cfg(feature = "postgres")]
        (Held::Postgres(key), super::session::Conn::Postgres(c)) => {
            super::postgres::unlock(c, *key).await
        }
        #[cfg(feature = "mysql")]
        (Held::MySql(name), super::session::Conn::MySql(c)) => super::mysql::unlock(c, name).await,
        #[cfg(feature = "sqlite")]
        (Held::Sqlite { .. }, super::session::Conn::Sqlite(_)) => Ok(()),
        #[allow(unreachable_patterns)]
        _ => unreachable!("a session's lock matches its backend"),
    };
    if result.is_err() {
        session.held = Some(held);
    }
    result
}
