//! The documented exit codes of `cargo dbmigrate`, and the one function that maps errors to them.
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | success |
//! | 1 | `check` found errors, or a command refused because of the state of the revisions |
//! | 2 | usage error: clap's own, or an argument naming no revision |
//! | 3 | project, configuration or file error |
//! | 4 | database error (connecting, or SQL failing in a revision) |
//! | 5 | history mismatch between database and files, refused before applying anything |
//! | 6 | timed out waiting for the migration lock |
//! | 7 | the database is not at head (`status --check`) |
//! | 8 | building the Rust-step runner failed |
//! | 9 | the command was cut short and its outcome is unknown (the runner killed by a signal) |
//! | 10 | a command that writes was pointed at a PostgreSQL standby or a read-only replica |

use crate::error::Error;

/// How `cargo dbmigrate` exits. The online commands use the codes this crate does not produce yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Everything went well.
    Success = 0,
    /// The revisions have errors (`check`), or a command refused because of them (several heads for
    /// `new`, one head for `merge`).
    Revisions = 1,
    /// The command line is wrong: clap's own errors (it exits with 2 itself), or an argument that names
    /// no revision.
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
    /// The command was cut short without reporting its outcome (the runner killed by a signal, or
    /// panicking), so what it changed is unknown: `cargo dbmigrate status` tells. Not 4, which says
    /// the database refused and what stayed applied, nor 8, which says nothing ran.
    OutcomeUnknown = 9,
    /// `upgrade`, `downgrade`, `stamp`, `resolve` or `repair` was pointed at a PostgreSQL standby or
    /// a read-only MariaDB/MySQL replica and refused before taking the lock. Not 4: the database
    /// did not fail and nothing was attempted; the URL names the wrong server, and a deployment
    /// tool can tell "aimed at a replica" from a failure (and point at the primary, or wait).
    ReadOnlyServer = 10,
}

impl Exit {
    /// Every code, in order, for documentation and tests.
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

    /// The exit for a numeric code from the runtime's `online` module (or the runner), which uses the
    /// same table; an unknown code counts as a database error.
    pub fn from_code(code: u8) -> Exit {
        Exit::ALL
            .into_iter()
            .find(|e| e.code() == code)
            .unwrap_or(Exit::Database)
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        Self::from(exit.code())
    }
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
    fn codes_are_the_documented_numbers() {
        let codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes, (0..=10).collect::<Vec<u8>>());
    }

    #[test]
    fn the_runner_uses_the_same_table() {
        use dbmigrate_runtime::online::exit;
        for (cli, runtime) in [
            (Exit::Success, exit::OK),
            (Exit::Revisions, exit::REVISIONS),
            (Exit::Usage, exit::USAGE),
            (Exit::Project, exit::PROJECT),
            (Exit::Database, exit::DATABASE),
            (Exit::HistoryMismatch, exit::HISTORY),
            (Exit::LockTimeout, exit::LOCK_TIMEOUT),
            (Exit::NotAtHead, exit::NOT_AT_HEAD),
            (Exit::RunnerBuild, exit::RUNNER),
            (Exit::OutcomeUnknown, exit::OUTCOME_UNKNOWN),
            (Exit::ReadOnlyServer, exit::READ_ONLY_SERVER),
        ] {
            assert_eq!(cli.code(), runtime, "{cli:?}");
        }
    }

    #[test]
    fn the_readme_documents_every_code() {
        let readme = include_str!("../../README.md");
        for exit in Exit::ALL {
            let row = format!("\n| {} |", exit.code());
            assert!(
                readme.contains(&row),
                "README.md has no exit-code row for {exit:?}"
            );
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
