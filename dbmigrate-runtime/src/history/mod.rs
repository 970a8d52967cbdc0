//! The history tables and what they say about a database: refinery's `refinery_schema_history` (one
//! row per applied revision, byte-compatible with refinery) and dbmigrate's side table
//! `<table>_dbmigrate` (execution times, and revisions that are running, failed part-way or were cut
//! short), compared with the revision files as refinery compares them.

#[cfg(feature = "__apply")]
pub(crate) mod table;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;

use crate::checksum::refinery_checksum;
use crate::graph::RevisionGraph;
use crate::revision::{Prefix, Revision, VersionWidth};

/// The current UTC time as refinery writes `applied_on`: RFC 3339 with nanoseconds and a `Z`.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

/// One row of refinery's history table. Columns are nullable there, so every field may be absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedRow {
    /// The revision's version.
    pub version: i64,
    /// The name from the file name.
    pub name: Option<String>,
    /// When it was applied (RFC 3339).
    pub applied_on: Option<String>,
    /// refinery's checksum as a decimal string.
    pub checksum: Option<String>,
}

/// What dbmigrate knows about a revision beyond refinery's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Applied completely; the row carries its execution time.
    Applied,
    /// Started and not finished: still running elsewhere, or cut short (killed, connection lost).
    Running,
    /// Failed after some of its statements had committed (MySQL DDL, or a `Transaction: none` revision).
    Failed,
}

impl RunState {
    /// The value stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Running => "running",
            Self::Failed => "failed",
        }
    }

    /// The state a stored `state` value names, if any.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "applied" => Some(Self::Applied),
            "running" => Some(Self::Running),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One row of dbmigrate's side table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateRow {
    /// The revision's version.
    pub version: i64,
    /// Applied, running or failed; `None` when the stored text is not one of those.
    pub state: Option<RunState>,
    /// `upgrade` or `downgrade`: which way a running or failed revision was going.
    pub direction: Option<String>,
    /// How long the revision took, once applied.
    pub execution_ms: Option<i64>,
    /// For a running or failed revision run statement by statement: the 1-based statement that was
    /// running or failed. Statements before it completed.
    pub statement_index: Option<i64>,
    /// How many statements the revision has.
    pub statement_count: Option<i64>,
    /// The line of that statement in the revision file.
    pub statement_line: Option<i64>,
    /// The checksum of the statements that completed, so a resumed run can tell they are unchanged.
    pub completed_checksum: Option<String>,
    /// The database's message, for a failed revision.
    pub error: Option<String>,
    /// When the row was last written (RFC 3339).
    pub updated_on: String,
}

impl StateRow {
    /// Whether the revision was started and not finished.
    pub fn is_unfinished(&self) -> bool {
        self.state != Some(RunState::Applied)
    }
}

/// Both tables, as read from a database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct History {
    /// refinery's rows, by version.
    pub applied: Vec<AppliedRow>,
    /// The side table's rows, by version.
    pub states: Vec<StateRow>,
}

impl History {
    /// The versions refinery's table lists.
    pub fn applied_versions(&self) -> BTreeSet<i64> {
        self.applied.iter().map(|r| r.version).collect()
    }

    /// The side table's row for `version`.
    pub fn state(&self, version: i64) -> Option<&StateRow> {
        self.states.iter().find(|s| s.version == version)
    }
}

/// An applied revision whose file no longer matches what was applied (refinery's "divergent").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Divergence {
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
    /// The file differs from what was applied only in its line endings (CRLF against LF), which
    /// `cargo dbmigrate repair` can record without touching the schema.
    pub line_endings_only: bool,
}

/// A history row that refinery itself could not read (it would panic on it), e.g. after a hand edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadRow {
    /// The version.
    pub version: i64,
    /// What is wrong with it.
    pub reason: String,
}

