//! `cargo dbmigrate check`: every problem in every file and in the graph, in one run, with the SQL
//! read in the dialects of the databases the project targets.

use dbmigrate_runtime::Backend;
use dbmigrate_runtime::sql::lint::{Sections, lint};

use crate::cli::{CheckArgs, CheckFormat};
use crate::diagnostics::{self, Diagnostic, Severity};
use crate::directory::Revisions;
use crate::error::Error;
use crate::exit::Exit;
use crate::project::Project;
use crate::render::Output;

/// Reads the directory, collects every problem, renders them in the chosen format.
pub fn run(args: &CheckArgs, output: &mut Output) -> Result<Exit, Error> {
    let project = Project::locate(&args.project)?;
    let revisions = Revisions::load(&project)?;
    let backends = dialects(args, &project);
    // `check` connects to nothing, so it reads the SQL as every targeted database would.
    let files = revisions
        .graph
        .revisions()
        .iter()
        .chain(&revisions.duplicates);
    let sql_problems = lint(files, Sections::Both, &backends);
    let diagnostics: Vec<Diagnostic> = revisions
        .problems
        .iter()
        .chain(&sql_problems)
        .map(Diagnostic::from_problem)
        .collect();
    match args.format {
        CheckFormat::Human => {
            output.out.push_str(&diagnostics::human(&diagnostics));
            output.line(diagnostics::summary(
                &diagnostics,
                revisions.graph.revisions().len(),
                &project.dir,
                &backends,
            ));
        }
        CheckFormat::Json => output.out.push_str(&diagnostics::json(&diagnostics)),
        CheckFormat::Github => output.out.push_str(&diagnostics::github(&diagnostics)),
    }
    let failed = diagnostics.iter().any(|d| d.severity == Severity::Error);
    Ok(if failed {
        Exit::Revisions
    } else {
        Exit::Success
    })
}

/// `--backend`, else what the project says (see [`Project::backends`]).
fn dialects(args: &CheckArgs, project: &Project) -> Vec<Backend> {
    if args.backend.is_empty() {
        return project.backends();
    }
    let chosen: Vec<Backend> = args.backend.iter().map(|&b| b.into()).collect();
    Backend::ALL
        .into_iter()
        .filter(|b| chosen.contains(b))
        .collect()
}
