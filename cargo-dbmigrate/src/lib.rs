//! cargo-dbmigrate: revision-based migrations as a cargo subcommand.

pub mod runner_crate;
