//! The online commands (`upgrade`, `downgrade`, `current`, `status`, `stamp`, `resolve`, `repair`)
//! as `cargo dbmigrate` runs them: a typed [`Request`] in, [`Event`]s as it runs, a typed
//! [`Response`] out. The CLI renders all of it and chooses the exit code.
//!
//! The CLI calls [`execute`] in its own process when no Rust step can run; otherwise it builds a
//! small runner around the package's compiled Rust revisions whose `main` is [`runner_main`], which
//! executes the same request the same way and writes the events and the response as JSON lines
//! ([`RunnerMessage`]) on its standard output.

mod error;
mod event;
mod report;
mod runner;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use error::{ErrorKind, ErrorReport};
pub use event::Event;
pub use report::{
    AppliedRevision, BadRow, CurrentReport, Divergent, MissingFile, PendingRevision, Problems,
    Response, RunDirection, RunKind, RunReport, RunStep, StatusReport, Unfinished,
};
pub use runner::{RunnerMessage, runner_main};

use crate::backend::pool::{BackendPool, PoolError};
use crate::graph::Target;
use crate::migrations::Migrations;
use crate::migrator::{Error, Migrator, Resolution};

/// Options that apply to every online command.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Options {
    /// The history table, overriding the configured one.
    pub table: Option<String>,
    /// How long to wait for another runner's lock.
    pub lock_timeout: Option<Duration>,
    /// How long to keep retrying while the database refuses connections.
    pub connect_timeout: Option<Duration>,
    /// How long one revision may take before it is given up on.
    pub revision_timeout: Option<Duration>,
    /// Apply unapplied revisions older than the newest applied one.
    pub allow_out_of_order: bool,
    /// Apply even though applied revisions' files changed.
    pub ignore_divergent: bool,
    /// Apply even though applied revisions have no file.
    pub ignore_missing: bool,
}

/// One online command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Command {
    /// Apply revisions up to `target`.
    Upgrade {
        /// Where to go.
        #[serde(with = "target_text")]
        target: Target,
        /// Only report what would run.
        dry_run: bool,
    },
    /// Revert revisions down to `target`.
    Downgrade {
        /// Where to go.
        #[serde(with = "target_text")]
        target: Target,
        /// Only report what would run.
        dry_run: bool,
    },
    /// The current revisions.
    Current,
    /// Applied, pending and problem revisions.
    Status,
    /// Write history rows for `target` without running anything.
    Stamp {
        /// The revision to mark the database as being at.
        #[serde(with = "target_text")]
        target: Target,
    },
    /// Settle a revision that was started and not finished.
    Resolve {
        /// The revision.
        version: i64,
        /// What to do with it.
        resolution: Resolution,
    },
    /// Record the current checksums of revisions that differ only in line endings.
    Repair,
}

impl Command {
    /// The command's name as typed after `cargo dbmigrate`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Upgrade { .. } => "upgrade",
            Self::Downgrade { .. } => "downgrade",
            Self::Current => "current",
            Self::Status => "status",
            Self::Stamp { .. } => "stamp",
            Self::Resolve { .. } => "resolve",
            Self::Repair => "repair",
        }
    }
}

/// A target travels as the text `cargo dbmigrate` accepts for it (`head`, `3`, `+2`, `5-1`), which
/// reads back as the same [`Target`].
mod target_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::graph::Target;

    pub fn serialize<S: Serializer>(target: &Target, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(target)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Target, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A command with what it needs to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The command.
    #[serde(flatten)]
    pub command: Command,
    /// The database URL (it may hold a password: it travels on the runner's standard input, never
    /// on a command line).
    pub url: String,
    /// Options.
    #[serde(default)]
    pub options: Options,
}

/// Where events go as they happen.
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;

/// Runs one command against the database in the request, reporting events to `events`.
pub async fn execute(request: &Request, migrations: &Migrations, events: EventSink) -> Response {
    let pool = match BackendPool::connect_lazy(&request.url, 1) {
        Ok(pool) => pool,
        Err(error) => return Response::Failed(url_error(&request.url, &error)),
    };
    let response = execute_on(request, migrations, &pool, events).await;
    pool.close().await;
    response
}

