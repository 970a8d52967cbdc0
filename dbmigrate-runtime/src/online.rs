//! The online commands (`upgrade`, `downgrade`, `current`, `status`, `stamp`, `resolve`, `repair`)
//! exactly as `cargo dbmigrate` runs them. The CLI calls [`run`] itself when the revisions are all SQL,
//! and otherwise builds a small runner binary around the project's compiled Rust revisions whose
//! `main` is [`runner_main`]: both print the same output and exit with the same codes.

use std::process::ExitCode;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backend::pool::BackendPool;
use crate::embed::Embedded;
use crate::graph::{GraphError, Target};
use crate::migrations::Migrations;
use crate::migrator::{Error, Migrator, Resolution};

/// Exit codes shared by the CLI and its runner (README.md lists them).
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// The revision files have problems (or the target is ambiguous because the history forked).
    pub const REVISIONS: u8 = 1;
    /// A usage error: a target or option that cannot be understood.
    pub const USAGE: u8 = 2;
    /// The project, its configuration or a file could not be read or written.
    pub const PROJECT: u8 = 3;
    /// The database could not be reached, or a revision failed in it.
    pub const DATABASE: u8 = 4;
    /// The history table does not match the revision files; nothing was applied.
    pub const HISTORY: u8 = 5;
    /// Another process held the migration lock for longer than the timeout.
    pub const LOCK_TIMEOUT: u8 = 6;
    /// `status --check`: the database is not at head; or `Migrator::wait_for` timed out before
    /// its target arrived on the server it waits on.
    pub const NOT_AT_HEAD: u8 = 7;
    /// The runner for Rust revisions could not be built.
    pub const RUNNER: u8 = 8;
    /// The command was cut short (its runner killed by a signal, or the connection lost while a
    /// revision committed and the database unreachable afterwards) and its outcome is unknown:
    /// `cargo dbmigrate status` tells where the database stands.
    pub const OUTCOME_UNKNOWN: u8 = 9;
    /// A command that writes (`upgrade`, `downgrade`, `stamp`, `resolve`, `repair`) was pointed at
    /// a PostgreSQL standby or a read-only MariaDB/MySQL replica, and refused before taking the
    /// lock: neither the revisions nor the database are wrong, the URL is (point it at the primary).
    pub const READ_ONLY_SERVER: u8 = 10;
}

/// Options that apply to every online command.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Options {
    /// The history table, overriding the configured one.
    pub table: Option<String>,
    /// Seconds to wait for another runner's lock.
    pub lock_timeout_secs: Option<f64>,
    /// Seconds to keep retrying while the database refuses connections.
    pub connect_timeout_secs: Option<f64>,
    /// Seconds one revision may take before it is given up on.
    pub revision_timeout_secs: Option<f64>,
    /// Apply unapplied revisions older than the newest applied one.
    pub allow_out_of_order: bool,
    /// Apply even though applied revisions' files changed.
    pub ignore_divergent: bool,
    /// Apply even though applied revisions have no file.
    pub ignore_missing: bool,
}

/// One online command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Command {
    /// Apply revisions up to `target`.
    Upgrade {
        /// `head`, `heads`, a version, `+N`, `V+N`.
        target: String,
        /// Only report what would run.
        dry_run: bool,
    },
    /// Revert revisions down to `target`.
    Downgrade {
        /// `base`, a version, `-N`, `V-N`.
        target: String,
        /// Only report what would run.
        dry_run: bool,
    },
    /// Print the current revisions.
    Current,
    /// Print applied, pending and problem revisions.
    Status {
        /// Exit non-zero unless the database is at head with nothing wrong.
        check: bool,
    },
    /// Write history rows for `target` without running anything.
    Stamp {
        /// The revision to mark the database as being at.
        target: String,
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

/// A command with what it needs to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The command.
    #[serde(flatten)]
    pub command: Command,
    /// The database URL.
    pub url: String,
    /// Print JSON instead of text.
    #[serde(default)]
    pub json: bool,
    /// Options.
    #[serde(default)]
    pub options: Options,
}

/// What a command printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// For standard output.
    pub stdout: String,
    /// For standard error.
    pub stderr: String,
    /// The exit code.
    pub code: u8,
}

