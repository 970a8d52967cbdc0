//! What the online commands share: reading the revisions, building the typed request for the
//! runtime's `online` module, running it in this process or, when it may run a Rust revision's step,
//! in the runner built around the package's compiled Rust revisions, and printing its response.

use std::sync::Arc;

use dbmigrate_runtime::online::{Command, Event, Options, Request, Response};
use dbmigrate_runtime::{Migrations, Resolution, RevisionGraph, RevisionKind};

use crate::cli::{DatabaseOptions, ProjectOptions, ReportFormat};
use crate::directory::Revisions;
use crate::error::Error;
use crate::exit::Exit;
use crate::progress::{Reporter, Verbosity};
use crate::project::Project;
use crate::render::Output;
use crate::runner_crate::{self, RunnerError};

/// The database URL, or an error saying where to put it.
pub(crate) fn database_url(options: &DatabaseOptions) -> Result<String, Error> {
    options.database_url.clone().ok_or(Error::NoDatabaseUrl)
}

/// Runs one online command against the project's revisions and the database in the options, and
/// prints its response; `check` makes `status` exit with 7 unless the database is at head.
pub(crate) fn execute(
    project_options: &ProjectOptions,
    database: &DatabaseOptions,
    command: Command,
    check: bool,
    output: &mut Output,
) -> Result<Exit, Error> {
    let project = Project::locate(project_options)?;
    let revisions = Revisions::load(&project)?;
    // A fork is for the target to judge (`head` reports it, `heads` works); anything else that makes
    // the revisions unusable is refused here, with check's wording.
    revisions.refuse_errors(command.name(), &["multiple-heads"])?;
    let request = Request {
        command,
        url: database_url(database)?,
        options: Options {
            table: database.table.clone(),
            lock_timeout: database.lock_timeout,
            connect_timeout: database.connect_timeout,
            revision_timeout: database.revision_timeout,
            allow_out_of_order: database.allow_out_of_order,
            ignore_divergent: database.ignore_divergent,
            ignore_missing: database.ignore_missing,
        },
    };
    let reporter = Arc::new(Reporter::new(database.verbosity()));
    let response = if needs_compiled_steps(&request.command, &revisions.graph) {
        through_runner(&project, &request, database.verbosity(), &reporter)?
    } else {
        in_process(&project, &request, &reporter)?
    };
    reporter.finish();
    let json = database.format == ReportFormat::Json;
    crate::response::print(&response, json, check, &revisions.graph, output)
}

/// Runs the request here: the revisions are all SQL, or the command runs no step.
fn in_process(
    project: &Project,
    request: &Request,
    reporter: &Arc<Reporter>,
) -> Result<Response, Error> {
    let migrations =
        Migrations::from_directory(&project.dir, &project.config).map_err(|problems| {
            Error::BrokenRevisions {
                command: request.command.name(),
                problems: problems.problems,
            }
        })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::io("start", "the async runtime")(source))?;
    let reporter = Arc::clone(reporter);
    let events = Arc::new(move |event: &Event| reporter.event(event));
    Ok(runtime.block_on(dbmigrate_runtime::online::execute(
        request,
        &migrations,
        events,
    )))
}

/// Whether `command` may run a Rust revision's compiled step, and so needs the runner. The others only
/// read the files and the history, and write history rows: a Rust revision's checksum is refinery's
/// over its file, like a SQL revision's, so they run in this process, even while a Rust revision does
/// not compile (the list is [`runner_crate::WITHOUT_RUNNER`]).
pub(crate) fn needs_compiled_steps(command: &Command, graph: &RevisionGraph) -> bool {
    let is_rust = |version: i64| {
        graph
            .get(version)
            .is_some_and(|r| r.kind == RevisionKind::Rust)
    };
    if !graph
        .revisions()
        .iter()
        .any(|r| r.kind == RevisionKind::Rust)
    {
        return false;
    }
    match command {
        Command::Upgrade { dry_run, .. } => !dry_run,
        // Even a dry run checks that each revision of the plan can be reverted, which for a Rust
        // revision is its compiled step's to say.
        Command::Downgrade { .. } => true,
        Command::Resolve {
            version,
            resolution: Resolution::Resume,
        } => is_rust(*version),
        Command::Resolve { .. }
        | Command::Current
        | Command::Status
        | Command::Stamp { .. }
        | Command::Repair => false,
    }
}

/// The command as a user would type it (`upgrade head`, `resolve 5 --resume`), for messages.
fn described(command: &Command) -> String {
    match command {
        Command::Upgrade { target, dry_run } | Command::Downgrade { target, dry_run } => {
            let flag = if *dry_run { " --dry-run" } else { "" };
            format!("{} {target}{flag}", command.name())
        }
        Command::Stamp { target } => format!("stamp {target}"),
        Command::Resolve {
            version,
            resolution,
        } => {
            let flag = match resolution {
                Resolution::Applied => "--applied",
                Resolution::Reverted => "--reverted",
                Resolution::Resume => "--resume",
            };
            format!("resolve {version} {flag}")
        }
        Command::Current | Command::Status | Command::Repair => command.name().into(),
    }
}

/// Builds (or reuses) the runner that has the package's Rust revisions compiled in, and runs the
/// request in it, rendering its events as they come.
fn through_runner(
    project: &Project,
    request: &Request,
    verbosity: Verbosity,
    reporter: &Arc<Reporter>,
) -> Result<Response, Error> {
    let package = project.require_package()?;
    let metadata = cargo_metadata::MetadataCommand::new()
        .manifest_path(&package.manifest_path)
        .no_deps()
        .exec()
        .map_err(|error| Error::Runner(RunnerError::Metadata(error.to_string())))?;
    let Some(described_package) = metadata
        .packages
        .iter()
        .find(|p| p.manifest_path.as_std_path() == package.manifest_path)
    else {
        return Err(Error::Runner(RunnerError::Metadata(format!(
            "cargo metadata does not list {}",
            package.manifest_path.display()
        ))));
    };
    let revision_dir =
        std::path::absolute(&project.dir).map_err(Error::io("resolve", &project.dir))?;
    let runner = runner_crate::write(
        &metadata,
        described_package,
        &revision_dir,
        &project.config.table,
        project.config.version_width.as_str(),
    )
    .map_err(Error::Runner)?;
    let binary = runner_crate::build(
        &runner,
        &metadata,
        &package.name,
        &revision_dir,
        request.command.name(),
        verbosity,
    )
    .map_err(Error::Runner)?;
    // On the runner's standard input: the request holds the database password.
    let request_json = serde_json::to_string(request)
        .map_err(|e| Error::Runner(RunnerError::Request(e.to_string())))?;
    let reporter = Arc::clone(reporter);
    runner_crate::run(
        &binary,
        &request_json,
        &described(&request.command),
        verbosity,
        &move |event| reporter.event(event),
    )
    .map_err(Error::Runner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_described_as_typed() {
        let upgrade = Command::Upgrade {
            target: dbmigrate_runtime::Target::Head,
            dry_run: false,
        };
        assert_eq!(described(&upgrade), "upgrade head");
        let resume = Command::Resolve {
            version: 5,
            resolution: Resolution::Resume,
        };
        assert_eq!(described(&resume), "resolve 5 --resume");
    }
}
