//! `cargo dbmigrate upgrade`: apply revisions up to a target, or print their SQL (`--sql`).

use dbmigrate_runtime::online::Command;

use crate::cli::UpgradeArgs;
use crate::commands::{online, script};
use crate::error::Error;
use crate::exit::Exit;
use crate::render::Output;

/// Applies, dry-runs or prints.
pub fn run(args: &UpgradeArgs, output: &mut Output) -> Result<Exit, Error> {
    if args.script.sql {
        return script::print(
            script::Direction::Upgrade,
            &args.target,
            &args.script,
            &args.database,
            &args.project,
            output,
        );
    }
    let command = Command::Upgrade {
        target: args.target.parse()?,
        dry_run: args.dry_run,
    };
    online::execute(&args.project, &args.database, command, false, output)
}
