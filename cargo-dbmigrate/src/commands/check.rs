//! `cargo dbmigrate check`: every problem in every file and in the graph, in one run.

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
    let diagnostics: Vec<Diagnostic> = revisions
        .problems
        .iter()
        .map(Diagnostic::from_problem)
        .collect();
    match args.format {
        CheckFormat::Human => {
            output.out.push_str(&diagnostics::human(&diagnostics));
            output.line(diagnostics::summary(
                &diagnostics,
                revisions.graph.revisions().len(),
                &project.dir,
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
