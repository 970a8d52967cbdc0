//! What can go wrong when migrating a database, each error saying what happened and what to do.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::Problems;
use crate::graph::GraphError;
use crate::history::{StateRow, Verification};

use super::diagnosis::Diagnosis;
use super::failure::RevisionFailure;
use super::report::StepReport;

/// A migration that could not be done. Nothing is applied when the error comes before the first
/// revision; [`Error::Revision`] says exactly what was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The revision files have problems (the same as `cargo dbmigrate check` reports).
    #[error(transparent)]
    Revisions(Problems),
    /// The target cannot be resolved.
    #[error(transparent)]
    Target(#[from] GraphError),
    /// The database could not be reached before the connect deadline.
    #[error("cannot connect to the database (tried for {:.1} s): {source}", waited.as_secs_f64())]
    Connect {
        /// How long connecting was retried.
        waited: Duration,
        /// The last error.
        source: sqlx::Error,
    },
    /// A query on the history tables (or the lock) failed.
    #[error("{action}: {}{}", super::diagnosis::render(source), Diagnosis::of(source).hint().map(|h| format!("\n{h}")).unwrap_or_default())]
    Database {
        /// What dbmigrate was doing.
        action: String,
        /// The database's error.
        source: sqlx::Error,
    },
    /// Another runner held the migration lock for longer than the lock timeout.
    #[error(
        "timed out after {:.1} s waiting for the migration lock on `{table}`{}; another process is migrating this database. \
         Retry when it finishes, or raise the lock timeout",
        waited.as_secs_f64(),
        holder.as_ref().map(|h| format!(", held by {h}")).unwrap_or_default()
    )]
    LockTimeout {
        /// The history table the lock protects.
        table: String,
        /// How long this runner waited.
        waited: Duration,
        /// Who holds it, where the database can tell.
        holder: Option<String>,
    },
    /// SQLite's own write lock stayed taken (by another connection, or a commit in progress) for
    /// longer than the lock timeout.
    #[error(
        "could not get SQLite's write lock while {action} within the lock timeout ({:.1} s): {holder}. Nothing of \
         it was applied{}; run the command again once that connection is done, or raise the lock timeout",
        lock_timeout.as_secs_f64(),
        describe_completed(completed)
    )]
    DatabaseLocked {
        /// What dbmigrate was doing.
        action: String,
        /// The lock timeout, which SQLite's busy timeout was set to.
        lock_timeout: Duration,
        /// Who holds the lock, as far as can be told.
        holder: String,
        /// Revisions this run applied before it had to wait; they stay applied.
        completed: Vec<StepReport>,
    },
    /// The lock file next to a SQLite database could not be opened.
    #[error("cannot take the migration lock: {0}")]
    LockFile(String),
    /// The history table does not match the revision files; nothing was applied.
    #[error("{0}")]
    History(Box<HistoryMismatch>),
    /// A Rust revision has no compiled step in this binary.
    #[error(
        "revision {version} ({path}) is a Rust data step, but it is not compiled into this program; \
         build the application (or let `cargo dbmigrate` build its runner) with the revision directory embedded",
        path = path.display()
    )]
    MissingRustStep {
        /// The revision.
        version: i64,
        /// Its file.
        path: PathBuf,
    },
    /// A revision to revert has no downgrade.
    #[error(
        "revision {version} ({path}) has no downgrade, so the database cannot go below it; nothing was reverted. \
         Add a `-- migrate:downgrade` section (or a `downgrade` function) first",
        path = path.display()
    )]
    NotDowngradable {
        /// The revision.
        version: i64,
        /// Its file.
        path: PathBuf,
    },
    /// A revision failed while it ran.
    #[error("{0}")]
    Revision(Box<RevisionFailure>),
    /// `resolve` was asked about a revision with nothing to resolve.
    #[error("{0}")]
    Resolve(String),
    /// A command that writes was pointed at a PostgreSQL standby or a read-only MariaDB/MySQL
    /// server; refused before the lock was taken or anything written.
    #[error(
        "cannot {command} here: this server is {role}; migrations run on the primary: point the URL at it. \
         Nothing was locked or written. `status` and `current` work here, read-only; an application replica \
         that starts before the primary's migration has replicated waits for it with `Migrator::wait_for`"
    )]
    ReadOnlyServer {
        /// The command refused: `upgrade`, `downgrade`, `stamp`, `resolve` or `repair`.
        command: &'static str,
        /// What the server is.
        role: crate::backend::ServerRole,
    },
    /// [`super::Migrator::wait_for`] gave up before the revisions of its target were all in the
    /// history table of the server it reads.
    #[error(
        "the schema this program needs did not arrive within {:.1} s: revision(s) {} of target `{target}` \
         are not recorded in `{table}` on this server yet{}. Is the migration running on the primary? \
         `cargo dbmigrate status` against the primary tells; if it is just slow, wait longer",
        waited.as_secs_f64(),
        join(pending),
        if current.is_empty() { String::new() } else { format!(" (it is at {})", join(current)) }
    )]
    WaitTimeout {
        /// What was waited for.
        target: crate::graph::Target,
        /// The history table.
        table: String,
        /// How long it waited.
        waited: Duration,
        /// The revisions of the target not (or not completely) applied on this server.
        pending: Vec<i64>,
        /// The heads applied on this server.
        current: Vec<i64>,
    },
}

