//! The `cargo dbmigrate` binary, driven as a user would: every test works in its own temporary
//! directory, and outputs are pinned by snapshot files under `snapshots/` (update them with
//! `SNAPSHOTS=overwrite cargo test -p cargo-dbmigrate`; a plain run fails on any difference).

mod check;
mod completions;
mod errors;
mod fork;
mod help;
mod init;
mod listing;
mod merge;
mod new;
mod online;
mod packaging;
mod progress;
mod project;
mod readme;
mod rebase;
mod refusal;
mod support;
