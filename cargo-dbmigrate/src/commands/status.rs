//! `cargo dbmigrate status`: applied, pending and problem revisions, and what to do about them.

use dbmigrate_runtime::online::Command;

use crate::cli::StatusArgs;
use crate::commands::online;
use crate::error::Error;
use crate::exit::Exit;
use crate::render::Output;

/// Prints the status; with `--check`, exits with 7 unless the database is at head.
pub fn run(args: &StatusArgs, output: &mut Output) -> Result<Exit, Error> {
    online::execute(
        &args.project,
        &args.database,
        Command::Status,
        args.check,
        output,
    )
}
