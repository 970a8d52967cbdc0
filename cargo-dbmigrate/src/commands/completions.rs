//! `cargo dbmigrate completions <shell>`: a completion script for `cargo dbmigrate`, from the same
//! clap definition that parses the command line.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::error::Error;
use crate::exit::Exit;
use crate::render::Output;

/// Prints the script for the shell.
pub fn run(args: &CompletionsArgs, output: &mut Output) -> Result<Exit, Error> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    // Users type `cargo dbmigrate ...`, so the script completes the `cargo` command's `dbmigrate`.
    clap_complete::generate(args.shell, &mut command, "cargo", &mut script);
    output.out.push_str(&String::from_utf8_lossy(&script));
    Ok(Exit::Success)
}
