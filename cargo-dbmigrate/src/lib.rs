//! cargo-dbmigrate: revision-based migrations as a cargo subcommand.
//!
//! The binary is a thin shell over [`run`]; the modules are:
//! - [`cli`]: the command line (every clap type);
//! - [`commands`]: one module per command;
//! - [`project`]: the package, its `[package.metadata.dbmigrate]` and its revision directory;
//! - [`directory`]: a revision directory read from disk, with its graph and problems;
//! - [`diagnostics`]: problems rendered for people, programs and GitHub;
//! - [`naming`]: versions, slugs and the clock of new revisions;
//! - [`template`]: the askama templates of the files `new` and `merge` write;
//! - [`render`]: colours and output buffers;
//! - [`fork`]: which side of a fork to move, from a database's history (`check --database-url`);
//! - [`error`] and [`exit`]: what can go wrong, and the documented exit code for each;
//! - [`response`], [`progress`] and [`logging`]: the online commands' results, what they print while
//!   they run, and the `tracing` log that RUST_LOG selects;
//! - [`runner_crate`]: the generated crate that runs Rust data steps for the online commands.

pub mod cli;
pub mod commands;
pub mod diagnostics;
pub mod directory;
pub mod error;
pub mod exit;
pub mod fork;
pub mod logging;
pub mod naming;
pub mod progress;
pub mod project;
pub mod render;
pub mod response;
pub mod runner_crate;
pub mod template;

use std::process::ExitCode;

/// Runs `cargo dbmigrate` with parsed arguments: results go to stdout, warnings and errors to stderr,
/// and the exit code follows [`exit`]'s table.
pub fn run(args: &cli::Args) -> ExitCode {
    render::set_color(args.output.color);
    logging::init(args.command.verbose());
    let mut output = render::Output::default();
    let result = commands::run(&args.command, &mut output);
    output.flush();
    match result {
        Ok(exit) => exit.into(),
        Err(error) if args.command.json() => {
            let mut output = render::Output::default();
            output.json(&response::JsonError::of(&error));
            output.flush();
            exit::for_error(&error).into()
        }
        Err(error) => {
            render::report_error(&error);
            exit::for_error(&error).into()
        }
    }
}