impl Outcome {
    fn ok(stdout: String) -> Self {
        Self {
            stdout,
            stderr: String::new(),
            code: exit::OK,
        }
    }

    fn failed(code: u8, message: String) -> Self {
        Self {
            stdout: String::new(),
            stderr: format!("error: {message}\n"),
            code,
        }
    }

    /// Prints the output and returns the exit code.
    pub fn print(&self) -> ExitCode {
        use std::io::Write as _;
        let _ = std::io::stdout().write_all(self.stdout.as_bytes());
        let _ = std::io::stderr().write_all(self.stderr.as_bytes());
        ExitCode::from(self.code)
    }
}

/// The exit code for a migration error.
pub fn exit_code(error: &Error) -> u8 {
    match error {
        Error::Revisions(_) | Error::NotDowngradable { .. } => exit::REVISIONS,
        Error::Target(GraphError::MultipleHeads { .. } | GraphError::Empty) => exit::REVISIONS,
        Error::Target(_) | Error::Resolve(_) => exit::USAGE,
        Error::Revision(failure)
            if matches!(
                failure.recheck,
                Some(crate::migrator::Recheck::Impossible(_))
            ) =>
        {
            exit::OUTCOME_UNKNOWN
        }
        Error::Connect { .. }
        | Error::Database { .. }
        | Error::LockFile(_)
        | Error::Revision(_) => exit::DATABASE,
        Error::History(_) => exit::HISTORY,
        Error::LockTimeout { .. } | Error::DatabaseLocked { .. } => exit::LOCK_TIMEOUT,
        Error::WaitTimeout { .. } => exit::NOT_AT_HEAD,
        Error::ReadOnlyServer { .. } => exit::READ_ONLY_SERVER,
        Error::MissingRustStep { .. } => exit::RUNNER,
    }
}

