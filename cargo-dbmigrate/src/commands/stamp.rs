//! `cargo dbmigrate stamp`: record the database as being at a revision without running anything.

use dbmigrate_runtime::online::Command;

use crate::cli::StampArgs;
use crate::commands::online;
use crate::error::Error;
use crate::exit::Exit;
use crate::render::Output;

/// Writes (or removes) history rows up to the target.
pub fn run(args: &StampArgs, output: &mut Output) -> Result<Exit, Error> {
    online::execute(
        &args.project,
        &args.database,
        Command::Stamp {
            target: args.target.parse()?,
        },
        false,
        output,
    )
}
