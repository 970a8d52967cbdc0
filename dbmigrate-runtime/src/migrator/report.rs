//! What a run did: the revisions applied or reverted, and how long each took.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::revision::RevisionKind;

/// Which way a run moves the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Applying revisions.
    Upgrade,
    /// Reverting revisions.
    Downgrade,
}

impl Direction {
    /// `upgrade` or `downgrade`, as stored in the side table.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upgrade => "upgrade",
            Self::Downgrade => "downgrade",
        }
    }
}

/// One revision of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    /// The revision's version.
    pub version: i64,
    /// Its name.
    pub name: String,
    /// SQL or Rust.
    #[serde(serialize_with = "kind_name")]
    pub kind: RevisionKind,
    /// How long it took (zero for a dry run or a stamp).
    #[serde(serialize_with = "millis")]
    pub duration: Duration,
}

fn kind_name<S: serde::Serializer>(kind: &RevisionKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&kind.to_string())
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1e3)
}

/// What kind of run produced a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunKind {
    /// Revisions were run.
    Applied,
    /// Nothing was run: the report lists what would be (`--dry-run`).
    DryRun,
    /// History rows were written without running anything (`stamp`).
    Stamped,
    /// An unfinished revision was recorded as applied (`resolve --applied`).
    MarkedApplied,
    /// An unfinished revision was recorded as not applied (`resolve --reverted`).
    MarkedReverted,
}

/// What a run did, returned by `upgrade`, `downgrade` and `stamp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Upgrade or downgrade.
    pub direction: Direction,
    /// Run, dry run or stamp.
    pub kind: RunKind,
    /// The revisions, in the order they ran.
    pub steps: Vec<StepReport>,
    /// For a stamp that moved the database to another branch: the revisions whose rows it removed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<StepReport>,
    /// The whole run, lock and checks included.
    #[serde(serialize_with = "millis")]
    pub elapsed: Duration,
    /// The database's current revisions after the run (its applied heads).
    pub current: Vec<i64>,
}

impl Report {
    /// Whether the run changed nothing.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let current = if self.current.is_empty() {
            "base".to_string()
        } else {
            self.current
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let (RunKind::MarkedApplied | RunKind::MarkedReverted, Some(step)) =
            (self.kind, self.steps.first())
        {
            let how = if self.kind == RunKind::MarkedApplied {
                "as applied".to_string()
            } else {
                "as not applied: the next `cargo dbmigrate upgrade` runs it again".to_string()
            };
            return write!(
                f,
                "recorded revision {} ({}) {how}; database is now at {current}",
                step.version, step.name
            );
        }
        if self.steps.is_empty() {
            return match self.direction {
                Direction::Upgrade => {
                    write!(f, "database is up to date at {current}; nothing to apply")
                }
                Direction::Downgrade => {
                    write!(f, "database is already at {current}; nothing to revert")
                }
            };
        }
        let verb = match (self.kind, self.direction) {
            (RunKind::Applied, Direction::Upgrade) => "applied",
            (RunKind::Applied, Direction::Downgrade) => "reverted",
            (RunKind::DryRun, Direction::Upgrade) => "would apply",
            (RunKind::DryRun, Direction::Downgrade) => "would revert",
            (RunKind::Stamped, Direction::Upgrade) => "stamped as applied",
            (RunKind::Stamped, Direction::Downgrade) => "stamped as not applied",
            (RunKind::MarkedApplied, _) => "recorded as applied",
            (RunKind::MarkedReverted, _) => "recorded as not applied",
        };
        let count = self.steps.len();
        let plural = if count == 1 { "revision" } else { "revisions" };
        write!(f, "{verb} {count} {plural}")?;
        if self.kind == RunKind::Applied {
            write!(f, " in {}", format_duration(self.elapsed))?;
        }
        writeln!(f, ":")?;
        for step in &self.steps {
            write!(f, "  {} {} ({}", step.version, step.name, step.kind)?;
            if self.kind == RunKind::Applied {
                write!(f, ", {}", format_duration(step.duration))?;
            }
            writeln!(f, ")")?;
        }
        for step in &self.removed {
            writeln!(
                f,
                "  {} {} ({}, stamped as not applied)",
                step.version, step.name, step.kind
            )?;
        }
        if self.kind != RunKind::DryRun {
            write!(f, "database is now at {current}")?;
        } else {
            write!(f, "nothing was changed (dry run)")?;
        }
        Ok(())
    }
}

/// `12 ms`, `1.53 s`: short and readable.
pub fn format_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}
