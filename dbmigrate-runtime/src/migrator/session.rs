//! A run's connection from beginning to end: connecting with retries, the migration lock around
//! the work, SQLite's own locks counted as lock waits, and finding out, after a lost connection,
//! what a revision committed.

use std::future::Future;
use std::time::{Duration, Instant};

use super::Migrator;
use super::error::Error;
use super::event::Event;
use super::failure::{Committed, Recheck};
use super::report::Direction;
use crate::backend::ServerRole;
use crate::backend::connection::LockError;
use crate::backend::session::{Pool, Session};

impl<'m> Migrator<'m> {
    /// When the connection was lost during a revision, the revision may have committed (the commit
    /// was sent, its answer never came) or not: reads the history again on a new connection, once
    /// the server has ended the lost one, and says which. When that cannot be done, says the
    /// outcome is unknown.
    pub(super) async fn find_out<T>(
        &self,
        pool: &impl Pool,
        lost_session: Option<i64>,
        direction: Direction,
        result: Result<T, Error>,
    ) -> Result<T, Error> {
        let Err(Error::Revision(mut failure)) = result else {
            return result;
        };
        if !failure.cause.is_connection_lost() {
            return Err(Error::Revision(failure));
        }
        let deadline = Instant::now() + self.connect_timeout;
        let recheck = async {
            let mut session = self.connect(pool).await.map_err(|e| e.to_string())?;
            let outcome = async {
                if let Some(id) = lost_session {
                    let gone = session
                        .end_lost_session(id, deadline)
                        .await
                        .map_err(|e| e.to_string())?;
                    if !gone {
                        return Err(format!(
                            "the server still ran the lost session ({id}) after {:.0} s",
                            self.connect_timeout.as_secs_f64()
                        ));
                    }
                }
                self.read(&mut session).await.map_err(|e| e.to_string())
            }
            .await;
            session.end().await;
            outcome
        };
        match recheck.await {
            Ok(history) => {
                let history = history.unwrap_or_default();
                let recorded = history.applied_versions().contains(&failure.version);
                let unfinished = history
                    .state(failure.version)
                    .is_some_and(|s| s.is_unfinished());
                failure.committed = match (unfinished, direction, recorded) {
                    // Part of it ran outside a transaction: the side table says how far.
                    (true, _, _) => Committed::Unknown,
                    (false, Direction::Upgrade, true) | (false, Direction::Downgrade, false) => {
                        Committed::Whole
                    }
                    (false, _, _) => Committed::Nothing,
                };
                failure.recheck = Some(Recheck::Confirmed);
            }
            Err(reason) => {
                failure.committed = Committed::Unknown;
                failure.recheck = Some(Recheck::Impossible(reason));
            }
        }
        Err(Error::Revision(failure))
    }

