//! A failed online command as plain data: what kind of failure it is (the CLI chooses the exit code
//! from it), the message, and hints saying what to do, found from the database's own error.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::graph::GraphError;
use crate::migrator::{Error, Recheck};

/// What kind of failure an online command met. `cargo dbmigrate` maps each kind to its exit code
/// (its `exit` module holds the table); an application may do the same, or just print the report.
/// Not `#[non_exhaustive]`: a new kind must fail to compile where a code is chosen for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The revision files have problems, or the target is ambiguous on a forked history.
    Revisions,
    /// A request that cannot be understood: a target naming no revision, a bad URL or table name.
    Usage,
    /// The database could not be reached before the connect deadline.
    Connect,
    /// The database refused: a revision's SQL failed, or a query on the history tables.
    Database,
    /// The history table does not match the revision files; nothing was applied.
    History,
    /// Another process held the migration lock (or SQLite's write lock) past the lock timeout.
    LockTimeout,
    /// `Migrator::wait_for` gave up before its target arrived.
    WaitTimeout,
    /// A Rust revision has no compiled step in the program that ran the command.
    MissingRustStep,
    /// The command was cut short and what it changed is unknown (a lost connection that could not be
    /// checked, a panicking data step); `cargo dbmigrate status` tells.
    OutcomeUnknown,
    /// A command that writes was pointed at a standby or a read-only replica.
    ReadOnlyServer,
}

impl ErrorKind {
    /// The kind of a migration error.
    pub fn of(error: &Error) -> Self {
        match error {
            Error::Revisions(_) | Error::NotDowngradable { .. } => Self::Revisions,
            Error::Target(GraphError::MultipleHeads { .. } | GraphError::Empty) => Self::Revisions,
            Error::Target(_) | Error::Resolve(_) => Self::Usage,
            Error::Revision(failure) if matches!(failure.recheck, Some(Recheck::Impossible(_))) => {
                Self::OutcomeUnknown
            }
            Error::Connect { .. } => Self::Connect,
            Error::Database { .. } | Error::LockFile(_) | Error::Revision(_) => Self::Database,
            Error::History(_) => Self::History,
            Error::LockTimeout { .. } | Error::DatabaseLocked { .. } => Self::LockTimeout,
            Error::WaitTimeout { .. } => Self::WaitTimeout,
            Error::ReadOnlyServer { .. } => Self::ReadOnlyServer,
            Error::MissingRustStep { .. } => Self::MissingRustStep,
        }
    }
}

/// A failure, ready to print: `error: {report}` gives the message `cargo dbmigrate` prints, followed
/// by a `help:` line per hint.
///
/// ```ignore
/// if let Err(error) = MIGRATIONS.upgrade(&pool).await {
///     eprintln!("error: {}", dbmigrate_runtime::online::ErrorReport::of(&error));
///     return std::process::ExitCode::FAILURE;
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReport {
    /// What kind of failure it is.
    pub kind: ErrorKind,
    /// What happened (possibly several lines).
    pub message: String,
    /// What to do about it, one sentence each.
    #[serde(default)]
    pub hints: Vec<String>,
}

impl ErrorReport {
    /// A report of `kind` with no hint.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            hints: Vec::new(),
        }
    }

    /// The report of a migration error, with the hints its cause calls for.
    pub fn of(error: &Error) -> Self {
        let mut report = Self::new(ErrorKind::of(error), error.to_string());
        if let Error::Connect { source, .. } = error {
            report.hints.extend(hints::connect(source, None));
        }
        report
    }

    /// What to do about a connection to `url` that failed with `error` (connection refused, a
    /// database that does not exist, a SQLite file not created, another kind of server).
    pub fn connect_hints(error: &sqlx::Error, url: &str) -> Vec<String> {
        hints::connect(error, Some(url))
    }

    /// The report of a migration error on the database at `url`, whose form adds hints (a SQLite
    /// file that is not created, a port that belongs to another kind of server).
    pub fn connecting_to(error: &Error, url: &str) -> Self {
        let mut report = Self::new(ErrorKind::of(error), error.to_string());
        if let Error::Connect { source, .. } = error {
            report.hints.extend(hints::connect(source, Some(url)));
        }
        report
    }
}

