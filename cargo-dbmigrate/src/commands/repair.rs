//! `cargo dbmigrate repair`: record the current checksum of files that changed only in line endings.

use dbmigrate_runtime::online::Command;

use crate::cli::RepairArgs;
use crate::commands::online;
use crate::error::Error;
use crate::exit::Exit;
use crate::render::Output;

/// Updates the recorded checksums of revisions whose text differs only in CRLF/LF.
pub fn run(args: &RepairArgs, output: &mut Output) -> Result<Exit, Error> {
    online::execute(
        &args.project,
        &args.database,
        Command::Repair,
        false,
        output,
    )
}