    /// Runs `work` on a session of its own, and hands the session back (or closes it) afterwards,
    /// whatever the outcome.
    pub(super) async fn in_session<'s, T>(
        &'s self,
        pool: &impl Pool,
        work: impl for<'a> FnOnce(
            &'a Self,
            &'a mut Session,
        ) -> std::pin::Pin<
            Box<dyn Future<Output = Result<T, Error>> + Send + 'a>,
        >,
    ) -> Result<T, Error> {
        let mut session = self.connect(pool).await?;
        let result = work(self, &mut session).await;
        let result = self.waited_for_database_lock(&session, result);
        session.end().await;
        result
    }

    /// A database whose own write lock stays taken (SQLite: "database is locked", once its busy
    /// timeout, set to the lock timeout, has passed; see
    /// [`Session::start`]): that is a lock timeout, not a failed revision,
    /// and it says who holds the lock.
    pub(super) fn waited_for_database_lock<T>(
        &self,
        session: &Session,
        result: Result<T, Error>,
    ) -> Result<T, Error> {
        let busy = |error: &sqlx::Error| session.is_busy(error);
        let holder = || {
            session
                .write_lock_holder()
                .unwrap_or_else(|| "another connection".to_string())
        };
        match result {
            Err(Error::Database { action, source }) if busy(&source) => {
                Err(Error::DatabaseLocked {
                    action,
                    lock_timeout: self.lock_timeout,
                    holder: holder(),
                    completed: Vec::new(),
                })
            }
            Err(Error::Revision(failure))
                if failure.committed == Committed::Nothing
                    && failure.cause.database_error().is_some_and(busy) =>
            {
                Err(Error::DatabaseLocked {
                    action: format!(
                        "running revision {} ({})",
                        failure.version,
                        failure.path.display()
                    ),
                    lock_timeout: self.lock_timeout,
                    holder: holder(),
                    completed: failure.completed,
                })
            }
            other => other,
        }
    }

    /// Connects, retrying with backoff while the server refuses connections, up to the deadline:
    /// each attempt is cut at what is left of it, every failed attempt is an event, and the error
    /// names the last real cause (a refused connection), not the pool's timeout.
    pub(super) async fn connect(&self, pool: &impl Pool) -> Result<Session, Error> {
        /// Longest one attempt may take before it counts as failed and is retried: the pool's own
        /// attempt waits out its acquire timeout while the server refuses connections.
        const ATTEMPT: Duration = Duration::from_secs(1);
        let started = Instant::now();
        let deadline = started + self.connect_timeout;
        let mut backoff = Duration::from_millis(100);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            let error = match tokio::time::timeout(left.min(ATTEMPT), pool.acquire_session()).await
            {
                Ok(Ok(mut session)) => {
                    session
                        .start(self.lock_timeout)
                        .await
                        .map_err(Error::database("preparing the connection"))?;
                    return Ok(session);
                }
                Ok(Err(sqlx::Error::PoolTimedOut)) | Err(_) => {
                    // The pool says only that it timed out: one connection of our own says why.
                    match pool.probe().await {
                        Some(error) => error,
                        None => sqlx::Error::PoolTimedOut,
                    }
                }
                Ok(Err(error)) => error,
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if !is_transient(&error) || left <= backoff {
                return Err(Error::Connect {
                    waited: started.elapsed(),
                    source: error,
                });
            }
            tracing::warn!(error = %error, attempt, retry_for_ms = left.as_millis() as u64, "database not reachable yet");
            self.emit(Event::ConnectRetry {
                attempt,
                error: &error,
                retry_for: left,
            });
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    /// Runs `work` (the writes of `command`) with the migration lock held, and always releases it
    /// (or closes the connection, which frees it, when the release itself fails or the future is
    /// dropped). A standby or read-only replica is refused first, before the lock is taken.
    pub(super) async fn locked<'s, T>(
        &'s self,
        session: &'s mut Session,
        command: &'static str,
        work: impl for<'a> FnOnce(
            &'a Self,
            &'a mut Session,
        ) -> std::pin::Pin<
            Box<dyn Future<Output = Result<T, Error>> + Send + 'a>,
        >,
    ) -> Result<T, Error> {
        self.refuse_read_only(session, command).await?;
        let waiting = Instant::now();
        session
            .lock(&self.table, self.lock_timeout, &mut |holder| {
                tracing::info!(
                    holder = holder.as_deref().unwrap_or("unknown"),
                    "waiting for the migration lock"
                );
                self.emit(Event::LockWait {
                    holder: holder.as_deref(),
                    timeout: self.lock_timeout,
                });
            })
            .await
            .map_err(|error| match error {
                LockError::Timeout { holder } => Error::LockTimeout {
                    table: self.table.clone(),
                    waited: waiting.elapsed(),
                    holder,
                },
                LockError::Database(source) => Error::Database {
                    action: "taking the migration lock".into(),
                    source,
                },
                LockError::File { .. } => Error::LockFile(error.to_string()),
            })?;
        let result = work(self, &mut *session).await;
        if let Err(Error::Revision(failure)) = &result
            && failure.cause.is_connection_lost()
        {
            session.poison();
        }
        if session.is_poisoned() {
            // The connection is broken or mid-message; closing it (the session still counts as
            // locked) is what frees the lock on the server.
            return result;
        }
        if let Err(error) = session.unlock().await {
            // The session still counts as locked, so it is closed rather than pooled, and closing it
            // is what frees the lock on the server: the work itself stands as done.
            tracing::warn!(%error, "releasing the migration lock failed; closing the connection frees it");
        }
        result
    }

    /// Refuses `command` on a PostgreSQL standby or a read-only MariaDB/MySQL server: it would fail
    /// at its first write (or, for a user allowed to write on a read-only replica, break its
    /// replication), and it is the URL that is wrong, not the revisions.
    pub(super) async fn refuse_read_only(
        &self,
        session: &mut Session,
        command: &'static str,
    ) -> Result<(), Error> {
        match session.role().await.map_err(Error::database(
            "asking the server whether it accepts writes",
        ))? {
            ServerRole::Writable => Ok(()),
            role => Err(Error::ReadOnlyServer { command, role }),
        }
    }
}

/// Whether connecting may succeed if tried again: the server is down, starting or overloaded.
fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(e) => {
            matches!(
                e.code().as_deref(),
                // PostgreSQL: cannot connect now (starting up), too many connections; MySQL: too many connections.
                Some("57P03" | "53300" | "08004" | "08S01")
            ) && !e.message().contains("Access denied")
        }
        _ => false,
    }
}
