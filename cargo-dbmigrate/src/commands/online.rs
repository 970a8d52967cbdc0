//! What the online commands share: reading the revisions, building the request for the runtime's
//! `online` module, and running it in this process (SQL-only revisions) or in the runner built
//! around the package's compiled Rust revisions.

use std::io::Write as _;
use std::path::Path;

use dbmigrate_runtime::online::{Command as Request, Options, Request as FullRequest};
use dbmigrate_runtime::{Migrations, RevisionKind};

use crate::cli::{DatabaseOptions, ProjectOptions, ReportFormat};
use crate::directory::Revisions;
use crate::error::Error;
use crate::exit::Exit;
use crate::project::Project;
use crate::render::Output;
use crate::runner_crate;

/// The database URL, or an error saying where to put it.
pub(crate) fn database_url(options: &DatabaseOptions) -> Result<String, Error> {
    options.database_url.clone().ok_or(Error::NoDatabaseUrl)
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
    revisions.refuse_errors("the database commands", &["multiple-heads"])?;
    let request = FullRequest {
        command,
        url: database_url(database)?,
        json: database.format == ReportFormat::Json,
        options: Options {
            table: database.table.clone(),
            lock_timeout_secs: database.lock_timeout,
            connect_timeout_secs: database.connect_timeout,
            allow_out_of_order: database.allow_out_of_order,
            ignore_divergent: database.ignore_divergent,
            ignore_missing: database.ignore_missing,
        },
    };
    let has_rust_steps = revisions
        .graph
        .revisions()
        .iter()
        .any(|r| r.kind == RevisionKind::Rust);
    if has_rust_steps {
        return through_runner(&project, &request, output);
    }
    let migrations =
        Migrations::from_directory(&project.dir, &project.config).map_err(|problems| {
            Error::BrokenRevisions {
                command: "the database commands",
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
        .map_err(|error| Error::Runner(runner_crate::RunnerError::Metadata(error.to_string())))?;
    let Some(described) = metadata
        .packages
        .iter()
        .find(|p| p.manifest_path.as_std_path() == package.manifest_path)
    else {
        return Err(Error::Runner(runner_crate::RunnerError::Metadata(format!(
            "cargo metadata does not list {}",
            package.manifest_path.display()
        ))));
    };
    let revision_dir =
        std::path::absolute(&project.dir).map_err(Error::io("resolve", &project.dir))?;
    let runner = runner_crate::write(
        &metadata,
        described,
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
    let request = serde_json::to_string(request)
        .map_err(|e| Error::Runner(runner_crate::RunnerError::Request(e.to_string())))?;
    let code = runner_crate::run(&runner, &package.name, &request).map_err(Error::Runner)?;
    let _ = output;
    Ok(Exit::from_code(
        u8::try_from(code).unwrap_or(Exit::Database.code()),
    ))
}

fn shown(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| path.display().to_string())
}
