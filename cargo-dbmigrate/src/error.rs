//! Why a command failed, as data: each variant names what went wrong and what to do next.

use std::path::PathBuf;

use dbmigrate_runtime::RevisionError;

use crate::project::ProjectError;

/// A command that could not do its job. [`crate::exit::for_error`] maps each to an exit code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The package or its settings could not be found or read.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// A file could not be read, written or renamed.
    #[error("cannot {action} {path}", path = path.display())]
    Io {
        /// `read`, `write`, `create`, `rename`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A template could not be rendered.
    #[error("cannot render the {template} template")]
    Template {
        /// Which template.
        template: &'static str,
        /// The cause.
        #[source]
        source: askama::Error,
    },
    /// The revisions have errors, and writing more revisions on top of them would only hide them.
    #[error("the revisions have {} error(s), so `cargo dbmigrate {command}` refuses to run:\n{}", problems.len(), list(problems))]
    BrokenRevisions {
        /// The command that refused, as typed after `cargo dbmigrate` (`new`, `upgrade --sql`).
        command: &'static str,
        /// The errors (warnings are left out).
        problems: Vec<RevisionError>,
    },
    /// `new` without `--revises` on a forked history: the parent is ambiguous.
    #[error("the history has {} heads ({}), so the new revision's parent is ambiguous", heads.len(), join(heads))]
    MultipleHeads {
        /// Every head.
        heads: Vec<i64>,
    },
    /// `head` named on a forked history.
    #[error("`head` is ambiguous: the history has {} heads ({})", heads.len(), join(heads))]
    AmbiguousHead {
        /// Every head.
        heads: Vec<i64>,
    },
    /// `rebase` would rewrite a file whose header would then not read back as intended (an unusual
    /// layout); nothing was changed.
    #[error("cannot rewrite {path} safely: its header would not read back as `Revises: {revises}`; nothing was changed", path = path.display())]
    CannotRewrite {
        /// The file.
        path: PathBuf,
        /// The `Revises:` value it should get.
        revises: String,
    },
    /// `merge` with fewer than two heads to join.
    #[error("there is nothing to merge: {reason}")]
    NothingToMerge {
        /// Why.
        reason: String,
    },
    /// An argument names a revision that does not exist.
    #[error("no revision matches `{spec}`")]
    UnknownRevision {
        /// What was given.
        spec: String,
    },
    /// An argument is well-formed for clap but makes no sense for these revisions.
    #[error("{message}")]
    InvalidArgument {
        /// What is wrong.
        message: String,
        /// What to do instead.
        help: Option<String>,
    },
    /// An online command without a database to connect to.
    #[error(
        "no database to connect to: neither --database-url nor DATABASE_URL (nor a .env file) gives one"
    )]
    NoDatabaseUrl,
    /// A target that cannot be resolved against the revisions.
    #[error(transparent)]
    Target(#[from] dbmigrate_runtime::GraphError),
    /// `--sql` cannot print the plan.
    #[error(transparent)]
    Script(dbmigrate_runtime::sql::script::ScriptError),
    /// An online command failed, as the runtime (in this process or in the runner) reported it.
    #[error("{}", .0.message.trim_end())]
    Online(dbmigrate_runtime::online::ErrorReport),
    /// The runner for Rust revisions could not be prepared, built or started.
    #[error(transparent)]
    Runner(crate::runner_crate::RunnerError),
    /// The settings do not allow what the command needs (a version that does not fit, timestamps on
    /// 32-bit versions, a bad `DBMIGRATE_NOW`).
    #[error("{message}")]
    Settings {
        /// What is wrong.
        message: String,
        /// What to change.
        help: String,
    },
}

fn join(versions: &[i64]) -> String {
    versions
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn list(problems: &[RevisionError]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Error {
    /// Wraps an I/O error with what was being done to which file.
    pub fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }

    /// What to do next, one `help:` line each.
    pub fn hints(&self) -> Vec<String> {
        match self {
            Self::Online(report) => report.hints.clone(),
            _ => self.help().into_iter().collect(),
        }
    }

    /// What to do next, printed after the error.
    pub fn help(&self) -> Option<String> {
        match self {
            Self::Project(error) => error.help(),
            Self::Io { .. } | Self::Template { .. } | Self::UnknownRevision { .. } => None,
            Self::BrokenRevisions { .. } => {
                Some("`cargo dbmigrate check` explains each problem and how to fix it".into())
            }
            Self::MultipleHeads { heads } => Some(format!(
                "join the heads first with `cargo dbmigrate merge`, or choose the parent with `--revises {}`",
                heads.last().copied().unwrap_or_default()
            )),
            Self::NothingToMerge { .. } => Some("`cargo dbmigrate heads` lists the heads".into()),
            Self::AmbiguousHead { .. } => Some(
                "name one of the heads instead, or join them with `cargo dbmigrate merge`".into(),
            ),
            Self::CannotRewrite { revises, .. } => Some(format!(
                "edit its `Revises:` line to `{revises}` by hand, then run the rebase again"
            )),
            Self::InvalidArgument { help, .. } => help.clone(),
            Self::NoDatabaseUrl => Some(
                "pass --database-url postgres://... (or mysql://, sqlite://app.db?mode=rwc), or set DATABASE_URL in the \
                 environment or in a .env file"
                    .into(),
            ),
            Self::Target(_) | Self::Script(_) => None,
            Self::Online(report) => (!report.hints.is_empty()).then(|| report.hints.join("\n")),
            Self::Runner(error) => error.help(),
            Self::Settings { help, .. } => Some(help.clone()),
        }
    }
}
