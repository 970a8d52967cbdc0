//! `cargo dbmigrate heads`: the revisions no other revision revises.

use crate::cli::{HeadsArgs, ListFormat};
use crate::commands::history::{Entry, summary_line};
use crate::commands::warn_about_errors;
use crate::directory::Revisions;
use crate::error::Error;
use crate::exit::Exit;
use crate::project::Project;
use crate::render::Output;

/// Lists the heads, one per line as `history` shows them, or as `history --format json` does.
pub fn run(args: &HeadsArgs, output: &mut Output) -> Result<Exit, Error> {
    let project = Project::locate(&args.project)?;
    let revisions = Revisions::load(&project)?;
    warn_about_errors(&revisions, output);
    let heads = revisions.graph.heads();
    if heads.is_empty() {
        output.warn("there are no revisions yet; create one with `cargo dbmigrate new <message>`");
    }
    match args.format {
        ListFormat::Json => {
            let entries: Vec<Entry<'_>> = heads
                .iter()
                .map(|head| Entry::new(&revisions.graph, head, project.config.version_width))
                .collect();
            output.json(&entries);
        }
        ListFormat::Human => {
            for head in heads {
                output.line(summary_line(&revisions.graph, head));
            }
        }
    }
    Ok(Exit::Success)
}
