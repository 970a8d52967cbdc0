//! `cargo dbmigrate check`: every problem in every file and in the graph, in one run, with the SQL
//! read in the dialects of the databases the project targets. Offline, except that with a database
//! URL a fork's advice says which branch that database has applied.

use dbmigrate_runtime::Backend;
use dbmigrate_runtime::sql::lint::{Sections, lint};

use crate::cli::{CheckArgs, CheckFormat};
use crate::diagnostics::{self, Diagnostic, Severity};
use crate::directory::Revisions;
use crate::error::Error;
use crate::exit::Exit;
use crate::fork;
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
    // Which side of a fork to move depends on what is applied: read it when a database is named.
    let applied = match &args.database_url {
        Some(url) if fork::needs_history(&revisions.problems) => {
            match fork::read_applied(url, &revisions, &project) {
                Ok(applied) => Some(applied),
                Err(reason) => {
                    output.warn(format!(
                        "cannot read the database's history, so the advice on which revisions to move is \
                         the offline one: {reason}"
                    ));
                    None
                }
            }
        }
        _ => None,
    };
    let diagnostics: Vec<Diagnostic> = revisions
        .problems
        .iter()
        .chain(&sql_problems)
        .map(|problem| {
            let mut diagnostic = Diagnostic::from_problem(problem);
            if let Some(help) = applied
                .as_ref()
                .and_then(|applied| fork::advice(problem, &revisions, applied))
            {
                diagnostic.help = help;
            }
            diagnostic
        })
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
