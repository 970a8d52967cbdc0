//! What can go wrong when migrating a database, each error saying what happened and what to do.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::Problems;
use crate::graph::GraphError;
use crate::history::{StateRow, Verification};

use super::report::{Direction, StepReport};

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
    #[error("{action}: {source}")]
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

/// One line saying what state an unfinished revision is in and how to get out of it.
pub fn describe_unfinished(state: &StateRow) -> String {
    let version = state.version;
    let direction = state.direction.as_deref().unwrap_or("upgrade");
    let progress = match (state.statement_index, state.statement_count) {
        (Some(index), Some(count)) => {
            let line = state
                .statement_line
                .map(|l| format!(" (line {l})"))
                .unwrap_or_default();
            format!(
                "statements 1 to {} of {count} completed; statement {index}{line}",
                index - 1
            )
        }
        _ => "its statements".to_string(),
    };
    match state.state {
        Some(crate::history::RunState::Failed) => format!(
            "revision {version} is partially applied: its {direction} failed after some statements committed \
             ({progress} failed: {}). Either finish it by hand and run `cargo dbmigrate resolve {version} --applied`, \
             undo the completed statements and run `cargo dbmigrate resolve {version} --reverted`, \
             or fix statement {} in the file and run `cargo dbmigrate resolve {version} --resume`",
            state
                .error
                .as_deref()
                .unwrap_or("unknown error")
                .lines()
                .next()
                .unwrap_or(""),
            state.statement_index.unwrap_or(1),
        ),
        _ => format!(
            "revision {version} was started ({direction}, {updated}) and never finished: {progress} may or may not have \
             run (the process was killed or lost its connection). Check the schema, then run \
             `cargo dbmigrate resolve {version} --applied`, `--reverted` or `--resume`",
            updated = state.updated_on,
        ),
    }
}

/// Where a statement that failed is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedStatement {
    /// 1-based index among the revision's statements.
    pub index: usize,
    /// How many statements the revision has.
    pub count: usize,
    /// 1-based line in the file.
    pub line: u32,
    /// The statement.
    pub text: String,
}

/// What failed inside a revision.
#[derive(Debug)]
pub enum FailureCause {
    /// The database refused a statement (or the commit).
    Database(sqlx::Error),
    /// A Rust data step returned an error.
    Step(crate::data::BoxError),
    /// SQLite rolled back the revision's transaction by itself (an `OR ROLLBACK` conflict,
    /// `RAISE(ROLLBACK)`, a full disk, an I/O error) while a data step ignored the error that said
    /// so and carried on.
    TransactionLost,
}

impl FailureCause {
    /// Whether this is SQLite refusing a commit that dbmigrate's transaction watch vetoed
    /// (`SQLITE_CONSTRAINT_COMMITHOOK`): a statement that ran after SQLite had abandoned the
    /// revision's transaction, not a problem of its own.
    pub(crate) fn is_refused_commit(&self) -> bool {
        /// SQLITE_CONSTRAINT_COMMITHOOK.
        const REFUSED_BY_COMMIT_HOOK: &str = "531";
        let database = match self {
            Self::Database(error) => Some(error),
            Self::Step(error) => error
                .downcast_ref::<crate::data::DataError>()
                .and_then(crate::data::DataError::database_error)
                .or_else(|| error.downcast_ref::<sqlx::Error>()),
            Self::TransactionLost => None,
        };
        database
            .and_then(sqlx::Error::as_database_error)
            .and_then(|e| e.code())
            .is_some_and(|code| code == REFUSED_BY_COMMIT_HOOK)
    }
}

impl fmt::Display for FailureCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Database(e) => write!(f, "{e}"),
            Self::Step(e) => write!(f, "{e}"),
            Self::TransactionLost => f.write_str(
                "SQLite rolled back the transaction by itself during this revision (a statement with OR ROLLBACK, \
                 RAISE(ROLLBACK) in a trigger, a full disk or an I/O error), and the data step went on after the \
                 error that said so; make the step return that error",
            ),
        }
    }
}

