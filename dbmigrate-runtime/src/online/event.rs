//! What happens while an online command runs, as plain data the CLI renders as it comes: progress
//! of data steps now, and the revision, connection and lock events of the migrator's event callback
//! as they become available.

use serde::{Deserialize, Serialize};

use super::report::millis;
use crate::data::Progress;

/// Something that happened during a command, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Event {
    /// A connection attempt failed; the migrator retries until its connect deadline.
    ConnectRetry {
        /// Attempts so far.
        attempt: u32,
        /// Why the attempt failed.
        error: String,
        /// How much longer it keeps trying, in milliseconds.
        retry_for_ms: u64,
    },
    /// Another process holds the migration lock; this one waits for it.
    LockWait {
        /// Who holds it, where the database can tell.
        holder: Option<String>,
        /// How long it waits at most, in milliseconds.
        timeout_ms: u64,
    },
    /// A revision started.
    RevisionStarted {
        /// Its version.
        version: i64,
        /// Its name.
        name: String,
        /// `sql` or `rust`.
        kind: String,
        /// `true` when it is being reverted.
        downgrade: bool,
    },
    /// A revision finished and is recorded.
    RevisionFinished {
        /// Its version.
        version: i64,
        /// Its name.
        name: String,
        /// `true` when it was reverted.
        downgrade: bool,
        /// How long it took, in milliseconds.
        duration_ms: u64,
    },
    /// A data step's long task made progress (`backfill players`, `bulk insert into teams`).
    Progress {
        /// The revision running it.
        version: i64,
        /// What it is doing.
        task: String,
        /// Rows done so far.
        rows: u64,
        /// Rows to do in all, when known.
        total: Option<u64>,
        /// Time since the task started, in milliseconds.
        elapsed_ms: u64,
    },
}

impl From<&Progress> for Event {
    fn from(progress: &Progress) -> Self {
        Self::Progress {
            version: progress.version,
            task: progress.task.clone(),
            rows: progress.rows,
            total: progress.total,
            elapsed_ms: millis(progress.elapsed),
        }
    }
}

impl Event {
    /// The migrator's event as data for the CLI (`None` for events it does not show).
    pub fn of(event: &crate::migrator::Event<'_>) -> Option<Self> {
        use crate::migrator::{Direction, Event as Run};
        Some(match event {
            Run::ConnectRetry {
                attempt,
                error,
                retry_for,
            } => Self::ConnectRetry {
                attempt: *attempt,
                error: error.to_string(),
                retry_for_ms: millis(*retry_for),
            },
            Run::LockWait { holder, timeout } => Self::LockWait {
                holder: holder.map(str::to_string),
                timeout_ms: millis(*timeout),
            },
            Run::RevisionStarted {
                version,
                name,
                kind,
                direction,
            } => Self::RevisionStarted {
                version: *version,
                name: (*name).to_string(),
                kind: kind.to_string(),
                downgrade: *direction == Direction::Downgrade,
            },
            Run::RevisionFinished {
                version,
                name,
                direction,
                duration,
            } => Self::RevisionFinished {
                version: *version,
                name: (*name).to_string(),
                downgrade: *direction == Direction::Downgrade,
                duration_ms: millis(*duration),
            },
            Run::Progress(progress) => Self::from(*progress),
        })
    }
}
