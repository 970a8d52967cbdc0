//! What a database error says about its cause: the revision's own SQL, or something around it (a
//! lost connection, a lock another transaction held, a missing privilege, a read-only server, a full
//! disk), so that an error blames the revision only for what the revision did, and names the next
//! step that works. Also how each database's error is shown: its code, message, detail and hint,
//! and where in the revision file it points.

use std::fmt;

/// The kind of cause behind a database error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Diagnosis {
    /// The SQL itself: a syntax error, a missing table, a constraint the data breaks.
    Revision,
    /// The connection to the database was lost.
    ConnectionLost,
    /// Another transaction was in the way: a lock wait that timed out, a deadlock, a serialization
    /// failure or, on Galera, a certification conflict. Running again usually works.
    Conflict,
    /// The server cancelled the statement: a statement timeout, or an administrator's cancel.
    Cancelled,
    /// The database user lacks a privilege.
    Permission,
    /// The server accepts no writes: a standby, a replica, `read_only`, or a read-only file.
    ReadOnly,
    /// The server or its disk is out of space.
    OutOfSpace,
}

impl Diagnosis {
    /// Sorts a database error.
    pub fn of(error: &sqlx::Error) -> Self {
        if super::failure::is_connection_lost(error) {
            return Self::ConnectionLost;
        }
        let Some(database) = error.as_database_error() else {
            return Self::Revision;
        };
        crate::backend::errors::ALL
            .iter()
            .find_map(|mapping| (mapping.diagnose)(database))
            .unwrap_or_else(|| Self::of_sqlstate(database.code().as_deref().unwrap_or("")))
    }

    /// PostgreSQL's SQLSTATE classes (MySQL shares some).
    pub(crate) fn of_sqlstate(code: &str) -> Self {
        match code {
            "40P01" | "40001" | "55P03" | "55006" => Self::Conflict,
            "57014" => Self::Cancelled,
            "42501" => Self::Permission,
            "25006" => Self::ReadOnly,
            "53100" | "53200" | "53400" => Self::OutOfSpace,
            "57P01" | "57P02" | "57P03" | "08000" | "08003" | "08006" => Self::ConnectionLost,
            _ => Self::Revision,
        }
    }

    /// Whether the revision's own text is to blame, so that changing it is what to do.
    pub fn blames_the_revision(self) -> bool {
        self == Self::Revision
    }

    /// What to do about a failure outside any revision (reading or creating the history tables,
    /// taking the lock), when the cause suggests something.
    pub fn hint(self) -> Option<&'static str> {
        match self {
            Self::Revision => None,
            Self::ConnectionLost => {
                Some("the connection to the database was lost; run the command again")
            }
            Self::Conflict => Some(
                "another transaction held a lock dbmigrate needed; run the command again when it is done",
            ),
            Self::Cancelled => Some(
                "the server cancelled the statement (a statement timeout set for the role, database or URL); raise it \
                 for the migration",
            ),
            Self::Permission => Some(
                "the database user lacks a privilege dbmigrate needs on its history tables (create, select, insert, \
                 update, delete); grant it, or migrate as a user that has it",
            ),
            Self::ReadOnly => Some(
                "the database accepts no writes (a standby or read replica, `read_only` set, or a read-only file); \
                 point the database URL at the primary",
            ),
            Self::OutOfSpace => {
                Some("the database is out of space; free some, then run the command again")
            }
        }
    }

    /// What to do when nothing of the revision was applied and the cause is this, for a command
    /// (`upgrade`, `downgrade`) that is then worth running again.
    pub fn next_step(self, command: &str) -> String {
        let again = format!("run `cargo dbmigrate {command}` again");
        match self {
            Self::Revision => format!("Fix the revision and {again}"),
            Self::ConnectionLost => format!("The revision is not at fault; {again}"),
            Self::Conflict => format!(
                "Another transaction held what the revision needed (a lock wait timeout, a deadlock, or a conflict \
                 with a concurrent write); the revision is not at fault: {again} when that work is done"
            ),
            Self::Cancelled => format!(
                "The server cancelled the statement (a statement timeout set for the role, database or URL, or an \
                 administrator's cancel); raise the timeout for the migration, or split the revision, then {again}"
            ),
            Self::Permission => format!(
                "The database user lacks a privilege the revision needs; grant it, or migrate as a user that has \
                 it, then {again}"
            ),
            Self::ReadOnly => format!(
                "The database accepts no writes (a standby or read replica, `read_only` set, or a read-only file); \
                 point the database URL at the primary, then {again}"
            ),
            Self::OutOfSpace => format!("The database is out of space; free some, then {again}"),
        }
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Revision => "an error in the revision",
            Self::ConnectionLost => "the connection was lost",
            Self::Conflict => "a conflict with another transaction",
            Self::Cancelled => "the statement was cancelled",
            Self::Permission => "a missing privilege",
            Self::ReadOnly => "a read-only database",
            Self::OutOfSpace => "out of space",
        })
    }
}

/// A database error as a person needs it: the database's code and message, PostgreSQL's detail
/// and hint, without sqlx's wording or the server's own source line.
pub(crate) fn render(error: &sqlx::Error) -> String {
    let Some(database) = error.as_database_error() else {
        return error.to_string();
    };
    crate::backend::errors::ALL
        .iter()
        .find_map(|mapping| (mapping.render)(database))
        .unwrap_or_else(|| database.message().to_string())
}

/// Where in a statement the database says its error is, as a 0-based character offset into the
/// statement, given the character offset of the statement in the text sent. PostgreSQL reports a
/// 1-based character position in the text sent; MySQL says "at line N" of the statement.
pub(crate) fn position_in_statement(
    error: &sqlx::Error,
    statement: &str,
    offset_in_sent: usize,
) -> Option<usize> {
    let database = error.as_database_error()?;
    crate::backend::errors::ALL
        .iter()
        .find_map(|mapping| (mapping.position)(database, statement, offset_in_sent))
}

/// The line (1-based, counted in the file) of character `offset` of a statement that starts on
/// `first_line`.
pub(crate) fn line_at(statement: &str, first_line: u32, offset: usize) -> u32 {
    let newlines = statement
        .chars()
        .take(offset)
        .filter(|&c| c == '\n')
        .count();
    first_line.saturating_add(u32::try_from(newlines).unwrap_or(u32::MAX))
}
