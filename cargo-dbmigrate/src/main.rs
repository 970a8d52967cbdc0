//! `cargo dbmigrate`: parses the command line and hands it to the library, which returns the exit code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    // DATABASE_URL may come from a .env file, as with sqlx-cli; a missing file is not an error.
    let _ = dotenvy::dotenv();
    let cargo_dbmigrate::cli::Cli::Dbmigrate(args) = cargo_dbmigrate::cli::Cli::parse();
    cargo_dbmigrate::run(&args)
}
