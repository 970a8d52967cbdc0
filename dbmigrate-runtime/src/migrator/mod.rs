//! Applying revisions to a live database: upgrade, downgrade, stamp, status, resolve and repair.
//!
//! Every run that writes follows the same order: connect (retrying until the connect deadline), take
//! the migration lock, create the history tables if needed, read and verify the history against the
//! files (divergent, missing, out of order, unfinished: refused before anything runs), then run each
//! revision, committing it together with its history row, and release the lock.
//!
//! Commands that write refuse a PostgreSQL standby or a read-only MariaDB/MySQL replica before the
//! lock; [`Migrator::wait_for`] is what a replica of the application calls there instead.
//!
//! An upgrade with nothing to do skips the lock: it reads the history once and, when every revision
//! up to the target is applied and matches its file, returns. Rows are only ever written together with
//! the revision they record, so that read cannot see a half-applied revision.

mod diagnosis;
mod error;
mod report;
mod run;
mod status;
mod wait;

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use diagnosis::Diagnosis;
pub use error::{
    Committed, Error, FailedStatement, FailureCause, HistoryMismatch, Recheck, RevisionFailure,
    describe_unfinished,
};
pub use report::{Direction, Report, RunKind, StepReport, format_duration};
pub use status::{AppliedInfo, PendingInfo, Status};
pub use wait::Arrived;

use crate::backend::ServerRole;
use crate::backend::connection::LockError;
use crate::backend::session::{Pool, Session};
use crate::data::{Progress, ProgressFn};
use crate::graph::Target;
use crate::history::{self, History, Verification};
use crate::migrations::Migrations;
use crate::revision::{Revision, RevisionKind};

/// What to do about a revision that was started and not finished (see [`Migrator::resolve`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resolution {
    /// Its effects are complete (finished by hand): record it as applied.
    Applied,
    /// Its effects are undone (by hand): record it as not applied, so the next upgrade runs it again.
    Reverted,
    /// Run the rest of it: the statement that failed or was cut short, and those after it, from the
    /// file as it is now (after checking that the statements that completed are unchanged).
    Resume,
}

/// Applies a revision set with options; made by `Embedded::migrator` or [`Migrator::new`].
///
/// ```ignore
/// let report = MIGRATIONS
///     .migrator()?
///     .lock_timeout(std::time::Duration::from_secs(30))
///     .upgrade(&pool)
///     .await?;
/// ```
#[derive(Clone)]
pub struct Migrator<'m> {
    migrations: &'m Migrations,
    target: Target,
    table: String,
    lock_timeout: Duration,
    connect_timeout: Duration,
    abort_divergent: bool,
    abort_missing: bool,
    allow_out_of_order: bool,
    dry_run: bool,
    progress: Option<Arc<ProgressFn>>,
    revision_timeout: Option<Duration>,
    refuse_read_only_when_idle: bool,
}

impl<'m> Migrator<'m> {
    /// A migrator with the defaults: target `head`, the configured history table, a 10-minute lock
    /// timeout, a 30-second connect deadline, refusing on divergent, missing and out-of-order revisions.
    pub fn new(migrations: &'m Migrations) -> Self {
        Self {
            migrations,
            target: Target::Head,
            table: migrations.table().to_string(),
            lock_timeout: Duration::from_secs(600),
            connect_timeout: Duration::from_secs(30),
            abort_divergent: true,
            abort_missing: true,
            allow_out_of_order: false,
            dry_run: false,
            progress: None,
            revision_timeout: None,
            refuse_read_only_when_idle: false,
        }
    }

    /// Where [`Migrator::upgrade`] goes (default `head`).
    pub fn target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    /// The history table (default: the configured one, `refinery_schema_history` unless set).
    /// Refused unless [`crate::config::check_table_name`] accepts it, before anything runs.
    ///
    /// ```ignore
    /// let report = MIGRATIONS.migrator()?.table("schema_history")?.upgrade(&pool).await?;
    /// ```
    pub fn table(mut self, table: &str) -> Result<Self, crate::config::TableNameError> {
        crate::config::check_table_name(table)?;
        self.table = table.to_string();
        Ok(self)
    }