fn join(versions: &[i64]) -> String {
    versions
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_completed(completed: &[StepReport]) -> String {
    if completed.is_empty() {
        return String::new();
    }
    let versions: Vec<String> = completed.iter().map(|s| s.version.to_string()).collect();
    format!(
        "; the {} revision(s) this run applied before it ({}) stay applied",
        versions.len(),
        versions.join(", ")
    )
}

impl Error {
    pub(crate) fn database(action: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Self {
        let action = action.into();
        move |source| Self::Database { action, source }
    }
}

/// Why the history table and the files disagree, all of it at once.
#[derive(Debug, Clone)]
pub struct HistoryMismatch {
    /// The history table.
    pub table: String,
    /// What the comparison found.
    pub verification: Verification,
    /// Which findings refuse the run (the options decide for divergent, missing and out-of-order).
    pub refuse_divergent: bool,
    /// See `refuse_divergent`.
    pub refuse_missing: bool,
    /// See `refuse_divergent`.
    pub refuse_out_of_order: bool,
}

impl fmt::Display for HistoryMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = &self.verification;
        writeln!(
            f,
            "the history table `{}` does not match the revision files; nothing was applied:",
            self.table
        )?;
        for row in &v.bad_rows {
            writeln!(
                f,
                "  - row {}: {}; refinery cannot read it either. Fix the row by hand (applied_on is RFC 3339, checksum a decimal u64)",
                row.version, row.reason
            )?;
        }
        if self.refuse_divergent {
            for d in &v.divergent {
                if d.recorded_name.as_deref() != Some(d.file_name.as_str()) {
                    writeln!(
                        f,
                        "  - revision {} was applied as `{}` but {} is named `{}`; rename the file back",
                        d.version,
                        d.recorded_name.as_deref().unwrap_or("NULL"),
                        d.path.display(),
                        d.file_name
                    )?;
                } else if d.line_endings_only {
                    writeln!(
                        f,
                        "  - revision {} ({}) differs from what was applied only in its line endings (CRLF/LF); \
                         run `cargo dbmigrate repair` to record the current checksum, and pin line endings in .gitattributes",
                        d.version,
                        d.path.display()
                    )?;
                } else {
                    writeln!(
                        f,
                        "  - revision {} ({}) changed after it was applied (checksum {} recorded, {} now); \
                         restore the applied text and put the change in a new revision",
                        d.version,
                        d.path.display(),
                        d.recorded_checksum.as_deref().unwrap_or("NULL"),
                        d.file_checksum
                    )?;
                }
            }
        }
        if self.refuse_missing {
            for row in &v.missing_files {
                writeln!(
                    f,
                    "  - revision {} (`{}`) is applied but no file defines it; restore the file",
                    row.version,
                    row.name.as_deref().unwrap_or("NULL")
                )?;
            }
        }
        if self.refuse_out_of_order {
            for version in &v.out_of_order {
                writeln!(
                    f,
                    "  - revision {version} is not applied, but later versions are; renumber it above the applied head \
                     (`cargo dbmigrate rebase {version} --onto <head>`) or allow out-of-order revisions"
                )?;
            }
        }
        for state in &v.unfinished {
            writeln!(f, "  - {}", describe_unfinished(state))?;
        }
        for version in &v.rows_deleted {
            writeln!(
                f,
                "  - revision {version} was applied (`{}` says so) but its row in `{}` is gone; if it is still in effect, \
                 `cargo dbmigrate resolve {version} --applied` records it again, otherwise `cargo dbmigrate resolve {version} --reverted`",
                crate::backend::state_table(&self.table),
                self.table
            )?;
        }
        Ok(())
    }
}

