//! Waiting for the primary's migration to replicate: an application replica that reads from a
//! standby (or starts before the one replica that migrates has finished) waits until the revisions
//! of its target are in the history table it reads, instead of running against a schema that is
//! not there yet.
//!
//! A revision's history row commits together with it (or, on MySQL, after its last statement), and
//! a standby or replica applies commits in the primary's order, so once the rows are there, so is
//! the schema they record.

use std::collections::BTreeSet;
use std::fmt;
use std::time::{Duration, Instant};

use super::{Error, Migrator, status};
use crate::backend::session::Pool;
use crate::data::Progress;
use crate::graph::Target;

/// How long to wait between two reads of the history, at first and at most.
const FIRST_POLL: Duration = Duration::from_millis(50);
const LONGEST_POLL: Duration = Duration::from_secs(1);

/// What [`Migrator::wait_for`] found when the target had arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Arrived {
    /// What was waited for.
    pub target: Target,
    /// How long it took.
    pub waited: Duration,
    /// How many times the history was read.
    pub reads: u32,
    /// The heads applied on the server.
    pub current: Vec<i64>,
}

impl fmt::Display for Arrived {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "target `{}` is applied on this server (waited {:.1} s)",
            self.target,
            self.waited.as_secs_f64()
        )
    }
}

impl Migrator<'_> {
    /// Waits until every revision `target` needs is recorded as applied in the history table of the
    /// database behind `pool` (a standby or replica, typically), reading it again with a backoff of
    /// up to a second, for at most `timeout`. Writes nothing and takes no lock, so it works on a
    /// PostgreSQL standby and a read-only replica.
    ///
    /// Progress is logged with `tracing` and passed to the [`Migrator::on_progress`] callback
    /// (`version` is the first revision still missing, `rows` how many of the target's revisions
    /// have arrived). A history that does not match the files (a changed revision, one this
    /// program does not know...) is refused at once, as `upgrade` would refuse it; a revision the
    /// side table shows as still running is waited for. Past `timeout`: [`Error::WaitTimeout`],
    /// naming the revisions still missing.
    ///
    /// ```ignore
    /// let replica = sqlx::PgPool::connect(&std::env::var("REPLICA_URL")?).await?;
    /// MIGRATIONS
    ///     .migrator()?
    ///     .wait_for(&replica, Target::Head, std::time::Duration::from_secs(300))
    ///     .await?;
    /// ```
    pub async fn wait_for(
        &self,
        pool: &impl Pool,
        target: Target,
        timeout: Duration,
    ) -> Result<Arrived, Error> {
        let started = Instant::now();
        let graph = self.migrations.graph();
        let needed: Vec<i64> = graph
            .upgrade_plan(&target, &BTreeSet::new())?
            .iter()
            .map(|revision| revision.version)
            .collect();
        let mut poll = FIRST_POLL;
        let mut reads = 0;
        loop {
            let history = self
                .in_session(pool, |this, session| Box::pin(this.read(session)))
                .await?
                .unwrap_or_default();
            reads += 1;
            let mut verification = self.verify(&history);
            // A revision running on the primary right now shows as unfinished until it commits:
            // that is what is being waited for, not a reason to refuse.
            let unfinished: BTreeSet<i64> = std::mem::take(&mut verification.unfinished)
                .into_iter()
                .map(|row| row.version)
                .collect();
            if let Some(refusal) = self.refusal(&verification) {
                return Err(refusal);
            }
            let applied = history.applied_versions();
            let pending: Vec<i64> = needed
                .iter()
                .copied()
                .filter(|v| !applied.contains(v) || unfinished.contains(v))
                .collect();
            let current = status::current_heads(graph, &applied);
            if pending.is_empty() {
                tracing::info!(%target, reads, waited_ms = started.elapsed().as_millis() as u64, "the target has arrived on this server");
                return Ok(Arrived {
                    target,
                    waited: started.elapsed(),
                    reads,
                    current,
                });
            }
            let arrived = needed.len() - pending.len();
            tracing::info!(
                %target,
                arrived,
                needed = needed.len(),
                first_missing = pending[0],
                waited_ms = started.elapsed().as_millis() as u64,
                "waiting for the primary's migration to arrive on this server"
            );
            if let Some(progress) = self.progress() {
                progress(&Progress {
                    version: pending[0],
                    total: Some(u64::try_from(needed.len()).unwrap_or(u64::MAX)),
                    task: format!(
                        "waiting for revision(s) {} of `{target}` to arrive from the primary",
                        pending
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    rows: arrived as u64,
                    elapsed: started.elapsed(),
                });
            }
            let left = timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(Error::WaitTimeout {
                    target,
                    table: self.table.clone(),
                    waited: started.elapsed(),
                    pending,
                    current,
                });
            }
            tokio::time::sleep(poll.min(left)).await;
            poll = (poll * 2).min(LONGEST_POLL);
        }
    }
}
