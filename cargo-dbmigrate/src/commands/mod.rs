//! One module per command; [`run`] dispatches the parsed command line to them.
//!
//! Each command writes its results to an [`Output`] and returns the exit code for success paths that
//! still fail (`check` finding errors); real failures are [`Error`]s.

pub mod check;
pub mod completions;
pub mod current;
pub mod database;
pub mod downgrade;
pub mod heads;
pub mod history;
pub mod init;
pub mod merge;
pub mod new;
mod online;
pub mod rebase;
pub mod repair;
pub mod resolve;
mod script;
pub mod show;
pub mod stamp;
pub mod status;
pub mod upgrade;

use crate::cli::Command;
use crate::error::Error;
use crate::exit::Exit;
use crate::render::Output;

/// Runs one command.
pub fn run(command: &Command, output: &mut Output) -> Result<Exit, Error> {
    match command {
        Command::Init(args) => init::run(args, output),
        Command::New(args) => new::run(args, output),
        Command::Merge(args) => merge::run(args, output),
        Command::Check(args) => check::run(args, output),
        Command::Heads(args) => heads::run(args, output),
        Command::History(args) => history::run(args, output),
        Command::Show(args) => show::run(args, output),
        Command::Rebase(args) => rebase::run(args, output),
        Command::Upgrade(args) => upgrade::run(args, output),
        Command::Downgrade(args) => downgrade::run(args, output),
        Command::Current(args) => current::run(args, output),
        Command::Status(args) => status::run(args, output),
        Command::Stamp(args) => stamp::run(args, output),
        Command::Resolve(args) => resolve::run(args, output),
        Command::Repair(args) => repair::run(args, output),
        Command::Database(args) => database::run(args, output),
        Command::Completions(args) => completions::run(args, output),
    }
}

/// The note listing commands print when the revisions they list have errors: the listing is still
/// shown (it is often how one finds the problem), but it may be incomplete.
pub(crate) fn warn_about_errors(revisions: &crate::directory::Revisions, output: &mut Output) {
    // A fork is what these listings show best, so several heads alone are not worth a warning.
    let errors = revisions
        .errors()
        .filter(|p| p.code() != "multiple-heads")
        .count();
    if errors > 0 {
        output.warn(format!(
            "the revisions have {errors} error(s), so this listing may be incomplete; `cargo dbmigrate check` lists them"
        ));
    }
}
