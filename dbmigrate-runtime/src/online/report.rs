//! What an online command answers, as plain data both sides of the runner protocol can read: the
//! runtime's [`Report`] and [`Status`] turned into serde types with integer durations
//! (`duration_ms`), which the CLI renders as text or JSON.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ErrorReport;
use crate::backend::Backend;
use crate::migrator::{self, Report, Status};

/// How an online command ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Response {
    /// `upgrade`, `downgrade`, `stamp` and `resolve`: what the run did.
    Run(RunReport),
    /// `status`.
    Status(StatusReport),
    /// `current`.
    Current(CurrentReport),
    /// `repair`: the revisions whose checksum was recorded again.
    Repaired {
        /// Their versions.
        versions: Vec<i64>,
    },
    /// The command failed.
    Failed(ErrorReport),
}

/// Which way a run moved the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunDirection {
    /// Applying revisions.
    Upgrade,
    /// Reverting revisions.
    Downgrade,
}

/// What kind of run it was; a dry run says so even when it had nothing to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunKind {
    /// Revisions were run (or nothing was pending).
    Applied,
    /// Nothing was run: the steps are what would be (`--dry-run`).
    DryRun,
    /// History rows were written without running anything (`stamp`).
    Stamped,
    /// An unfinished revision was recorded as applied (`resolve --applied`).
    MarkedApplied,
    /// An unfinished revision was recorded as not applied (`resolve --reverted`).
    MarkedReverted,
}

/// One revision of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStep {
    /// The version.
    pub version: i64,
    /// The name.
    pub name: String,
    /// `sql` or `rust`.
    pub kind: String,
    /// How long it took, in milliseconds (0 for a dry run or a stamp).
    pub duration_ms: u64,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    /// Upgrade or downgrade.
    pub direction: RunDirection,
    /// Run, dry run, stamp or resolution.
    pub kind: RunKind,
    /// The revisions, in the order they ran (or would run).
    pub steps: Vec<RunStep>,
    /// For a stamp that moved the database to another branch: the revisions whose rows it removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<RunStep>,
    /// The whole run, lock and checks included, in milliseconds.
    pub elapsed_ms: u64,
    /// The database's current revisions after the run.
    pub current: Vec<i64>,
}

pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn step(step: &migrator::StepReport) -> RunStep {
    RunStep {
        version: step.version,
        name: step.name.clone(),
        kind: step.kind.to_string(),
        duration_ms: millis(step.duration),
    }
}

impl RunReport {
    /// The report of a run; `dry_run` marks it as such even when the run returned early with
    /// nothing to do.
    pub fn new(report: &Report, dry_run: bool) -> Self {
        let kind = match report.kind {
            _ if dry_run => RunKind::DryRun,
            migrator::RunKind::Applied => RunKind::Applied,
            migrator::RunKind::DryRun => RunKind::DryRun,
            migrator::RunKind::Stamped => RunKind::Stamped,
            migrator::RunKind::MarkedApplied => RunKind::MarkedApplied,
            migrator::RunKind::MarkedReverted => RunKind::MarkedReverted,
        };
        Self {
            direction: match report.direction {
                migrator::Direction::Upgrade => RunDirection::Upgrade,
                migrator::Direction::Downgrade => RunDirection::Downgrade,
            },
            kind,
            steps: report.steps.iter().map(step).collect(),
            removed: report.removed.iter().map(step).collect(),
            elapsed_ms: millis(report.elapsed),
            current: report.current.clone(),
        }
    }
}

/// `current`: where the database is, and where the files end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentReport {
    /// Applied revisions none of whose children are applied.
    pub current: Vec<i64>,
    /// The heads of the revision files.
    pub heads: Vec<i64>,
}

/// An applied revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedRevision {
    /// The version.
    pub version: i64,
    /// The recorded name.
    pub name: Option<String>,
    /// When it was applied (RFC 3339).
    pub applied_on: Option<String>,
    /// How long it took, when dbmigrate applied it.
    pub execution_ms: Option<i64>,
    /// The file that defines it now, if any.
    pub file: Option<PathBuf>,
}

/// A revision waiting to be applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRevision {
    /// The version.
    pub version: i64,
    /// The name.
    pub name: String,
    /// `sql` or `rust`.
    pub kind: String,
    /// The file.
    pub file: PathBuf,
}

/// An applied revision whose file changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Divergent {
    /// The version.
    pub version: i64,
    /// The file as it is now.
    pub path: PathBuf,
    /// The name recorded when it was applied.
    pub recorded_name: Option<String>,
    /// The name in the file name now.
    pub file_name: String,
    /// The checksum recorded when it was applied.
    pub recorded_checksum: Option<String>,
    /// The checksum of the file now.
    pub file_checksum: String,
    /// Only the line endings differ (`repair` records it).
    pub line_endings_only: bool,
}

