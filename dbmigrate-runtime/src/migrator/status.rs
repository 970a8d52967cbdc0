//! `status`: what a database has applied, what is pending, and what is wrong, with what to do about it.

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use super::error::describe_unfinished;
use crate::backend::Backend;
use crate::graph::{RevisionGraph, Target};
use crate::history::{History, Verification};
use crate::migrations::Migrations;

/// An applied revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedInfo {
    /// The version.
    pub version: i64,
    /// The recorded name.
    pub name: Option<String>,
    /// When it was applied.
    pub applied_on: Option<String>,
    /// How long it took, when dbmigrate applied it.
    pub execution_ms: Option<i64>,
    /// The file that defines it now, if any.
    pub file: Option<PathBuf>,
}

/// A revision waiting to be applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingInfo {
    /// The version.
    pub version: i64,
    /// The name.
    pub name: String,
    /// `sql` or `rust`.
    pub kind: String,
    /// The file.
    pub file: PathBuf,
}

/// The state of a database against the revision files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// The database.
    pub backend: Backend,
    /// The history table.
    pub table: String,
    /// Whether the history table exists.
    pub initialized: bool,
    /// The applied revisions, by version.
    pub applied: Vec<AppliedInfo>,
    /// The revisions an upgrade to `heads` would apply, in order.
    pub pending: Vec<PendingInfo>,
    /// The database's current revisions: applied revisions none of whose children are applied.
    pub current: Vec<i64>,
    /// The heads of the revision files.
    pub heads: Vec<i64>,
    /// Divergent, missing, out-of-order and unfinished revisions, and unreadable rows.
    pub problems: Verification,
    /// Whether every revision is applied and nothing is wrong.
    pub at_head: bool,
    /// Whether `upgrade` (with the same options) refuses to run until the problems are settled.
    pub upgrade_refused: bool,
}

/// Applied revisions none of whose children are applied: where the database is on each branch.
pub(crate) fn current_heads(graph: &RevisionGraph, applied: &BTreeSet<i64>) -> Vec<i64> {
    applied
        .iter()
        .copied()
        .filter(|&version| graph.get(version).is_some() && !graph.has_child_in(version, applied))
        .collect()
}

impl Status {
    pub(crate) fn new(
        migrations: &Migrations,
        backend: Backend,
        table: &str,
        history: Option<History>,
    ) -> Self {
        let graph = migrations.graph();
        let initialized = history.is_some();
        let history = history.unwrap_or_default();
        let applied_versions = history.applied_versions();
        let problems = Verification::of(graph, migrations.version_width(), &history);
        let pending: Vec<PendingInfo> = graph
            .upgrade_plan(&Target::Heads, &applied_versions)
            .unwrap_or_default()
            .into_iter()
            .map(|r| PendingInfo {
                version: r.version,
                name: r.name.clone(),
                kind: r.kind.to_string(),
                file: r.path.clone(),
            })
            .collect();
        let clean = problems.divergent.is_empty()
            && problems.missing_files.is_empty()
            && problems.out_of_order.is_empty()
            && problems.unfinished.is_empty()
            && problems.rows_deleted.is_empty()
            && problems.bad_rows.is_empty();
        Self {
            backend,
            table: table.to_string(),
            initialized,
            applied: history
                .applied
                .iter()
                .map(|row| AppliedInfo {
                    version: row.version,
                    name: row.name.clone(),
                    applied_on: row.applied_on.clone(),
                    execution_ms: history.state(row.version).and_then(|s| s.execution_ms),
                    file: graph.get(row.version).map(|r| r.path.clone()),
                })
                .collect(),
            at_head: pending.is_empty() && clean,
            // What the migrator's defaults refuse; `Migrator::status` sets it for its options.
            upgrade_refused: !clean,
            pending,
            current: current_heads(graph, &applied_versions),
            heads: graph.heads().iter().map(|r| r.version).collect(),
            problems,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |versions: &[i64]| {
            if versions.is_empty() {
                "base".to_string()
            } else {
                versions
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        writeln!(
            f,
            "database: {} (history table `{}`)",
            self.backend, self.table
        )?;
        if !self.initialized {
            writeln!(
                f,
                "the history table does not exist yet: nothing is applied"
            )?;
        }
        writeln!(f, "current:  {}", list(&self.current))?;
        writeln!(f, "head:     {}", list(&self.heads))?;
        writeln!(f, "applied:  {} revision(s)", self.applied.len())?;
        if self.pending.is_empty() {
            writeln!(f, "pending:  none")?;
        } else {
            writeln!(f, "pending:  {} revision(s)", self.pending.len())?;
            for pending in &self.pending {
                writeln!(
                    f,
                    "  {} {} ({})",
                    pending.version, pending.name, pending.kind
                )?;
            }
        }
        let p = &self.problems;
        for row in &p.bad_rows {
            writeln!(f, "unreadable row {}: {}", row.version, row.reason)?;
        }
        for d in &p.divergent {
            let why = if d.line_endings_only {
                "differs only in line endings; `cargo dbmigrate repair` records the new checksum"
            } else {
                "changed since it was applied; restore it and put the change in a new revision"
            };
            writeln!(f, "divergent: {} ({}) {why}", d.version, d.path.display())?;
        }
        for row in &p.missing_files {
            writeln!(
                f,
                "missing:  {} (`{}`) is applied but has no file",
                row.version,
                row.name.as_deref().unwrap_or("NULL")
            )?;
        }
        for version in &p.out_of_order {
            writeln!(
                f,
                "out of order: {version} is not applied but later versions are"
            )?;
        }
        for state in &p.unfinished {
            writeln!(f, "unfinished: {}", describe_unfinished(state))?;
        }
        for version in &p.rows_deleted {
            writeln!(
                f,
                "row deleted: {version} was applied, but its history row is gone"
            )?;
        }
        if self.at_head {
            write!(f, "the database is at head")
        } else if self.upgrade_refused {
            write!(
                f,
                "`cargo dbmigrate upgrade` refuses to run until the problems above are settled, each as its line says"
            )
        } else if self.pending.is_empty() {
            write!(
                f,
                "the database has every revision, but see the problems above"
            )
        } else {
            write!(
                f,
                "run `cargo dbmigrate upgrade` to apply the pending revisions"
            )
        }
    }
}
