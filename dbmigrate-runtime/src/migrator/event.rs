//! What happens while a migrator runs, for an application or the CLI to show as it comes: a
//! connection attempt that failed and will be retried, a wait for another runner's lock, each
//! revision as it starts and finishes, and data steps' progress.

use std::time::Duration;

use super::report::Direction;
use crate::data::Progress;
use crate::revision::RevisionKind;

/// Something that happened during a run, in the order it happened.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// Connecting failed; the migrator tries again until its connect deadline.
    ConnectRetry {
        /// Attempts so far.
        attempt: u32,
        /// Why this one failed (the real cause, such as a refused connection).
        error: &'a sqlx::Error,
        /// How much longer it keeps trying.
        retry_for: Duration,
    },
    /// Another runner holds the migration lock; this one waits for it.
    LockWait {
        /// Who holds it, where the database can tell.
        holder: Option<&'a str>,
        /// How long it waits at most.
        timeout: Duration,
    },
    /// A revision started.
    RevisionStarted {
        /// Its version.
        version: i64,
        /// Its name.
        name: &'a str,
        /// SQL or Rust.
        kind: RevisionKind,
        /// Applied or reverted.
        direction: Direction,
    },
    /// A revision finished and is recorded.
    RevisionFinished {
        /// Its version.
        version: i64,
        /// Its name.
        name: &'a str,
        /// Applied or reverted.
        direction: Direction,
        /// How long it took.
        duration: Duration,
    },
    /// A data step's long task made progress.
    Progress(&'a Progress),
}

/// An event callback, set with the migrator's `on_event`.
pub type EventFn = dyn Fn(&Event<'_>) + Send + Sync;
