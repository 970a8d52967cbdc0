//! `cargo dbmigrate`: parses the command line and hands it to the library, which returns the exit code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cargo_dbmigrate::cli::Cli::Dbmigrate(args) = cargo_dbmigrate::cli::Cli::parse();
    cargo_dbmigrate::run(&args)
}
