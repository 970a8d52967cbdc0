//! A revision that failed while it ran: the statement, the cause (the revision's own SQL, or what
//! was around it), what of it stays committed, and what to do next.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::diagnosis::Diagnosis;
use super::report::{Direction, StepReport};

/// Where a statement that failed is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailedStatement {
    /// 1-based index among the revision's statements.
    pub index: usize,
    /// How many statements the revision has.
    pub count: usize,
    /// 1-based line in the file where the statement starts.
    pub line: u32,
    /// The statement.
    pub text: String,
    /// 1-based line in the file the database's error points at, when it says (PostgreSQL's error
    /// position, MySQL's "at line N").
    pub error_line: Option<u32>,
}

impl FailedStatement {
    pub(crate) fn new(index: usize, count: usize, line: u32, text: String) -> Self {
        Self {
            index,
            count,
            line,
            text,
            error_line: None,
        }
    }

    /// Points at the line of the file the database's error names, given how many characters came
    /// before the statement in the text sent.
    pub(crate) fn pointed_at(mut self, error: &sqlx::Error, offset_in_sent: usize) -> Self {
        self.error_line =
            super::diagnosis::position_in_statement(error, &self.text, offset_in_sent)
                .map(|offset| super::diagnosis::line_at(&self.text, self.line, offset));
        self
    }

    /// `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name`: the index's name, when the
    /// statement builds one concurrently, which PostgreSQL leaves behind INVALID when it fails.
    fn concurrent_index(&self) -> Option<&str> {
        let words: Vec<&str> = self.text.split_whitespace().take(8).collect();
        let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
        let mut at = 1;
        if upper.first().map(String::as_str) != Some("CREATE") {
            return None;
        }
        if upper.get(at).map(String::as_str) == Some("UNIQUE") {
            at += 1;
        }
        if upper.get(at).map(String::as_str) != Some("INDEX")
            || upper.get(at + 1).map(String::as_str) != Some("CONCURRENTLY")
        {
            return None;
        }
        at += 2;
        if upper.get(at).map(String::as_str) == Some("IF") {
            at += 3;
        }
        words
            .get(at)
            .copied()
            .filter(|name| !name.eq_ignore_ascii_case("ON"))
    }
}

/// What failed inside a revision.
#[derive(Debug)]
#[non_exhaustive]
pub enum FailureCause {
    /// The database refused a statement of the revision (or its commit).
    Database(sqlx::Error),
    /// A Rust data step returned an error.
    Step(crate::data::BoxError),
    /// SQLite rolled back the revision's transaction by itself (an `OR ROLLBACK` conflict,
    /// `RAISE(ROLLBACK)`, a full disk, an I/O error) while a data step ignored the error that said
    /// so and carried on.
    TransactionLost,
    /// The revision ran, and writing its history (refinery's row, the side table's) failed.
    Recording(sqlx::Error),
    /// The revision did not finish within the revision timeout; its connection was closed.
    TimedOut(Duration),
}

/// Whether an error means the connection to the database is gone (reset, closed, broken mid-message),
/// so that whatever was in flight may or may not have reached the database.
pub(crate) fn is_connection_lost(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // PostgreSQL: the server is shutting down or was restarted under us.
        sqlx::Error::Database(e) => {
            matches!(e.code().as_deref(), Some("57P01" | "57P02" | "57P03"))
        }
        _ => false,
    }
}

impl FailureCause {
    /// The database's error behind the failure, if any (also when a data step passed it on).
    pub(crate) fn database_error(&self) -> Option<&sqlx::Error> {
        match self {
            Self::Database(error) | Self::Recording(error) => Some(error),
            Self::Step(error) => error
                .downcast_ref::<crate::data::DataError>()
                .and_then(crate::data::DataError::database_error)
                .or_else(|| error.downcast_ref::<sqlx::Error>()),
            Self::TransactionLost | Self::TimedOut(_) => None,
        }
    }