fn url_error(url: &str, error: &PoolError) -> ErrorReport {
    let mut report = ErrorReport::new(ErrorKind::Usage, error.to_string());
    if matches!(error, PoolError::UnknownScheme { .. }) {
        report.hints.extend(error::hints::url(url));
    }
    report
}

async fn execute_on(
    request: &Request,
    migrations: &Migrations,
    pool: &BackendPool,
    events: EventSink,
) -> Response {
    let options = &request.options;
    // A command pointed at a standby is refused even when it has nothing to write.
    let mut migrator = Migrator::new(migrations)
        .refuse_read_only_when_idle(true)
        .allow_out_of_order(options.allow_out_of_order)
        .abort_divergent(!options.ignore_divergent)
        .abort_missing(!options.ignore_missing)
        .on_event(move |event| {
            if let Some(event) = Event::of(event) {
                events(&event);
            }
        });
    if let Some(table) = &options.table {
        migrator = match migrator.table(table) {
            Ok(migrator) => migrator,
            Err(error) => {
                return Response::Failed(ErrorReport::new(ErrorKind::Usage, error.to_string()));
            }
        };
    }
    if let Some(timeout) = options.lock_timeout {
        migrator = migrator.lock_timeout(timeout);
    }
    if let Some(timeout) = options.connect_timeout {
        migrator = migrator.connect_timeout(timeout);
    }
    if let Some(timeout) = options.revision_timeout {
        migrator = migrator.revision_timeout(timeout);
    }
    let result: Result<Response, Error> = async {
        Ok(match &request.command {
            Command::Upgrade { target, dry_run } => {
                let report = migrator
                    .target(target.clone())
                    .dry_run(*dry_run)
                    .upgrade(pool)
                    .await?;
                Response::Run(RunReport::new(&report, *dry_run))
            }
            Command::Downgrade { target, dry_run } => {
                let report = migrator
                    .dry_run(*dry_run)
                    .downgrade(pool, target.clone())
                    .await?;
                Response::Run(RunReport::new(&report, *dry_run))
            }
            Command::Stamp { target } => {
                let report = migrator.stamp(pool, target.clone()).await?;
                Response::Run(RunReport::new(&report, false))
            }
            Command::Resolve {
                version,
                resolution,
            } => {
                let report = migrator.resolve(pool, *version, *resolution).await?;
                Response::Run(RunReport::new(&report, false))
            }
            Command::Repair => Response::Repaired {
                versions: migrator.repair(pool).await?,
            },
            Command::Current => {
                let status = migrator.status(pool).await?;
                Response::Current(CurrentReport {
                    current: status.current,
                    heads: status.heads,
                })
            }
            Command::Status => Response::Status(StatusReport::from(&migrator.status(pool).await?)),
        })
    }
    .await;
    result
        .unwrap_or_else(|error| Response::Failed(ErrorReport::connecting_to(&error, &request.url)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_as_json_with_typed_targets() {
        let request = Request {
            command: Command::Upgrade {
                target: Target::FromVersion {
                    version: 5,
                    steps: -1,
                },
                dry_run: true,
            },
            url: "sqlite::memory:".into(),
            options: Options {
                lock_timeout: Some(Duration::from_millis(2500)),
                ..Options::default()
            },
        };
        let text = serde_json::to_string(&request).unwrap();
        assert!(
            text.contains(r#""command":"upgrade","target":"5-1""#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), request);
        let resolve = Request {
            command: Command::Resolve {
                version: 3,
                resolution: Resolution::Resume,
            },
            ..request
        };
        let text = serde_json::to_string(&resolve).unwrap();
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), resolve);
    }

    #[test]
    fn a_target_that_is_not_one_is_refused_when_read() {
        let error = serde_json::from_str::<Request>(
            r#"{"command":"stamp","target":"sideways","url":"sqlite::memory:"}"#,
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("`sideways` is not a target"),
            "{error}"
        );
    }
}