impl fmt::Display for ErrorReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message.trim_end())?;
        for hint in &self.hints {
            write!(f, "\nhelp: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ErrorReport {}

pub(super) mod hints {
    //! Hints found from a connection error and the URL.

    use std::io::ErrorKind as Io;

    /// `host:port` of a server URL, without user or password.
    pub(crate) fn host_port(url: &str) -> Option<String> {
        let rest = url.split_once("://")?.1;
        let authority = rest.split(['/', '?']).next()?;
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        (!host.is_empty()).then(|| host.to_string())
    }

    /// The file of a `sqlite:` URL.
    fn sqlite_file(url: &str) -> Option<&str> {
        let rest = url.strip_prefix("sqlite:")?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let file = rest.split('?').next()?;
        (!file.is_empty() && file != ":memory:").then_some(file)
    }

    /// What to do about a connection that failed with `error`.
    pub(crate) fn connect(error: &sqlx::Error, url: Option<&str>) -> Vec<String> {
        let at = url
            .and_then(host_port)
            .map(|h| format!(" at {h}"))
            .unwrap_or_default();
        let mut hints = Vec::new();
        match error {
            sqlx::Error::Io(io) if io.kind() == Io::ConnectionRefused => hints.push(format!(
                "nothing accepts connections{at}: start the database server, or correct the host and port in the URL"
            )),
            sqlx::Error::Database(e) if e.code().as_deref() == Some("3D000") => hints.push(
                "the database does not exist on that server: `cargo dbmigrate database create` creates it".into(),
            ),
            sqlx::Error::Database(e) if e.message().starts_with("Unknown database") => hints.push(
                "the database does not exist on that server: `cargo dbmigrate database create` creates it".into(),
            ),
            // SQLITE_CANTOPEN: the file is not there (or its directory cannot be written).
            sqlx::Error::Database(e) if e.code().as_deref() == Some("14") => {
                let file = url.and_then(sqlite_file).unwrap_or("app.db");
                if url.is_some_and(|u| u.contains("mode=rwc")) {
                    hints.push(format!(
                        "SQLite cannot create `{file}`: check that its directory exists and can be written"
                    ));
                } else {
                    hints.push(format!(
                        "the SQLite file `{file}` does not exist: `sqlite://{file}?mode=rwc` creates it on first use, \
                         and `cargo dbmigrate database create` creates it now"
                    ));
                }
            }
            sqlx::Error::Protocol(_) | sqlx::Error::Io(_)
                if url.is_some_and(|u| u.starts_with("postgres")) && mysql_port(url) =>
            {
                hints.push(format!(
                    "the server{at} does not speak PostgreSQL's protocol: 3306 is MySQL/MariaDB's port; \
                     for that server use a mysql:// URL, for PostgreSQL its port (5432 by default)"
                ))
            }
            sqlx::Error::Protocol(_) if url.is_some_and(|u| u.starts_with("postgres")) => {
                hints.push(format!(
                    "the server{at} does not answer as PostgreSQL does: is it another kind of server (MySQL, MariaDB)? \
                     Check the URL's scheme and port"
                ))
            }
            _ => {}
        }
        hints
    }

    fn mysql_port(url: Option<&str>) -> bool {
        url.and_then(host_port)
            .is_some_and(|h| h.ends_with(":3306") || h.ends_with(":3307"))
    }

    /// What to do about a URL that names no backend.
    pub(crate) fn url(url: &str) -> Vec<String> {
        let looks_like_a_file = !url.contains("://")
            && !url.starts_with("sqlite:")
            && (url.ends_with(".db")
                || url.ends_with(".sqlite")
                || url.ends_with(".sqlite3")
                || url.contains('/'));
        if looks_like_a_file {
            vec![format!(
                "a SQLite database is given by a URL: `sqlite://{url}?mode=rwc` (`mode=rwc` creates the file)"
            )]
        } else {
            Vec::new()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn host_and_port_leave_the_password_out() {
            assert_eq!(
                host_port("postgres://root:secret@db.local:5433/app?sslmode=disable").as_deref(),
                Some("db.local:5433")
            );
            assert_eq!(host_port("sqlite://app.db"), Some("app.db".into()));
        }

        #[test]
        fn a_bare_file_path_is_shown_as_a_sqlite_url() {
            assert_eq!(
                url("data/app.db"),
                [
                    "a SQLite database is given by a URL: `sqlite://data/app.db?mode=rwc` (`mode=rwc` creates the file)"
                ]
            );
            assert!(url("postgres://x/y").is_empty());
            assert!(url("nonsense").is_empty());
        }
    }
}
