//! The exit codes of `cargo dbmigrate`: one table, from which the exit of every command, the list in
//! `--help` and the README's table are made (a test compares the README's table with
//! [`markdown_table`] byte for byte).

use dbmigrate_runtime::online::ErrorKind;

use crate::error::Error;

/// How `cargo dbmigrate` exits. Each variant's documentation is its row of the table; the numbers
/// never change meaning, since deployment scripts branch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Everything went well.
    Success = 0,
    /// The revisions have errors (`check`), or a command refused because of them.
    Revisions = 1,
    /// The command line is wrong: clap's own errors (it exits with 2 itself), or an argument that
    /// names no revision.
    Usage = 2,
    /// No package, bad `[package.metadata.dbmigrate]`, or a file that cannot be read or written.
    Project = 3,
    /// The database refused: connecting failed, or a revision's SQL failed.
    Database = 4,
    /// The database's history and the files disagree (divergent, missing or unfinished revisions).
    HistoryMismatch = 5,
    /// Another process held the migration lock for too long.
    LockTimeout = 6,
    /// `status --check`: revisions are pending.
    NotAtHead = 7,
    /// The runner that executes Rust data steps did not build.
    RunnerBuild = 8,
    /// The command was cut short without reporting its outcome (the runner killed by a signal, a
    /// panicking data step, a lost connection that could not be checked), so what it changed is
    /// unknown: `cargo dbmigrate status` tells. Not 4, which says the database refused and what
    /// stayed applied, nor 8, which says nothing ran.
    OutcomeUnknown = 9,
    /// A command that writes was pointed at a PostgreSQL standby or a read-only MariaDB/MySQL
    /// replica and refused before taking the lock. Not 4: the database did not fail and nothing
    /// was attempted; a deployment tool can tell "aimed at a replica" from a failure.
    ReadOnlyServer = 10,
}

impl Exit {
    /// Every code, in order.
    pub const ALL: [Exit; 11] = [
        Exit::Success,
        Exit::Revisions,
        Exit::Usage,
        Exit::Project,
        Exit::Database,
        Exit::HistoryMismatch,
        Exit::LockTimeout,
        Exit::NotAtHead,
        Exit::RunnerBuild,
        Exit::OutcomeUnknown,
        Exit::ReadOnlyServer,
    ];

    /// The numeric code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// A short name, the `kind` of a JSON error report for errors the CLI finds itself.
    pub fn name(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Revisions => "revisions",
            Self::Usage => "usage",
            Self::Project => "project",
            Self::Database => "database",
            Self::HistoryMismatch => "history",
            Self::LockTimeout => "lock-timeout",
            Self::NotAtHead => "not-at-head",
            Self::RunnerBuild => "runner-build",
            Self::OutcomeUnknown => "outcome-unknown",
            Self::ReadOnlyServer => "read-only-server",
        }
    }

    /// What the code means, in a few words (`--help`).
    pub fn summary(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Revisions => "the revisions have errors (or the command refused because of them)",
            Self::Usage => "usage error",
            Self::Project => "project, configuration or file error",
            Self::Database => "database error",
            Self::HistoryMismatch => "history mismatch",
            Self::LockTimeout => "lock timeout",
            Self::NotAtHead => "not at head",
            Self::RunnerBuild => "building the Rust-step runner failed",
            Self::OutcomeUnknown => "cut short, outcome unknown (`status` tells)",
            Self::ReadOnlyServer => {
                "a command that writes was pointed at a standby or read-only replica"
            }
        }
    }

    /// What the code means, in full (the README's table).
    pub fn meaning(self) -> &'static str {
        match self {
            Self::Success => "success (`check`: no errors; warnings allowed)",
            Self::Revisions => {
                "`check` found errors, or a command refused because of the state of the revisions (`new` with several \
                 heads, `merge` with one, SQL that would not run as written in the database's dialect)"
            }
            Self::Usage => {
                "usage error: clap's own, or an argument that names no revision, or a URL that is not one"
            }
            Self::Project => {
                "project, configuration or file error: no package, a bad `[package.metadata.dbmigrate]`, a file that \
                 cannot be read or written"
            }
            Self::Database => {
                "database error: connecting failed (the message ends with the cause, such as connection refused), \
                 or SQL in a revision failed"
            }
            Self::HistoryMismatch => {
                "history mismatch: divergent, missing or unfinished revisions, refused before applying anything"
            }
            Self::LockTimeout => "timed out waiting for the migration lock",
            Self::NotAtHead => "the database is not at head (`status --check`)",
            Self::RunnerBuild => {
                "building the runner for Rust data steps failed (nothing ran; the message says which commands work \
                 without it)"
            }
            Self::OutcomeUnknown => {
                "the command was cut short and its outcome is unknown: the runner was killed by a signal, a Rust data \
                 step panicked (the message says where), or the connection was lost and could not be checked; \
                 `cargo dbmigrate status` tells where the database stands"
            }
            Self::ReadOnlyServer => {
                "`upgrade`, `downgrade`, `stamp`, `resolve` or `repair` was pointed at a PostgreSQL standby or a \
                 read-only MariaDB/MySQL replica, and refused before taking the lock or writing anything: point the \
                 URL at the primary"
            }
        }
    }

    /// The exit for a failure the runtime reports.
    pub fn for_kind(kind: ErrorKind) -> Exit {
        match kind {
            ErrorKind::Revisions => Self::Revisions,
            ErrorKind::Usage => Self::Usage,
            ErrorKind::Connect | ErrorKind::Database => Self::Database,
            ErrorKind::History => Self::HistoryMismatch,
            ErrorKind::LockTimeout => Self::LockTimeout,
            ErrorKind::WaitTimeout => Self::NotAtHead,
            ErrorKind::MissingRustStep => Self::RunnerBuild,
            ErrorKind::OutcomeUnknown => Self::OutcomeUnknown,
            ErrorKind::ReadOnlyServer => Self::ReadOnlyServer,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        Self::from(exit.code())
    }
}