/// A history row without a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingFile {
    /// The version.
    pub version: i64,
    /// The recorded name.
    pub name: Option<String>,
    /// When it was applied.
    pub applied_on: Option<String>,
    /// The recorded checksum.
    pub checksum: Option<String>,
}

/// A revision started and not finished, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unfinished {
    /// The version.
    pub version: i64,
    /// `running` or `failed`.
    pub state: Option<String>,
    /// `upgrade` or `downgrade`.
    pub direction: Option<String>,
    /// The statement that was running or failed (1-based).
    pub statement_index: Option<i64>,
    /// How many statements the revision has.
    pub statement_count: Option<i64>,
    /// The line of that statement.
    pub statement_line: Option<i64>,
    /// The database's message, for a failed revision.
    pub error: Option<String>,
    /// When the row was last written (RFC 3339).
    pub updated_on: String,
    /// What state it is in and the `resolve` commands that settle it, as one sentence.
    pub advice: String,
}

/// A history row refinery cannot read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadRow {
    /// The version.
    pub version: i64,
    /// What is wrong with it.
    pub reason: String,
}

/// What is wrong between the history and the files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problems {
    /// Applied revisions whose file changed.
    pub divergent: Vec<Divergent>,
    /// Applied versions that no file defines.
    pub missing_files: Vec<MissingFile>,
    /// Unapplied versions older than the newest applied one.
    pub out_of_order: Vec<i64>,
    /// Revisions started and not finished.
    pub unfinished: Vec<Unfinished>,
    /// Versions applied by dbmigrate whose history row was deleted by hand.
    pub rows_deleted: Vec<i64>,
    /// Rows refinery could not read.
    pub bad_rows: Vec<BadRow>,
}

/// `status`: the state of a database against the revision files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    /// The database.
    pub backend: Backend,
    /// The history table.
    pub table: String,
    /// Whether the history table exists.
    pub initialized: bool,
    /// The applied revisions, by version.
    pub applied: Vec<AppliedRevision>,
    /// The revisions an upgrade to `heads` would apply, in order.
    pub pending: Vec<PendingRevision>,
    /// The database's current revisions.
    pub current: Vec<i64>,
    /// The heads of the revision files.
    pub heads: Vec<i64>,
    /// What is wrong.
    pub problems: Problems,
    /// Whether every revision is applied and nothing is wrong.
    pub at_head: bool,
    /// Whether `upgrade` refuses to run until the problems are settled.
    pub upgrade_refused: bool,
}

impl From<&Status> for StatusReport {
    fn from(status: &Status) -> Self {
        let p = &status.problems;
        Self {
            backend: status.backend,
            table: status.table.clone(),
            initialized: status.initialized,
            applied: status
                .applied
                .iter()
                .map(|a| AppliedRevision {
                    version: a.version,
                    name: a.name.clone(),
                    applied_on: a.applied_on.clone(),
                    execution_ms: a.execution_ms,
                    file: a.file.clone(),
                })
                .collect(),
            pending: status
                .pending
                .iter()
                .map(|p| PendingRevision {
                    version: p.version,
                    name: p.name.clone(),
                    kind: p.kind.clone(),
                    file: p.file.clone(),
                })
                .collect(),
            current: status.current.clone(),
            heads: status.heads.clone(),
            problems: Problems {
                divergent: p
                    .divergent
                    .iter()
                    .map(|d| Divergent {
                        version: d.version,
                        path: d.path.clone(),
                        recorded_name: d.recorded_name.clone(),
                        file_name: d.file_name.clone(),
                        recorded_checksum: d.recorded_checksum.clone(),
                        file_checksum: d.file_checksum.clone(),
                        line_endings_only: d.line_endings_only,
                    })
                    .collect(),
                missing_files: p
                    .missing_files
                    .iter()
                    .map(|row| MissingFile {
                        version: row.version,
                        name: row.name.clone(),
                        applied_on: row.applied_on.clone(),
                        checksum: row.checksum.clone(),
                    })
                    .collect(),
                out_of_order: p.out_of_order.clone(),
                unfinished: p
                    .unfinished
                    .iter()
                    .map(|state| Unfinished {
                        version: state.version,
                        state: state.state.map(|s| s.as_str().to_string()),
                        direction: state.direction.clone(),
                        statement_index: state.statement_index,
                        statement_count: state.statement_count,
                        statement_line: state.statement_line,
                        error: state.error.clone(),
                        updated_on: state.updated_on.clone(),
                        advice: migrator::describe_unfinished(state),
                    })
                    .collect(),
                rows_deleted: p.rows_deleted.clone(),
                bad_rows: p
                    .bad_rows
                    .iter()
                    .map(|row| BadRow {
                        version: row.version,
                        reason: row.reason.clone(),
                    })
                    .collect(),
            },
            at_head: status.at_head,
            upgrade_refused: status.upgrade_refused,
        }
    }
}
