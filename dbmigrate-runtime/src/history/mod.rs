//! The history tables and what they say about a database: refinery's `refinery_schema_history` (one
//! row per applied revision, byte-compatible with refinery) and dbmigrate's side table
//! `<table>_dbmigrate` (execution times, and revisions that are running, failed part-way or were cut
//! short), compared with the revision files as refinery compares them.

#[cfg(feature = "__apply")]
pub(crate) mod table;

use std::collections::BTreeSet;
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

impl AppliedRow {
    /// The row, borrowed.
    pub fn as_ref(&self) -> AppliedRef<'_> {
        AppliedRef {
            version: self.version,
            name: self.name.as_deref(),
            applied_on: self.applied_on.as_deref(),
            checksum: self.checksum.as_deref(),
        }
    }
}

/// A row of refinery's history table, borrowed from wherever it was read (a result set, an
/// [`AppliedRow`]), so comparing 500 rows with the files allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppliedRef<'a> {
    /// The revision's version.
    pub version: i64,
    /// The name from the file name.
    pub name: Option<&'a str>,
    /// When it was applied (RFC 3339).
    pub applied_on: Option<&'a str>,
    /// refinery's checksum as a decimal string.
    pub checksum: Option<&'a str>,
}

impl AppliedRef<'_> {
    /// The row, owned.
    pub fn to_row(self) -> AppliedRow {
        AppliedRow {
            version: self.version,
            name: self.name.map(str::to_string),
            applied_on: self.applied_on.map(str::to_string),
            checksum: self.checksum.map(str::to_string),
        }
    }
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
        let applied: Vec<AppliedRef<'_>> = history.applied.iter().map(AppliedRow::as_ref).collect();
        Self::of_rows(graph, width, &applied, &history.states, checksum)
    }

    /// Compares refinery's rows and the side table's rows with the revision files.
    pub(crate) fn of_rows(
        graph: &RevisionGraph,
        width: VersionWidth,
        applied: &[AppliedRef<'_>],
        states: &[StateRow],
        checksum: impl Fn(&Revision) -> u64,
    ) -> Self {
        let mut verification = Self::default();
        let mut versions: Vec<i64> = applied.iter().map(|r| r.version).collect();
        versions.sort_unstable();
        let is_applied = |version: i64| versions.binary_search(&version).is_ok();
        for row in applied {
            // refinery parses the stored checksum as a u64 and compares numbers: so does this.
            let recorded = row.checksum.and_then(|c| c.parse::<u64>().ok());
            if let Some(reason) = unreadable(row, recorded.is_some()) {
                verification.bad_rows.push(BadRow {
                    version: row.version,
                    reason,
                });
            }
            let Some(revision) = graph.get(row.version) else {
                verification.missing_files.push(row.to_row());
                continue;
            };
            let file_checksum = checksum(revision);
            let same_name = row.name == Some(revision.name.as_str());
            if same_name && recorded == Some(file_checksum) {
                continue;
            }
            verification.divergent.push(Divergence {
                version: row.version,
                path: revision.path.clone(),
                recorded_name: row.name.map(str::to_string),
                file_name: revision.name.clone(),
                recorded_checksum: row.checksum.map(str::to_string),
                file_checksum: file_checksum.to_string(),
                line_endings_only: same_name
                    && row
                        .checksum
                        .is_some_and(|c| same_but_line_endings(revision, width, c)),
            });
        }
        if let Some(&highest) = versions.last() {
            verification.out_of_order = graph
                .revisions()
                .iter()
                .filter(|r| {
                    r.prefix == Prefix::Versioned && r.version <= highest && !is_applied(r.version)
                })
                .map(|r| r.version)
                .collect();
        }
        verification.unfinished = states
            .iter()
            .filter(|s| s.is_unfinished())
            .cloned()
            .collect();
        verification.rows_deleted = states
            .iter()
            .filter(|s| s.state == Some(RunState::Applied) && !is_applied(s.version))
            .map(|s| s.version)
            .collect();
        verification
    }
}

/// Why refinery could not read a row, if it could not: it parses `applied_on` as RFC 3339 and the
/// checksum as a u64, and panics otherwise.
fn unreadable(row: &AppliedRef<'_>, checksum_is_number: bool) -> Option<String> {
    let applied_on = row.applied_on.unwrap_or("");
    if !plainly_rfc3339(applied_on)
        && time::OffsetDateTime::parse(applied_on, &time::format_description::well_known::Rfc3339)
            .is_err()
    {
        return Some(format!("applied_on {applied_on:?} is not an RFC 3339 time"));
    }
    if !checksum_is_number {
        let checksum = row.checksum.unwrap_or("");
        return Some(format!("checksum {checksum:?} is not a decimal u64"));
    }
    if row.name.is_none() {
        return Some("name is NULL".to_string());
    }
    None
}

/// Whether `text` is a UTC time in the form refinery and dbmigrate write (`2026-11-24T21:08:43Z`,
/// optionally with a fraction of a second), with every field in a range no calendar can reject
/// (days up to 28). Such a text is RFC 3339 for `time` too; anything else (day 31, an offset,
/// lowercase `t`...) is left to `time`'s parser. On a no-op startup this runs once per applied
/// revision, where the full parse was a tenth of the work.
fn plainly_rfc3339(text: &str) -> bool {
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>, max: u32| {
        bytes.get(range.clone()).is_some_and(|digits| {
            digits.iter().all(u8::is_ascii_digit)
                && digits
                    .iter()
                    .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'))
                    <= max
        })
    };
    let at = |index: usize, byte: u8| bytes.get(index) == Some(&byte);
    let fields = number(0..4, 9999)
        && at(4, b'-')
        && number(5..7, 12)
        && !matches!(bytes.get(5..7), Some(b"00"))
        && at(7, b'-')
        && number(8..10, 28)
        && !matches!(bytes.get(8..10), Some(b"00"))
        && at(10, b'T')
        && number(11..13, 23)
        && at(13, b':')
        && number(14..16, 59)
        && at(16, b':')
        && number(17..19, 59);
    if !fields {
        return false;
    }
    match &bytes[19..] {
        b"Z" => true,
        [b'.', fraction @ .., b'Z'] => {
            (1..=9).contains(&fraction.len()) && fraction.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    }
}

/// Whether `recorded` is the checksum of the revision's text with its line endings converted.
fn same_but_line_endings(revision: &Revision, width: VersionWidth, recorded: &str) -> bool {
    let lf = revision.text.replace("\r\n", "\n");
    let crlf = lf.replace('\n', "\r\n");
    [lf, crlf].iter().any(|text| {
        refinery_checksum(&revision.name, revision.version, width, text).to_string() == recorded
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quick_time_check_accepts_only_what_the_full_parse_accepts() {
        let full = |t: &str| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).is_ok()
        };
        for text in [
            "2026-11-24T21:08:43Z",
            "2026-11-24T21:08:43.210944268Z",
            "1970-01-01T00:00:00.5Z",
            "2026-02-28T23:59:59Z",
        ] {
            assert!(plainly_rfc3339(text) && full(text), "{text}");
        }
        // Left to the full parse: valid but unusual, or invalid.
        for text in [
            "2026-11-30T21:08:43Z",
            "2026-11-24T21:08:43+01:00",
            "2026-11-24t21:08:43z",
            "2026-13-01T00:00:00Z",
            "2026-00-10T00:00:00Z",
            "2026-11-24T24:00:00Z",
            "2026-11-24T21:08:43.Z",
            "2026-11-24T21:08:43.1234567890Z",
            "yesterday",
            "",
        ] {
            assert!(!plainly_rfc3339(text), "{text}");
        }
    }
}