    /// Whether the connection was lost during the revision (or given up on, past the revision
    /// timeout): what was in flight may or may not have committed.
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, Self::TimedOut(_)) || self.database_error().is_some_and(is_connection_lost)
    }

    /// What kind of cause this is: the revision's own, or something around it.
    pub fn diagnosis(&self) -> Diagnosis {
        match self {
            Self::TransactionLost => Diagnosis::Revision,
            Self::TimedOut(_) => Diagnosis::Cancelled,
            Self::Step(_) => self
                .database_error()
                .map_or(Diagnosis::Revision, Diagnosis::of),
            Self::Database(error) | Self::Recording(error) => Diagnosis::of(error),
        }
    }

    /// Whether this is SQLite refusing a commit that dbmigrate's transaction watch vetoed
    /// (`SQLITE_CONSTRAINT_COMMITHOOK`): a statement that ran after SQLite had abandoned the
    /// revision's transaction, not a problem of its own.
    pub(crate) fn is_refused_commit(&self) -> bool {
        /// SQLITE_CONSTRAINT_COMMITHOOK.
        const REFUSED_BY_COMMIT_HOOK: &str = "531";
        self.database_error()
            .and_then(sqlx::Error::as_database_error)
            .and_then(|e| e.code())
            .is_some_and(|code| code == REFUSED_BY_COMMIT_HOOK)
    }
}

impl fmt::Display for FailureCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Database(e) => f.write_str(&super::diagnosis::render(e)),
            Self::Step(e) => write!(f, "{e}"),
            Self::TransactionLost => f.write_str(
                "SQLite rolled back the transaction by itself during this revision (a statement with OR ROLLBACK, \
                 RAISE(ROLLBACK) in a trigger, a full disk or an I/O error), and the data step went on after the \
                 error that said so; make the step return that error",
            ),
            Self::Recording(e) => write!(
                f,
                "the revision ran, but writing its history failed: {}",
                super::diagnosis::render(e)
            ),
            Self::TimedOut(limit) => write!(
                f,
                "the revision did not finish within the revision timeout ({} s), so dbmigrate closed its connection \
                 (the server rolls back what it had not committed)",
                limit.as_secs_f64()
            ),
        }
    }
}

/// What of a failed revision stays committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Committed {
    /// Nothing: the revision rolled back completely.
    Nothing,
    /// Its first N statements (MySQL DDL, `Transaction: none`).
    Statements(usize),
    /// Whatever a data step committed before it failed: outside a transaction, or DDL that MySQL
    /// committed implicitly; or, when the connection was lost and the history could not be read
    /// again, possibly all of it.
    Unknown,
    /// All of it: the connection was lost after the revision's commit was sent, and the history,
    /// read again on a new connection, shows that it committed.
    Whole,
}

/// How the outcome of a revision whose connection was lost was found out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Recheck {
    /// On a new connection, once the server had ended the lost one, the history was read again:
    /// [`RevisionFailure::committed`] is what it says.
    Confirmed,
    /// It could not be: the reason. The outcome is unknown.
    Impossible(String),
}

/// A revision that failed while it ran, and where that leaves the database.
#[derive(Debug)]
#[non_exhaustive]
pub struct RevisionFailure {
    /// Upgrade or downgrade.
    pub direction: Direction,
    /// The revision.
    pub version: i64,
    /// Its file.
    pub path: PathBuf,
    /// Whether it is a Rust data step (it cannot be resumed part-way).
    pub rust: bool,
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
    /// When the connection was lost during the revision: how its outcome was found out.
    pub recheck: Option<Recheck>,
    /// Recording the failure in the side table (which `status` and `resolve` read) failed too: why.
    pub unrecorded: Option<String>,
    /// The backend, for advice that depends on it.
    pub backend: crate::backend::Backend,
    /// The history table.
    pub table: String,
}

impl RevisionFailure {
    /// The same failure, with its database error blamed on writing the history, not on the
    /// revision's statements.
    pub(crate) fn into_recording(mut self: Box<Self>) -> Box<Self> {
        if let FailureCause::Database(error) =
            std::mem::replace(&mut self.cause, FailureCause::TransactionLost)
        {
            self.cause = FailureCause::Recording(error);
        }
        self
    }