/// What of a failed revision stays committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// Nothing: the revision rolled back completely.
    Nothing,
    /// Its first N statements (MySQL DDL, `Transaction: none`).
    Statements(usize),
    /// Whatever a data step committed before it failed: outside a transaction, or DDL that MySQL
    /// committed implicitly.
    Unknown,
}

/// A revision that failed while it ran, and where that leaves the database.
#[derive(Debug)]
pub struct RevisionFailure {
    /// Upgrade or downgrade.
    pub direction: Direction,
    /// The revision.
    pub version: i64,
    /// Its file.
    pub path: PathBuf,
    /// The statement that failed, when the revision is SQL.
    pub statement: Option<FailedStatement>,
    /// The cause.
    pub cause: FailureCause,
    /// What committed before the failure and cannot be rolled back: something only on MySQL DDL
    /// and `Transaction: none` revisions. The side table records it.
    pub committed: Committed,
    /// The revisions applied (or reverted) by this run before the failure; they stay.
    pub completed: Vec<StepReport>,
    /// The database abandoned the whole transaction the revision ran in (SQLite, on some errors),
    /// not just the revision's own part of it.
    pub transaction_lost: bool,
    /// Revisions of this run that had run before the failing one in the same transaction (a SQLite
    /// group) and were rolled back with it when SQLite abandoned that transaction; not applied.
    pub rolled_back: Vec<StepReport>,
    /// The history table.
    pub table: String,
}

impl fmt::Display for RevisionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.direction {
            Direction::Upgrade => "upgrade",
            Direction::Downgrade => "downgrade",
        };
        write!(
            f,
            "{verb} of revision {} ({}) failed",
            self.version,
            self.path.display()
        )?;
        match &self.statement {
            Some(s) => {
                let text: String = s.text.split_whitespace().collect::<Vec<_>>().join(" ");
                let text = if text.chars().count() > 300 {
                    format!("{}...", text.chars().take(300).collect::<String>())
                } else {
                    text
                };
                write!(
                    f,
                    " at line {}, statement {} of {}:\n  {text}\n",
                    s.line, s.index, s.count
                )?;
            }
            None => writeln!(f, ":")?,
        }
        writeln!(f, "{}", self.cause)?;
        let state_table = crate::backend::state_table(&self.table);
        if self.transaction_lost {
            write!(f, "SQLite rolled back the whole transaction, so ")?;
        }
        match self.committed {
            Committed::Nothing => write!(f, "nothing of revision {} was applied", self.version)?,
            Committed::Statements(count) => write!(
                f,
                "statements 1 to {count} committed before the failure and cannot be rolled back, so revision {} is partially \
                 applied (recorded in `{state_table}`); run `cargo dbmigrate status` for how to recover",
                self.version,
            )?,
            Committed::Unknown => write!(
                f,
                "the step committed part of its work before it failed (it ran outside a transaction, or MySQL committed \
                 its DDL implicitly), so what it committed stays; revision {} is recorded as failed in `{state_table}`; \
                 run `cargo dbmigrate status` for how to recover",
                self.version,
            )?,
        }
        if !self.rolled_back.is_empty() {
            let versions: Vec<String> = self
                .rolled_back
                .iter()
                .map(|s| s.version.to_string())
                .collect();
            write!(
                f,
                ", and {} that ran before it in the same transaction ({}) went with it and are not applied",
                versions.len(),
                versions.join(", ")
            )?;
        }
        if !self.completed.is_empty() {
            let done: Vec<String> = self
                .completed
                .iter()
                .map(|s| s.version.to_string())
                .collect();
            let verb = match self.direction {
                Direction::Upgrade => "applied",
                Direction::Downgrade => "reverted",
            };
            write!(
                f,
                "; {} {verb} before it ({}) stay {verb}",
                done.len(),
                done.join(", ")
            )?;
        }
        if self.committed == Committed::Nothing {
            write!(f, ". Fix the revision and run again")?;
        }
        Ok(())
    }
}