fn json<T: Serialize>(value: &T) -> String {
    let mut text =
        serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

fn seconds(value: Option<f64>) -> Option<Duration> {
    value
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Runs one command against the database in the request.
pub async fn run(request: &Request, migrations: &Migrations) -> Outcome {
    let pool = match BackendPool::connect_lazy(&request.url, 1) {
        Ok(pool) => pool,
        Err(error) => return Outcome::failed(exit::USAGE, error.to_string()),
    };
    let outcome = run_on(request, migrations, &pool).await;
    pool.close().await;
    outcome
}

async fn run_on(request: &Request, migrations: &Migrations, pool: &BackendPool) -> Outcome {
    let options = &request.options;
    // A command pointed at a standby is refused even when it has nothing to write.
    let mut migrator = Migrator::new(migrations)
        .refuse_read_only_when_idle(true)
        .allow_out_of_order(options.allow_out_of_order)
        .abort_divergent(!options.ignore_divergent)
        .abort_missing(!options.ignore_missing);
    if let Some(table) = &options.table {
        migrator = match migrator.table(table) {
            Ok(migrator) => migrator,
            Err(error) => return Outcome::failed(exit::USAGE, error.to_string()),
        };
    }
    if let Some(timeout) = seconds(options.lock_timeout_secs) {
        migrator = migrator.lock_timeout(timeout);
    }
    if let Some(timeout) = seconds(options.connect_timeout_secs) {
        migrator = migrator.connect_timeout(timeout);
    }
    if let Some(timeout) = seconds(options.revision_timeout_secs) {
        migrator = migrator.revision_timeout(timeout);
    }
    let target = |text: &str| text.parse::<Target>();
    let result: Result<Outcome, Error> = async {
        Ok(match &request.command {
            Command::Upgrade { target: text, dry_run } => {
                let report = migrator.target(target(text)?).dry_run(*dry_run).upgrade(pool).await?;
                Outcome::ok(if request.json { json(&report) } else { format!("{report}\n") })
            }
            Command::Downgrade { target: text, dry_run } => {
                let report = migrator.dry_run(*dry_run).downgrade(pool, target(text)?).await?;
                Outcome::ok(if request.json { json(&report) } else { format!("{report}\n") })
            }
            Command::Stamp { target: text } => {
                let report = migrator.stamp(pool, target(text)?).await?;
                Outcome::ok(if request.json { json(&report) } else { format!("{report}\n") })
            }
            Command::Resolve { version, resolution } => {
                let report = migrator.resolve(pool, *version, *resolution).await?;
                Outcome::ok(if request.json { json(&report) } else { format!("{report}\n") })
            }
            Command::Repair => {
                let repaired = migrator.repair(pool).await?;
                let text = if request.json {
                    json(&serde_json::json!({ "repaired": repaired }))
                } else if repaired.is_empty() {
                    "no revision differs from what was applied only in its line endings; nothing to repair\n".to_string()
                } else {
                    let list: Vec<String> = repaired.iter().map(ToString::to_string).collect();
                    format!(
                        "recorded the current checksum of {} revision(s) whose files differ from what was applied only in line endings: {}\n",
                        repaired.len(),
                        list.join(", ")
                    )
                };
                Outcome::ok(text)
            }
            Command::Current => {
                let status = migrator.status(pool).await?;
                let graph = migrations.graph();
                let text = if request.json {
                    json(&serde_json::json!({ "current": status.current, "heads": status.heads }))
                } else if status.current.is_empty() {
                    "base (nothing applied)\n".to_string()
                } else {
                    status
                        .current
                        .iter()
                        .map(|v| {
                            let name = graph.get(*v).map(|r| r.name.as_str()).unwrap_or("");
                            let head = if status.heads.contains(v) { " (head)" } else { "" };
                            format!("{v} {name}{head}\n")
                        })
                        .collect()
                };
                Outcome::ok(text)
            }
            Command::Status { check } => {
                let status = migrator.status(pool).await?;
                let mut outcome = Outcome::ok(if request.json { json(&status) } else { format!("{status}\n") });
                if *check && !status.at_head {
                    outcome.code = exit::NOT_AT_HEAD;
                }
                outcome
            }
        })
    }
    .await;
    result.unwrap_or_else(|error| Outcome::failed(exit_code(&error), error.to_string()))
}

/// The `main` of the runner `cargo dbmigrate` builds for projects with Rust revisions: reads the
/// request (JSON) from standard input, runs it with the embedded revisions, prints the outcome.
///
/// The request holds the database URL, password included, so it never travels on the command line,
/// which every local user can read (`ps`, `/proc/<pid>/cmdline`).
pub async fn runner_main(embedded: &Embedded) -> ExitCode {
    let request = match read_request(std::io::stdin().lock()) {
        Ok(request) => request,
        Err(message) => return Outcome::failed(exit::USAGE, message).print(),
    };
    let migrations = match embedded.migrations() {
        Ok(migrations) => migrations,
        Err(problems) => return Outcome::failed(exit::REVISIONS, problems.to_string()).print(),
    };
    run(&request, migrations).await.print()
}

/// Reads the runner's request: one JSON document, up to the end of `input`.
fn read_request(mut input: impl std::io::Read) -> Result<Request, String> {
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .map_err(|error| format!("cannot read the request from standard input: {error}"))?;
    if text.trim().is_empty() {
        return Err(
            "the runner reads one JSON request on standard input; `cargo dbmigrate` writes it"
                .into(),
        );
    }
    serde_json::from_str(&text).map_err(|error| format!("the request is not valid: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_as_json() {
        let request = Request {
            command: Command::Resolve {
                version: 3,
                resolution: Resolution::Resume,
            },
            url: "sqlite::memory:".into(),
            json: false,
            options: Options {
                lock_timeout_secs: Some(2.5),
                ..Options::default()
            },
        };
        let text = serde_json::to_string(&request).unwrap();
        assert!(text.contains("\"command\":\"resolve\""), "{text}");
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), request);
        assert_eq!(read_request(text.as_bytes()).unwrap(), request);
    }

    #[test]
    fn an_empty_or_broken_request_is_refused_with_what_the_runner_expects() {
        let empty = read_request(&b""[..]).unwrap_err();
        assert!(empty.contains("standard input"), "{empty}");
        let broken = read_request(&b"{\"command\":"[..]).unwrap_err();
        assert!(broken.starts_with("the request is not valid"), "{broken}");
    }
}
