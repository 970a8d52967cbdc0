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

mod checks;
mod diagnosis;
mod error;
mod event;
mod failure;
mod report;
mod run;
mod session;
mod stamp;
mod status;
mod wait;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use diagnosis::Diagnosis;
pub use error::{Error, HistoryMismatch, describe_unfinished};
pub use event::{Event, EventFn};
pub use failure::{Committed, FailedStatement, FailureCause, Recheck, RevisionFailure};
pub use report::{Direction, Report, RunKind, StepReport, format_duration};
pub use status::{AppliedInfo, PendingInfo, Status};
pub use wait::Arrived;

use crate::backend::ServerRole;
use crate::backend::session::{Pool, Session};
use crate::data::{Progress, ProgressFn};
use crate::graph::Target;
use crate::history::{self, Verification};
use crate::migrations::Migrations;
use crate::revision::Revision;

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
    /// What data steps report progress to: the `on_progress` callback and the `on_event` one.
    progress: Option<Arc<ProgressFn>>,
    on_progress: Option<Arc<ProgressFn>>,
    revision_timeout: Option<Duration>,
    refuse_read_only_when_idle: bool,
    events: Option<Arc<EventFn>>,
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
            on_progress: None,
            revision_timeout: None,
            refuse_read_only_when_idle: false,
            events: None,
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

    /// Called as the run goes: connection retries, lock waits, each revision as it starts and
    /// finishes, and data steps' progress (see [`Event`]).
    ///
    /// ```ignore
    /// let migrator = MIGRATIONS.migrator()?.on_event(|event| {
    ///     if let Event::RevisionFinished { version, name, duration, .. } = event {
    ///         eprintln!("applied {version} {name} in {duration:?}");
    ///     }
    /// });
    /// ```
    pub fn on_event(mut self, callback: impl Fn(&Event<'_>) + Send + Sync + 'static) -> Self {
        self.events = Some(Arc::new(callback));
        self.join_progress();
        self
    }

    /// Progress goes to both callbacks, whichever are set.
    fn join_progress(&mut self) {
        self.progress = match (self.on_progress.clone(), self.events.clone()) {
            (None, None) => None,
            (Some(callback), None) => Some(callback),
            (on_progress, Some(events)) => Some(Arc::new(move |progress: &Progress| {
                if let Some(callback) = &on_progress {
                    callback(progress);
                }
                events(&Event::Progress(progress));
            })),
        };
    }

    /// Tells the event callback, if there is one.
    pub(crate) fn emit(&self, event: Event<'_>) {
        if let Some(callback) = &self.events {
            callback(&event);
        }
    }

    /// Called as long data steps make progress (also logged with `tracing`).
    pub fn on_progress(mut self, callback: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.on_progress = Some(Arc::new(callback));
        self.join_progress();
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
        let result = self.waited_for_database_lock(&session, result);
        let lost = session.server_session();
        session.end().await;
        self.find_out(pool, lost, Direction::Upgrade, result).await
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
        let result = self.waited_for_database_lock(&session, result);
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
