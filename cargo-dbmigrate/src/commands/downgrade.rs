//! `cargo dbmigrate downgrade`: revert revisions down to a target, or print their SQL (`--sql`).

use dbmigrate_runtime::online::Command;

use crate::cli::DowngradeArgs;
use crate::commands::{online, script};
use crate::error::Error;
use crate::exit::Exit;
use crate::render::Output;

/// Reverts, dry-runs or prints.
pub fn run(args: &DowngradeArgs, output: &mut Output) -> Result<Exit, Error> {
    if args.script.sql {
        return script::print(
            script::Direction::Downgrade,
            &args.target,
            &args.script,
            &args.database,
            &args.project,
            output,
        );
    }
    let command = Command::Downgrade {
        target: args.target.parse()?,
        dry_run: args.dry_run,
    };
    online::execute(&args.project, &args.database, command, false, output)
}