/// The README's table of exit codes.
pub fn markdown_table() -> String {
    let mut table = String::from("| code | meaning |\n| --- | --- |\n");
    for exit in Exit::ALL {
        table.push_str(&format!("| {} | {} |\n", exit.code(), exit.meaning()));
    }
    table
}

/// The exit codes as `--help` lists them.
pub fn help_list() -> String {
    let mut text = String::from("Exit codes:\n");
    for exit in Exit::ALL {
        text.push_str(&format!("  {:>2}  {}\n", exit.code(), exit.summary()));
    }
    text.trim_end().to_string()
}

/// The exit code for an error: the one place this mapping is written down.
pub fn for_error(error: &Error) -> Exit {
    match error {
        Error::BrokenRevisions { .. }
        | Error::MultipleHeads { .. }
        | Error::AmbiguousHead { .. }
        | Error::CannotRewrite { .. }
        | Error::NothingToMerge { .. } => Exit::Revisions,
        Error::UnknownRevision { .. } | Error::InvalidArgument { .. } | Error::NoDatabaseUrl => {
            Exit::Usage
        }
        Error::Target(
            dbmigrate_runtime::GraphError::MultipleHeads { .. }
            | dbmigrate_runtime::GraphError::Empty,
        ) => Exit::Revisions,
        Error::Target(_) => Exit::Usage,
        Error::Script(_) => Exit::Revisions,
        Error::Online(report) => Exit::for_kind(report.kind),
        Error::Runner(crate::runner_crate::RunnerError::Interrupted { .. }) => Exit::OutcomeUnknown,
        Error::Runner(_) => Exit::RunnerBuild,
        Error::Project(_) | Error::Io { .. } | Error::Template { .. } | Error::Settings { .. } => {
            Exit::Project
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_their_position_in_the_table() {
        let codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes, (0..=10).collect::<Vec<u8>>());
    }

    /// The README's table is the generated one, byte for byte: edit [`Exit::meaning`], then paste
    /// the table this test prints.
    #[test]
    fn the_readme_table_is_the_generated_one() {
        let readme = include_str!("../../README.md");
        let expected = markdown_table();
        let start = readme
            .find("| code | meaning |\n")
            .expect("README.md has an exit-code table");
        let length = readme[start..]
            .find("\n\n")
            .map_or(readme.len() - start, |end| end + 1);
        let found = &readme[start..start + length];
        assert!(
            found == expected,
            "README.md's exit-code table differs from the one exit.rs generates; replace it with:\n\n{expected}"
        );
    }

    #[test]
    fn every_runtime_failure_has_its_code() {
        use ErrorKind::*;
        let pairs = [
            (Revisions, 1),
            (Usage, 2),
            (Connect, 4),
            (Database, 4),
            (History, 5),
            (LockTimeout, 6),
            (WaitTimeout, 7),
            (MissingRustStep, 8),
            (OutcomeUnknown, 9),
            (ReadOnlyServer, 10),
        ];
        for (kind, code) in pairs {
            assert_eq!(Exit::for_kind(kind).code(), code, "{kind:?}");
        }
    }

    #[test]
    fn errors_map_to_their_documented_codes() {
        let io = Error::io("write", "x")(std::io::Error::other("disk full"));
        assert_eq!(for_error(&io), Exit::Project);
        assert_eq!(
            for_error(&Error::MultipleHeads { heads: vec![2, 3] }),
            Exit::Revisions
        );
        assert_eq!(
            for_error(&Error::UnknownRevision { spec: "9".into() }),
            Exit::Usage
        );
        let killed = crate::runner_crate::RunnerError::Interrupted {
            command: "upgrade head".into(),
            how: "was killed by signal 9 (SIGKILL)".into(),
        };
        assert_eq!(for_error(&Error::Runner(killed)), Exit::OutcomeUnknown);
        let build = crate::runner_crate::RunnerError::BuildFailed {
            command: "upgrade",
            revisions_with_errors: Vec::new(),
        };
        assert_eq!(for_error(&Error::Runner(build)), Exit::RunnerBuild);
    }
}
