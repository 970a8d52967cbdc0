//! `cargo dbmigrate heads`: the revisions no other revision revises.

use crate::cli::HeadsArgs;
use crate::commands::warn_about_errors;
use crate::directory::Revisions;
use crate::error::Error;
use crate::exit::Exit;
use crate::project::Project;
use crate::render::Output;

/// Lists the heads, one per line, as `history` shows them.
pub fn run(args: &HeadsArgs, output: &mut Output) -> Result<Exit, Error> {
    let project = Project::locate(&args.project)?;
    let revisions = Revisions::load(&project)?;
    warn_about_errors(&revisions, output);
    let heads = revisions.graph.heads();
    if heads.is_empty() {
        output.warn("there are no revisions yet; create one with `cargo dbmigrate new <message>`");
    }
    for head in heads {
        output.line(crate::commands::history::summary_line(
            &revisions.graph,
            head,
        ));
    }
    Ok(Exit::Success)
}