/// One line saying what state an unfinished revision is in and how to get out of it, offering only
/// the ways out that work for it (a Rust step, which records no statement, cannot be resumed).
pub fn describe_unfinished(state: &StateRow) -> String {
    let version = state.version;
    let direction = state.direction.as_deref().unwrap_or("upgrade");
    let resolve = |how: &str| format!("`cargo dbmigrate resolve {version} --{how}`");
    let error = state
        .error
        .as_deref()
        .unwrap_or("unknown error")
        .lines()
        .next()
        .unwrap_or("");
    let failed = state.state == Some(crate::history::RunState::Failed);
    match (state.statement_index, state.statement_count) {
        // Every statement ran; what failed was recording it.
        (Some(index), Some(count)) if failed && index > count => format!(
            "revision {version} ran all {count} of its statements ({direction}), but recording it failed: {error}. \
             Check the schema, then run {}",
            resolve("applied")
        ),
        (Some(index), Some(count)) => {
            let line = state
                .statement_line
                .map(|l| format!(" (line {l})"))
                .unwrap_or_default();
            let done = match index - 1 {
                0 => "no statement had completed".to_string(),
                1 => "statement 1 completed".to_string(),
                n => format!("statements 1 to {n} completed"),
            };
            if failed {
                format!(
                    "revision {version} is partially applied: its {direction} failed after some statements committed \
                     ({done} of {count}; statement {index}{line} failed: {error}). Either finish it by hand and run {}, \
                     undo the completed statements and run {}, or fix statement {index} in the file and run {}",
                    resolve("applied"),
                    resolve("reverted"),
                    resolve("resume"),
                )
            } else {
                format!(
                    "revision {version} was started ({direction}, {updated}) and never finished: {done} of {count}, and \
                     statement {index}{line} may or may not have run (the process was killed or lost its connection). \
                     Check the schema, then run {}, {} or {}",
                    resolve("applied"),
                    resolve("reverted"),
                    resolve("resume"),
                    updated = state.updated_on,
                )
            }
        }
        // A Rust step (or a step's DDL that MySQL committed): no statement to resume from.
        _ if failed => format!(
            "revision {version} is partially applied: its {direction} failed after committing part of its work \
             ({error}). Either finish it by hand and run {}, or undo what it did and run {}",
            resolve("applied"),
            resolve("reverted"),
        ),
        _ => format!(
            "revision {version} was started ({direction}, {updated}) and never finished: the process was killed or \
             lost its connection while it ran, so part of it may have committed. Check the schema, then run {} or {}",
            resolve("applied"),
            resolve("reverted"),
            updated = state.updated_on,
        ),
    }
}
