//! A small self-migrating application for reliability tests: many copies start at once against
//! one database, and some are killed in the middle of a revision. [`effects`] knows what each of
//! its revisions leaves in a database, so a test can tell a revision that fully happened from one
//! that did not happen at all; [`scenario`] runs the races and the kills and checks the outcome.

pub mod effects;
pub mod scenario;

/// The replica's revisions: four SQL revisions around a long Rust data step.
pub static MIGRATIONS: dbmigrate_runtime::Embedded = dbmigrate_runtime::include_migrations!();

/// The versions, in order.
pub const VERSIONS: [i64; 5] = [1, 2, 3, 4, 5];
