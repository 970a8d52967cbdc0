//! `cargo dbmigrate current`: the revisions the database is at.

use dbmigrate_runtime::online::Command;

use crate::cli::CurrentArgs;
use crate::commands::online;
use crate::error::Error;
use crate::exit::Exit;
use crate::render::Output;

/// Prints the database's current revisions.
pub fn run(args: &CurrentArgs, output: &mut Output) -> Result<Exit, Error> {
    online::execute(
        &args.project,
        &args.database,
        Command::Current,
        false,
        output,
    )
}