/// How the history table and the revision files compare.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Applied revisions whose file changed.
    pub divergent: Vec<Divergence>,
    /// Applied versions that no file defines.
    pub missing_files: Vec<AppliedRow>,
    /// Unapplied versioned (`V`) revisions at or below the highest applied version, which refinery
    /// calls missing: applying them now would apply them out of order.
    pub out_of_order: Vec<i64>,
    /// Revisions started and not finished, from the side table.
    pub unfinished: Vec<StateRow>,
    /// Versions the side table records as applied by dbmigrate whose row in refinery's table is gone
    /// (deleted by hand): running them again would apply them twice.
    pub rows_deleted: Vec<i64>,
    /// Rows refinery could not read.
    pub bad_rows: Vec<BadRow>,
}

impl Verification {
    /// Compares `history` with the revision files of `graph`.
    pub fn of(graph: &RevisionGraph, width: VersionWidth, history: &History) -> Self {
        Self::with_checksums(graph, width, history, |revision| revision.checksum(width))
    }

    /// [`Verification::of`] with each revision's checksum from `checksum` (a cache of them).
    pub(crate) fn with_checksums(
        graph: &RevisionGraph,
        width: VersionWidth,
        history: &History,
        checksum: impl Fn(&Revision) -> u64,
    ) -> Self {
        let mut verification = Self::default();
        let applied: BTreeMap<i64, &AppliedRow> =
            history.applied.iter().map(|r| (r.version, r)).collect();
        for row in &history.applied {
            if let Some(reason) = unreadable(row) {
                verification.bad_rows.push(BadRow {
                    version: row.version,
                    reason,
                });
            }
            match graph.get(row.version) {
                None => verification.missing_files.push(row.clone()),
                Some(revision) => {
                    let checksum = checksum(revision).to_string();
                    if row.name.as_deref() != Some(revision.name.as_str())
                        || row.checksum.as_deref() != Some(&checksum)
                    {
                        verification.divergent.push(Divergence {
                            version: row.version,
                            path: revision.path.clone(),
                            recorded_name: row.name.clone(),
                            file_name: revision.name.clone(),
                            recorded_checksum: row.checksum.clone(),
                            file_checksum: checksum,
                            line_endings_only: row.name.as_deref() == Some(revision.name.as_str())
                                && row
                                    .checksum
                                    .as_deref()
                                    .is_some_and(|c| same_but_line_endings(revision, width, c)),
                        });
                    }
                }
            }
        }
        if let Some(&highest) = applied.keys().next_back() {
            verification.out_of_order = graph
                .revisions()
                .iter()
                .filter(|r| {
                    r.prefix == Prefix::Versioned
                        && r.version <= highest
                        && !applied.contains_key(&r.version)
                })
                .map(|r| r.version)
                .collect();
        }
        verification.unfinished = history
            .states
            .iter()
            .filter(|s| s.is_unfinished())
            .cloned()
            .collect();
        verification.rows_deleted = history
            .states
            .iter()
            .filter(|s| s.state == Some(RunState::Applied) && !applied.contains_key(&s.version))
            .map(|s| s.version)
            .collect();
        verification
    }
}

/// Why refinery could not read a row, if it could not: it parses `applied_on` as RFC 3339 and the
/// checksum as a u64, and panics otherwise.
fn unreadable(row: &AppliedRow) -> Option<String> {
    let applied_on = row.applied_on.as_deref().unwrap_or("");
    if time::OffsetDateTime::parse(applied_on, &time::format_description::well_known::Rfc3339)
        .is_err()
    {
        return Some(format!("applied_on {applied_on:?} is not an RFC 3339 time"));
    }
    let checksum = row.checksum.as_deref().unwrap_or("");
    if checksum.parse::<u64>().is_err() {
        return Some(format!("checksum {checksum:?} is not a decimal u64"));
    }
    if row.name.is_none() {
        return Some("name is NULL".to_string());
    }
    None
}

/// Whether `recorded` is the checksum of the revision's text with its line endings converted.
fn same_but_line_endings(revision: &Revision, width: VersionWidth, recorded: &str) -> bool {
    let lf = revision.text.replace("\r\n", "\n");
    let crlf = lf.replace('\n', "\r\n");
    [lf, crlf].iter().any(|text| {
        refinery_checksum(&revision.name, revision.version, width, text).to_string() == recorded
    })
}