    /// How long to wait for another runner's lock before failing (default 10 minutes).
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// How long to keep retrying (with backoff) when the database refuses connections at startup
    /// (default 30 seconds).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Refuse to run when an applied revision's file changed (default on, as in refinery).
    pub fn abort_divergent(mut self, abort: bool) -> Self {
        self.abort_divergent = abort;
        self
    }

    /// Refuse to run when an applied revision has no file, or an unapplied `V` revision is older than
    /// the newest applied one (default on, as in refinery).
    pub fn abort_missing(mut self, abort: bool) -> Self {
        self.abort_missing = abort;
        self
    }

    /// Apply unapplied revisions older than the newest applied one instead of refusing (default off).
    pub fn allow_out_of_order(mut self, allow: bool) -> Self {
        self.allow_out_of_order = allow;
        self
    }

    /// Report what would run without running anything or taking the lock.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// How long one revision may take on PostgreSQL or MySQL before dbmigrate gives up on it
    /// (default: no limit). Past it, the revision's connection is closed, which makes the server
    /// roll back what the revision had not committed, and the history is read again on a new
    /// connection to report what did commit. This is what ends a run whose network stopped
    /// answering without closing. SQLite runs statements in this process and is not interrupted.
    pub fn revision_timeout(mut self, timeout: Duration) -> Self {
        self.revision_timeout = Some(timeout);
        self
    }

    /// Refuse a standby even when an upgrade has nothing to write (what `cargo dbmigrate` does,
    /// where the extra round trip does not matter); applications keep the no-op path one read.
    pub(crate) fn refuse_read_only_when_idle(mut self, refuse: bool) -> Self {
        self.refuse_read_only_when_idle = refuse;
        self
    }

