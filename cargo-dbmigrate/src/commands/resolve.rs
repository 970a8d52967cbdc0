//! `cargo dbmigrate resolve`: settle a revision that was started and not finished.

use dbmigrate_runtime::Resolution;
use dbmigrate_runtime::online::Command;

use crate::cli::ResolveArgs;
use crate::commands::online;
use crate::error::Error;
use crate::exit::Exit;
use crate::render::Output;

/// Records the revision as applied or reverted, or runs the rest of it.
pub fn run(args: &ResolveArgs, output: &mut Output) -> Result<Exit, Error> {
    let digits = args
        .version
        .strip_prefix(['V', 'v', 'U', 'u'])
        .unwrap_or(&args.version);
    let version: i64 = digits.parse().map_err(|_| Error::InvalidArgument {
        message: format!("`{}` is not a version", args.version),
        help: Some("give the version `cargo dbmigrate status` lists as unfinished, e.g. `resolve 5 --resume`".into()),
    })?;
    let resolution = if args.applied {
        Resolution::Applied
    } else if args.reverted {
        Resolution::Reverted
    } else {
        Resolution::Resume
    };
    online::execute(
        &args.project,
        &args.database,
        Command::Resolve {
            version,
            resolution,
        },
        false,
        output,
    )
}