    fn command(&self) -> &'static str {
        match self.direction {
            Direction::Upgrade => "upgrade",
            Direction::Downgrade => "downgrade",
        }
    }

    /// What the revision left, as a sentence.
    fn outcome(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let version = self.version;
        let state_table = crate::backend::state_table(&self.table);
        let lost = self.cause.is_connection_lost();
        if self.transaction_lost {
            write!(f, "SQLite rolled back the whole transaction, so ")?;
        }
        match (self.committed, &self.recheck) {
            (Committed::Nothing, Some(Recheck::Confirmed)) => write!(
                f,
                "the connection was lost during revision {version}; read again on a new connection once the server \
                 had ended the lost one, the history shows that nothing of revision {version} was applied"
            ),
            (Committed::Nothing, _) => write!(f, "nothing of revision {version} was applied"),
            (Committed::Statements(count), _) => write!(
                f,
                "statements 1 to {count} committed before the failure and cannot be rolled back, so revision {version} \
                 is partially applied (recorded in `{state_table}`)"
            ),
            (Committed::Whole, _) => write!(
                f,
                "the connection was lost after revision {version} was sent to commit; read again on a new connection \
                 once the server had ended the lost one, the history shows that it committed: revision {version} is \
                 applied"
            ),
            (Committed::Unknown, Some(Recheck::Impossible(reason))) => write!(
                f,
                "the connection was lost during revision {version}, and the history could not be read again to find \
                 out whether it committed ({reason}): the outcome of revision {version} is unknown"
            ),
            (Committed::Unknown, _) if lost => write!(
                f,
                "the connection was lost during revision {version}, part of which runs outside a transaction: \
                 `{state_table}` says which of its statements completed"
            ),
            (Committed::Unknown, _) => write!(
                f,
                "the step committed part of its work before it failed (it ran outside a transaction, or MySQL \
                 committed its DDL implicitly), so what it committed stays; revision {version} is recorded as \
                 failed in `{state_table}`"
            ),
        }
    }

    /// What to do next, as a sentence.
    fn next_step(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let command = self.command();
        match (self.committed, &self.recheck) {
            (Committed::Nothing, _)
                if matches!(self.cause, FailureCause::Recording(_))
                    && self.cause.diagnosis().blames_the_revision() =>
            {
                write!(
                    f,
                    "The revision is not at fault: `{table}` or `{state}` refused dbmigrate's row, so it is not the \
                     table refinery and dbmigrate create (a column added or changed, a trigger or constraint on it); \
                     restore it to refinery's shape, then run `cargo dbmigrate {command}` again",
                    table = self.table,
                    state = crate::backend::state_table(&self.table),
                )
            }
            (Committed::Nothing, _) if matches!(self.cause, FailureCause::TimedOut(_)) => write!(
                f,
                "Find out why it took so long (a lock it waited for, a network that stopped answering); raise the \
                 revision timeout or split the revision if it needs longer, then run `cargo dbmigrate {command}` again"
            ),
            (Committed::Nothing, _) => write!(f, "{}", self.cause.diagnosis().next_step(command)),
            (Committed::Whole, _) => {
                write!(
                    f,
                    "Run `cargo dbmigrate {command}` again for the revisions after it"
                )
            }
            (Committed::Unknown, Some(Recheck::Impossible(_))) => write!(
                f,
                "Once the database is reachable, `cargo dbmigrate status` tells whether revision {} is applied",
                self.version
            ),
            (Committed::Statements(_) | Committed::Unknown, _) => {
                if let (Some(index), true) = (
                    self.statement
                        .as_ref()
                        .and_then(FailedStatement::concurrent_index),
                    self.backend
                        .dialect()
                        .runner
                        .leaves_invalid_concurrent_indexes,
                ) {
                    write!(
                        f,
                        "PostgreSQL leaves the index `{index}` behind, marked INVALID: drop it \
                         (`DROP INDEX CONCURRENTLY {index};`) before resuming. "
                    )?;
                }
                write!(f, "Run `cargo dbmigrate status` for how to recover")
            }
        }
    }
}

impl fmt::Display for RevisionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of revision {} ({}) failed",
            self.command(),
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
                match s.error_line.filter(|&line| line != s.line) {
                    Some(error_line) => write!(
                        f,
                        " at line {error_line} (statement {} of {}, from line {}):\n  {text}\n",
                        s.index, s.count, s.line
                    )?,
                    None => write!(
                        f,
                        " at line {}, statement {} of {}:\n  {text}\n",
                        s.line, s.index, s.count
                    )?,
                }
            }
            None => writeln!(f, ":")?,
        }
        writeln!(f, "{}", self.cause)?;
        self.outcome(f)?;
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
        write!(f, ". ")?;
        self.next_step(f)?;
        if let Some(reason) = &self.unrecorded {
            write!(
                f,
                "\nwarning: updating `{}` after this failure failed too ({reason}), so what `cargo dbmigrate status` \
                 shows of revision {} may be out of date; check the schema by hand before running again",
                crate::backend::state_table(&self.table),
                self.version
            )?;
        }
        Ok(())
    }
}
