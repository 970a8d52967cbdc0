//! cargo-dbmigrate: revision-based migrations as a cargo subcommand.
//!
//! The modules are:
//! - [`cli`]: the command line (every clap type);
//! - [`project`]: the package, its `[package.metadata.dbmigrate]` and its revision directory;
//! - [`directory`]: a revision directory read from disk, with its graph and problems;
//! - [`diagnostics`]: problems rendered for people, programs and GitHub;
//! - [`naming`]: versions, slugs and the clock of new revisions;
//! - [`template`]: the askama templates of the files `new` and `merge` write;
//! - [`render`]: colours and output buffers;
//! - [`error`]: what can go wrong;
//! - [`runner_crate`]: the generated crate that runs Rust data steps for the online commands.

pub mod cli;
pub mod diagnostics;
pub mod directory;
pub mod error;
pub mod naming;
pub mod project;
pub mod render;
pub mod runner_crate;
pub mod template;
