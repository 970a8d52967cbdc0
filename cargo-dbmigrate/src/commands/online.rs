//! What the online commands share: reading the revisions, building the request for the runtime's
//! `online` module, and running it in this process, or, when it may run a Rust revision's step, in the
//! runner built around the package's compiled Rust revisions.

use std::io::Write as _;

use dbmigrate_runtime::online::{Command as Request, Options, Request as FullRequest};
use dbmigrate_runtime::{Migrations, Resolution, RevisionGraph, RevisionKind};

use crate::cli::{DatabaseOptions, ProjectOptions, ReportFormat};
use crate::directory::Revisions;
use crate::error::Error;
use crate::exit::Exit;
use crate::project::Project;
use crate::render::Output;
use crate::runner_crate::{self, RunnerError, shown};

/// The database URL, or an error saying where to put it.
pub(crate) fn database_url(options: &DatabaseOptions) -> Result<String, Error> {
    options.database_url.clone().ok_or(Error::NoDatabaseUrl)
}

/// The command as the user typed it after `cargo dbmigrate`, for messages.
fn command_name(command: &Request) -> &'static str {
    match command {
        Request::Upgrade { .. } => "upgrade",
        Request::Downgrade { .. } => "downgrade",
        Request::Current => "current",
        Request::Status { .. } => "status",
        Request::Stamp { .. } => "stamp",
        Request::Resolve { .. } => "resolve",
        Request::Repair => "repair",
    }
}

/// Runs one online command against the project's revisions and the database in the options.
pub(crate) fn execute(
    project_options: &ProjectOptions,
    database: &DatabaseOptions,
    command: Request,
    output: &mut Output,
) -> Result<Exit, Error> {
    let project = Project::locate(project_options)?;
    let revisions = Revisions::load(&project)?;
    // A fork is for the target to judge (`head` reports it, `heads` works); anything else that makes
    // the revisions unusable is refused here, with check's wording.
    revisions.refuse_errors(command_name(&command), &["multiple-heads"])?;
    let request = FullRequest {
        command,
        url: database_url(database)?,
        json: database.format == ReportFormat::Json,
        options: Options {
            table: database.table.clone(),
            lock_timeout_secs: database.lock_timeout,
            connect_timeout_secs: database.connect_timeout,
            revision_timeout_secs: database.revision_timeout,
            allow_out_of_order: database.allow_out_of_order,
            ignore_divergent: database.ignore_divergent,
            ignore_missing: database.ignore_missing,
        },
    };
    if needs_compiled_steps(&request.command, &revisions.graph) {
        return through_runner(&project, &request, output);
    }
    let migrations =
        Migrations::from_directory(&project.dir, &project.config).map_err(|problems| {
            Error::BrokenRevisions {
                command: command_name(&request.command),
                problems: problems.problems,
            }
        })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::io("start", "the async runtime")(source))?;
    let outcome = runtime.block_on(dbmigrate_runtime::online::run(&request, &migrations));
    output.out.push_str(&outcome.stdout);
    output.err.push_str(&outcome.stderr);
    Ok(Exit::from_code(outcome.code))
}

/// Whether `command` may run a Rust revision's compiled step, and so needs the runner. The others only
/// read the files and the history, and write history rows: a Rust revision's checksum is refinery's
/// over its file, like a SQL revision's, so they run in this process, even while a Rust revision does
/// not compile (the list is [`runner_crate::WITHOUT_RUNNER`]).
pub(crate) fn needs_compiled_steps(command: &Request, graph: &RevisionGraph) -> bool {
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
        Request::Upgrade { dry_run, .. } => !dry_run,
        // Even a dry run checks that each revision of the plan can be reverted, which for a Rust
        // revision is its compiled step's to say.
        Request::Downgrade { .. } => true,
        Request::Resolve {
            version,
            resolution: Resolution::Resume,
        } => is_rust(*version),
        Request::Resolve { .. }
        | Request::Current
        | Request::Status { .. }
        | Request::Stamp { .. }
        | Request::Repair => false,
    }
}

/// The command's name, for messages.
fn name(command: &Request) -> &'static str {
    match command {
        Request::Upgrade { .. } => "upgrade",
        Request::Downgrade { .. } => "downgrade",
        Request::Current => "current",
        Request::Status { .. } => "status",
        Request::Stamp { .. } => "stamp",
        Request::Resolve { .. } => "resolve",
        Request::Repair => "repair",
    }
}

/// The command as a user would type it (`upgrade head`, `resolve 5 --resume`), for messages.
fn described(command: &Request) -> String {
    match command {
        Request::Upgrade { target, dry_run } | Request::Downgrade { target, dry_run } => {
            let flag = if *dry_run { " --dry-run" } else { "" };
            format!("{} {target}{flag}", name(command))
        }
        Request::Stamp { target } => format!("stamp {target}"),
        Request::Resolve {
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
        Request::Status { check: true } => "status --check".into(),
        Request::Current | Request::Status { .. } | Request::Repair => name(command).into(),
    }
}

/// Builds (or reuses) the runner that has the package's Rust revisions compiled in, and runs the
/// request in it; its output goes straight to the terminal.
fn through_runner(
    project: &Project,
    request: &FullRequest,
    output: &mut Output,
) -> Result<Exit, Error> {
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
    // Said before the build, which can take a while the first time.
    let _ = writeln!(
        anstream::stderr(),
        "note: the revisions include Rust data steps; running them through the runner in {}",
        shown(&runner)
    );
    let binary = runner_crate::build(
        &runner,
        &package.name,
        &revision_dir,
        name(&request.command),
    )
    .map_err(Error::Runner)?;
    // On the runner's standard input: the request holds the database password.
    let request_json = serde_json::to_string(request)
        .map_err(|e| Error::Runner(RunnerError::Request(e.to_string())))?;
    let code = runner_crate::run(&binary, &request_json, &described(&request.command))
        .map_err(Error::Runner)?;
    let _ = output;
    Ok(Exit::from_code(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_described_as_typed() {
        let upgrade = Request::Upgrade {
            target: "head".into(),
            dry_run: false,
        };
        assert_eq!(described(&upgrade), "upgrade head");
        let resume = Request::Resolve {
            version: 5,
            resolution: Resolution::Resume,
        };
        assert_eq!(described(&resume), "resolve 5 --resume");
    }
}