    /// Called as long data steps make progress (also logged with `tracing`).
    pub fn on_progress(mut self, callback: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(callback));
        self
    }

    /// The revision set.
    pub fn migrations(&self) -> &'m Migrations {
        self.migrations
    }

    /// Applies the revisions up to the target, each in its own transaction with its history row.
    pub async fn upgrade(&self, pool: &impl Pool) -> Result<Report, Error> {
        let started = Instant::now();
        // A target the files alone rule out (`head` on a fork, an unknown version) is reported
        // without touching the database.
        self.migrations
            .graph()
            .upgrade_plan(&self.target, &BTreeSet::new())?;
        let mut session = self.connect(pool).await?;
        let result = self.upgrade_in(&mut session, started).await;
        let result = self.waited_for_sqlite(&session, result);
        let lost = session.server_session();
        session.end().await;
        self.find_out(pool, lost, Direction::Upgrade, result).await
    }

    /// When the connection was lost during a revision, the revision may have committed (the commit
    /// was sent, its answer never came) or not: reads the history again on a new connection, once
    /// the server has ended the lost one, and says which. When that cannot be done, says the
    /// outcome is unknown.
    async fn find_out<T>(
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

    async fn upgrade_in(&self, session: &mut Session, started: Instant) -> Result<Report, Error> {
        // Without the lock: done already, or (dry run) only looking. This read leaves out the side
        // table's rows unless one of them changes the verdict, and copies no row (see
        // `upgrade_verdict`); the locked path below reads everything again.
        let verdict =
            history::table::upgrade_verdict(session.conn(), &self.table, |applied, states| {
                let verification = Verification::of_rows(
                    self.migrations.graph(),
                    self.migrations.version_width(),
                    applied,
                    states,
                    |revision| self.migrations.checksum(revision),
                );
                (
                    verification,
                    applied
                        .iter()
                        .map(|row| row.version)
                        .collect::<BTreeSet<i64>>(),
                )
            })
            .await
            .map_err(Error::database(format!("reading `{}`", self.table)))?;
        let (verification, applied) = verdict.unwrap_or_default();
        let plan = self
            .migrations
            .graph()
            .upgrade_plan(&self.target, &applied)?;
        self.check_sql(&plan, Direction::Upgrade, session.backend())?;
        let refusal = self.refusal(&verification);
        if plan.is_empty() && refusal.is_none() {
            // Nothing to write, so the role is not asked: this path is every startup's cost, and
            // one more round trip would add half of it. `cargo dbmigrate` asks, and an application
            // that may run on a standby asks with `server_role`.
            if self.refuse_read_only_when_idle && !self.dry_run {
                self.refuse_read_only(session, "upgrade").await?;
            }
            return Ok(self.report(
                Direction::Upgrade,
                RunKind::Applied,
                Vec::new(),
                started,
                &applied,
            ));
        }
        if self.dry_run {
            return match refusal {
                Some(mismatch) => Err(mismatch),
                None => Ok(self.planned(Direction::Upgrade, &plan, started, &applied)),
            };
        }
        self.locked(session, "upgrade", |this, session| {
            Box::pin(this.upgrade_locked(session, started))
        })
        .await
    }

    async fn upgrade_locked(
        &self,
        session: &mut Session,
        started: Instant,
    ) -> Result<Report, Error> {
        let history = self.prepare(session).await?;
        let mut applied = history.applied_versions();
        let plan = self
            .migrations
            .graph()
            .upgrade_plan(&self.target, &applied)?;
        self.check_steps(&plan, Direction::Upgrade)?;
        self.check_sql(&plan, Direction::Upgrade, session.backend())?;
        let steps = run::plan(session, self, &plan, Direction::Upgrade)
            .await
            .map_err(Error::Revision)?;
        applied.extend(steps.iter().map(|step| step.version));
        Ok(self.report(
            Direction::Upgrade,
            RunKind::Applied,
            steps,
            started,
            &applied,
        ))
    }

    /// Reverts applied revisions, newest first (and everything that depends on them), until the
    /// database is at `target`: `base`, a version, `-N` or `V-N`.
    pub async fn downgrade(&self, pool: &impl Pool, target: Target) -> Result<Report, Error> {
        let started = Instant::now();
        if let Target::Head | Target::Heads = target {
            return Err(Error::Target(crate::graph::GraphError::WrongDirection {
                target,
            }));
        }
        let mut session = self.connect(pool).await?;
        let result = self.downgrade_in(&mut session, target, started).await;
        let result = self.waited_for_sqlite(&session, result);
        let lost = session.server_session();
        session.end().await;
        self.find_out(pool, lost, Direction::Downgrade, result)
            .await
    }

    async fn downgrade_in(
        &self,
        session: &mut Session,
        target: Target,
        started: Instant,
    ) -> Result<Report, Error> {
        // Planned without the lock first, so a plan that cannot run is refused before anything is
        // locked or written; the locked run plans again from what it reads under the lock.
        let history = self.read(session).await?.unwrap_or_default();
        let applied = history.applied_versions();
        let plan = self.migrations.graph().downgrade_plan(&target, &applied)?;
        self.check_steps(&plan, Direction::Downgrade)?;
        self.check_sql(&plan, Direction::Downgrade, session.backend())?;
        if self.dry_run {
            return Ok(self.planned(Direction::Downgrade, &plan, started, &applied));
        }
        self.locked(session, "downgrade", |this, session| {
            Box::pin(async move {
                let history = this.prepare(session).await?;
                let mut applied = history.applied_versions();
                let plan = this.migrations.graph().downgrade_plan(&target, &applied)?;
                this.check_steps(&plan, Direction::Downgrade)?;
                this.check_sql(&plan, Direction::Downgrade, session.backend())?;
                let steps = run::plan(session, this, &plan, Direction::Downgrade)
                    .await
                    .map_err(Error::Revision)?;
                for step in &steps {
                    applied.remove(&step.version);
                }
                Ok(this.report(
                    Direction::Downgrade,
                    RunKind::Applied,
                    steps,
                    started,
                    &applied,
                ))
            })
        })
        .await
    }

    /// Records the database as being at `target` without running anything: history rows are written
    /// for the revisions up to it and removed for those beyond it. Adopts an existing database.
    pub async fn stamp(&self, pool: &impl Pool, target: Target) -> Result<Report, Error> {
        let started = Instant::now();
        self.in_session(pool, |this, session| {
            Box::pin(this.locked(session, "stamp", move |this, session| {
                Box::pin(async move {
                    let width = this.migrations.version_width();
                    let history = this.prepare_unverified(session).await?;
                    let graph = this.migrations.graph();
                    let mut applied = history.applied_versions();
                    let (add, remove): (Vec<&Revision>, Vec<&Revision>) = match target {
                        Target::Relative(steps) if steps < 0 => {
                            (Vec::new(), graph.downgrade_plan(&target, &applied)?)
                        }
                        Target::FromVersion { steps, .. } if steps < 0 => {
                            (Vec::new(), graph.downgrade_plan(&target, &applied)?)
                        }
                        Target::Relative(_) => (graph.upgrade_plan(&target, &applied)?, Vec::new()),
                        _ => {
                            let wanted: BTreeSet<i64> = graph
                                .upgrade_plan(&target, &BTreeSet::new())?
                                .iter()
                                .map(|r| r.version)
                                .collect();
                            let add = graph.upgrade_plan(&target, &applied)?;
                            let mut remove: Vec<&Revision> = graph
                                .topological_order()
                                .into_iter()
                                .filter(|r| {
                                    applied.contains(&r.version) && !wanted.contains(&r.version)
                                })
                                .collect();
                            remove.reverse();
                            (add, remove)
                        }
                    };
                    session
                        .conn()
                        .begin()
                        .await
                        .map_err(Error::database("starting the stamp transaction"))?;
                    for revision in &remove {
                        history::table::delete(
                            session.conn(),
                            &this.table,
                            width,
                            revision.version,
                        )
                        .await
                        .map_err(Error::database(format!(
                            "removing the history row of revision {}",
                            revision.version
                        )))?;
                        applied.remove(&revision.version);
                    }
                    for revision in &add {
                        let row = run::applied_row(revision, width);
                        history::table::insert_applied(session.conn(), &this.table, width, &row)
                            .await
                            .map_err(Error::database(format!(
                                "writing the history row of revision {}",
                                revision.version
                            )))?;
                        applied.insert(revision.version);
                    }
                    session
                        .conn()
                        .commit()
                        .await
                        .map_err(Error::database("committing the stamp"))?;
                    let (direction, changed) = if add.is_empty() && !remove.is_empty() {
                        (Direction::Downgrade, &remove)
                    } else {
                        (Direction::Upgrade, &add)
                    };
                    let mut report = this.report(
                        direction,
                        RunKind::Stamped,
                        changed
                            .iter()
                            .map(|r| run::step_report(r, Duration::ZERO))
                            .collect(),
                        started,
                        &applied,
                    );
                    if direction == Direction::Upgrade {
                        report.removed = remove
                            .iter()
                            .map(|r| run::step_report(r, Duration::ZERO))
                            .collect();
                    }
                    Ok(report)
                })
            }))
        })
        .await
    }

    /// What the server behind `pool` is: a writable server, a PostgreSQL standby, or a read-only
    /// MariaDB/MySQL replica. Commands that write refuse the latter two with
    /// [`Error::ReadOnlyServer`] before the lock; an upgrade with nothing to do does not ask (it
    /// writes nothing, and stays one read of the history), so an application that may start on a
    /// standby asks here and waits there instead:
    ///
    /// ```ignore
    /// let migrator = MIGRATIONS.migrator()?;
    /// match migrator.server_role(&pool).await? {
    ///     ServerRole::Writable => drop(migrator.upgrade(&pool).await?),
    ///     _ => drop(migrator.wait_for(&pool, Target::Head, Duration::from_secs(300)).await?),
    /// }
    /// ```
    pub async fn server_role(&self, pool: &impl Pool) -> Result<ServerRole, Error> {
        self.in_session(pool, |_, session| {
            Box::pin(async move {
                session.role().await.map_err(Error::database(
                    "asking the server whether it accepts writes",
                ))
            })
        })
        .await
    }

    /// What the database has applied, what is pending, and anything wrong, without changing anything
    /// or taking the lock.
    pub async fn status(&self, pool: &impl Pool) -> Result<Status, Error> {
        self.in_session(pool, |this, session| {
            Box::pin(async move {
                let backend = session.backend();
                let history = this.read(session).await?;
                let refused = history
                    .as_ref()
                    .is_some_and(|history| this.refusal(&this.verify(history)).is_some());
                let mut status = Status::new(this.migrations, backend, &this.table, history);
                status.upgrade_refused = refused;
                Ok(status)
            })
        })
        .await
    }

    /// Settles a revision that was started and not finished (recorded in the side table as running or
    /// failed): see [`Resolution`].
    pub async fn resolve(
        &self,
        pool: &impl Pool,
        version: i64,
        resolution: Resolution,
    ) -> Result<Report, Error> {
        let started = Instant::now();
        self.in_session(pool, |this, session| {
            Box::pin(this.locked(session, "resolve", move |this, session| {
                Box::pin(run::resolve(session, this, version, resolution, started))
            }))
        })
        .await
    }

    /// Records the current checksum of every applied revision whose file differs from what was
    /// applied only in its line endings (CRLF against LF). Nothing else is touched; returns the
    /// versions repaired.
    pub async fn repair(&self, pool: &impl Pool) -> Result<Vec<i64>, Error> {
        self.in_session(pool, |this, session| {
            Box::pin(this.locked(session, "repair", |this, session| {
                Box::pin(async move {
                    let history = this.prepare_unverified(session).await?;
                    let verification = this.verify(&history);
                    let width = this.migrations.version_width();
                    let mut repaired = Vec::new();
                    session
                        .conn()
                        .begin()
                        .await
                        .map_err(Error::database("starting the repair transaction"))?;
                    for divergence in verification
                        .divergent
                        .iter()
                        .filter(|d| d.line_endings_only)
                    {
                        history::table::update_checksum(
                            session.conn(),
                            &this.table,
                            width,
                            divergence.version,
                            &divergence.file_checksum,
                        )
                        .await
                        .map_err(Error::database(format!(
                            "updating the checksum of revision {}",
                            divergence.version
                        )))?;
                        repaired.push(divergence.version);
                    }
                    session
                        .conn()
                        .commit()
                        .await
                        .map_err(Error::database("committing the repair"))?;
                    Ok(repaired)
                })
            }))
        })
        .await
    }

    /// Runs `work` on a session of its own, and hands the session back (or closes it) afterwards,
    /// whatever the outcome.
    async fn in_session<'s, T>(
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
        let result = self.waited_for_sqlite(&session, result);
        session.end().await;
        result
    }

    /// SQLite answers "database is locked" once its busy timeout (set to the lock timeout, see
    /// [`Session::start`]) has passed: that is a lock timeout, not a failed revision,
    /// and it says who holds the lock.
    fn waited_for_sqlite<T>(
        &self,
        session: &Session,
        result: Result<T, Error>,
    ) -> Result<T, Error> {
        #[cfg(not(feature = "sqlite"))]
        let _ = session;
        #[cfg(feature = "sqlite")]
        let result = {
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
        };
        result
    }

    /// Connects, retrying with backoff while the server refuses connections, up to the deadline.
    async fn connect(&self, pool: &impl Pool) -> Result<Session, Error> {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(100);
        loop {
            match pool.acquire_session().await {
                Ok(mut session) => {
                    session
                        .start(self.lock_timeout)
                        .await
                        .map_err(Error::database("preparing the connection"))?;
                    return Ok(session);
                }
                Err(error)
                    if is_transient(&error)
                        && started.elapsed() + backoff < self.connect_timeout =>
                {
                    tracing::warn!(error = %error, retry_in_ms = backoff.as_millis() as u64, "database not reachable yet");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(source) => {
                    return Err(Error::Connect {
                        waited: started.elapsed(),
                        source,
                    });
                }
            }
        }
    }

    /// Runs `work` (the writes of `command`) with the migration lock held, and always releases it
    /// (or closes the connection, which frees it, when the release itself fails or the future is
    /// dropped). A standby or read-only replica is refused first, before the lock is taken.
    async fn locked<'s, T>(
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
            .lock(&self.table, self.lock_timeout)
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
                #[cfg(feature = "sqlite")]
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
    async fn refuse_read_only(
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

    async fn read(&self, session: &mut Session) -> Result<Option<History>, Error> {
        history::table::read(session.conn(), &self.table)
            .await
            .map_err(Error::database(format!("reading `{}`", self.table)))
    }

    /// Creates the tables if needed and reads them, without judging what they say.
    async fn prepare_unverified(&self, session: &mut Session) -> Result<History, Error> {
        let conn = session.conn();
        history::table::ensure(conn, &self.table, self.migrations.version_width())
            .await
            .map_err(Error::database(format!("creating `{}`", self.table)))?;
        Ok(self.read(session).await?.unwrap_or_default())
    }

    /// Creates the tables if needed, reads them, and refuses on any mismatch with the files.
    async fn prepare(&self, session: &mut Session) -> Result<History, Error> {
        let history = self.prepare_unverified(session).await?;
        match self.refusal(&self.verify(&history)) {
            Some(error) => Err(error),
            None => Ok(history),
        }
    }

    fn verify(&self, history: &History) -> Verification {
        Verification::with_checksums(
            self.migrations.graph(),
            self.migrations.version_width(),
            history,
            |revision| self.migrations.checksum(revision),
        )
    }

    /// The error to refuse with, if the comparison found anything the options do not allow.
    fn refusal(&self, verification: &Verification) -> Option<Error> {
        let refuse_out_of_order = self.abort_missing && !self.allow_out_of_order;
        let refused = !verification.bad_rows.is_empty()
            || !verification.unfinished.is_empty()
            || !verification.rows_deleted.is_empty()
            || (self.abort_divergent && !verification.divergent.is_empty())
            || (self.abort_missing && !verification.missing_files.is_empty())
            || (refuse_out_of_order && !verification.out_of_order.is_empty());
        refused.then(|| {
            Error::History(Box::new(HistoryMismatch {
                table: self.table.clone(),
                verification: verification.clone(),
                refuse_divergent: self.abort_divergent,
                refuse_missing: self.abort_missing,
                refuse_out_of_order,
            }))
        })
    }

    /// Checks, before anything runs, that every revision of the plan can run in this direction.
    fn check_steps(&self, plan: &[&Revision], direction: Direction) -> Result<(), Error> {
        for revision in plan {
            let missing_downgrade = match revision.kind {
                RevisionKind::Sql => {
                    direction == Direction::Downgrade && revision.downgrade.is_none()
                }
                RevisionKind::Rust => {
                    let Some(step) = self.migrations.rust_step(revision.version) else {
                        return Err(Error::MissingRustStep {
                            version: revision.version,
                            path: revision.path.clone(),
                        });
                    };
                    direction == Direction::Downgrade && step.downgrade.is_none()
                }
            };
            if missing_downgrade {
                return Err(Error::NotDowngradable {
                    version: revision.version,
                    path: revision.path.clone(),
                });
            }
        }
        Ok(())
    }

    /// Refuses a plan whose SQL would not run as written in the live database's dialect (an
    /// unclosed comment or string, a `DELIMITER` line, transaction control in a transactional
    /// revision): the same problems `cargo dbmigrate check` reports, before anything runs.
    fn check_sql(
        &self,
        plan: &[&Revision],
        direction: Direction,
        backend: crate::Backend,
    ) -> Result<(), Error> {
        let sections = match direction {
            Direction::Upgrade => crate::sql::lint::Sections::Upgrade,
            Direction::Downgrade => crate::sql::lint::Sections::Downgrade,
        };
        crate::sql::lint::refuse(plan.iter().copied(), sections, backend).map_err(Error::Revisions)
    }

    fn planned(
        &self,
        direction: Direction,
        plan: &[&Revision],
        started: Instant,
        applied: &BTreeSet<i64>,
    ) -> Report {
        let steps = plan
            .iter()
            .map(|r| run::step_report(r, Duration::ZERO))
            .collect();
        self.report(direction, RunKind::DryRun, steps, started, applied)
    }

    fn report(
        &self,
        direction: Direction,
        kind: RunKind,
        steps: Vec<StepReport>,
        started: Instant,
        applied: &BTreeSet<i64>,
    ) -> Report {
        Report {
            direction,
            kind,
            steps,
            removed: Vec::new(),
            elapsed: started.elapsed(),
            current: status::current_heads(self.migrations.graph(), applied),
        }
    }

    pub(crate) fn revision_timeout_limit(&self) -> Option<Duration> {
        self.revision_timeout
    }

    pub(crate) fn progress(&self) -> Option<&ProgressFn> {
        self.progress.as_deref()
    }

    pub(crate) fn history_table(&self) -> &str {
        &self.table
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
