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
        if super::error::is_connection_lost(error) {
            return Self::ConnectionLost;
        }
        let Some(database) = error.as_database_error() else {
            return Self::Revision;
        };
        let code = database.code();
        let code = code.as_deref().unwrap_or("");
        #[cfg(feature = "mysql")]
        if let Some(mysql) = database.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
            return Self::of_mysql(mysql.number(), code);
        }
        #[cfg(feature = "sqlite")]
        if database
            .try_downcast_ref::<sqlx::sqlite::SqliteError>()
            .is_some()
        {
            return Self::of_sqlite(code.parse().unwrap_or(0));
        }
        Self::of_sqlstate(code)
    }

    /// PostgreSQL's SQLSTATE classes (MySQL shares some).
    fn of_sqlstate(code: &str) -> Self {
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

    /// MySQL/MariaDB error numbers.
    #[cfg(feature = "mysql")]
    fn of_mysql(number: u16, sqlstate: &str) -> Self {
        match number {
            // Lock wait timeout; deadlock (and Galera's certification failure, reported as one).
            1205 | 1213 | 1180 | 1181 => Self::Conflict,
            // Query execution interrupted; max_statement_time / max_execution_time exceeded.
            1317 | 1028 | 3024 | 1969 => Self::Cancelled,
            // Access denied for a table, a column, a database; a missing SUPER-like privilege.
            1044 | 1045 | 1142 | 1143 | 1227 | 1370 => Self::Permission,
            // --read-only; a read-only transaction.
            1290 | 1792 | 1836 => Self::ReadOnly,
            // The table is full; out of memory; disk full.
            1114 | 1037 | 1038 | 1021 => Self::OutOfSpace,
            // Server gone, lost connection during query, shutdown in progress.
            2006 | 2013 | 1053 | 1927 => Self::ConnectionLost,
            _ => Self::of_sqlstate(sqlstate),
        }
    }

    /// SQLite result codes (the primary code is the low byte of the extended one).
    #[cfg(feature = "sqlite")]
    fn of_sqlite(extended: i64) -> Self {
        match extended & 0xff {
            // SQLITE_BUSY, SQLITE_LOCKED
            5 | 6 => Self::Conflict,
            // SQLITE_INTERRUPT
            9 => Self::Cancelled,
            // SQLITE_PERM, SQLITE_AUTH
            3 | 23 => Self::Permission,
            // SQLITE_READONLY
            8 => Self::ReadOnly,
            // SQLITE_FULL, SQLITE_NOMEM
            13 | 7 => Self::OutOfSpace,
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
    #[cfg(feature = "postgres")]
    if let Some(pg) = database.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        let mut text = format!("PostgreSQL error {}: {}", pg.code(), pg.message());
        if let Some(detail) = pg.detail() {
            text.push_str(&format!("\nDETAIL: {detail}"));
        }
        if let Some(hint) = pg.hint() {
            text.push_str(&format!("\nHINT: {hint}"));
        }
        if let Some(context) = pg.r#where() {
            text.push_str(&format!("\nCONTEXT: {context}"));
        }
        return text;
    }
    #[cfg(feature = "mysql")]
    if let Some(mysql) = database.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return format!(
            "MySQL/MariaDB error {} ({}): {}",
            mysql.number(),
            mysql.code().unwrap_or("HY000"),
            mysql.message()
        );
    }
    #[cfg(feature = "sqlite")]
    if database
        .try_downcast_ref::<sqlx::sqlite::SqliteError>()
        .is_some()
    {
        let code = database.code().unwrap_or_default();
        return format!("SQLite error {code}: {}", database.message());
    }
    database.message().to_string()
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
    #[cfg(feature = "postgres")]
    if let Some(pg) = database.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        let sqlx::postgres::PgErrorPosition::Original(position) = pg.position()? else {
            return None;
        };
        let within = position.checked_sub(1)?.checked_sub(offset_in_sent)?;
        return (within <= statement.chars().count()).then_some(within);
    }
    #[cfg(feature = "mysql")]
    if let Some(mysql) = database.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        // Syntax errors end with "... at line N", N counted in the statement sent.
        let line: usize = mysql
            .message()
            .rsplit_once(" at line ")?
            .1
            .trim()
            .parse()
            .ok()?;
        let mut chars = 0;
        for (index, text) in statement.split('\n').enumerate() {
            if index + 1 == line {
                return Some(chars);
            }
            chars += text.chars().count() + 1;
        }
        return None;
    }
    let _ = (statement, offset_in_sent);
    None
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
