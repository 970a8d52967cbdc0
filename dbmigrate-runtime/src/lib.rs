//! Embed dbmigrate revisions into a binary and apply them at startup.
//!
//! The crate is organised by concept:
//! - [`revision`]: one revision file (name, header, upgrade/downgrade sections) and reading a directory of them;
//! - [`RevisionGraph`]: the revision graph (heads, bases, merges, upgrade order, [`Target`]s);
//! - [`checksum`]: refinery's checksum, so both tools agree on every SQL file;
//! - [`config`]: the `package.metadata.dbmigrate` table of Cargo.toml;
//! - [`build`] and [`Embedded`]: build-script integration and the revisions embedded in the binary;
//! - [`Migrations`]: a validated revision set, from the binary or from a directory;
//! - [`Backend`], [`BackendPool`], [`Pool`]: PostgreSQL, MySQL/MariaDB and SQLite (each behind one
//!   internal trait, its dialect and its connection in a file of its own);
//! - [`history`]: refinery's history table and dbmigrate's side table, and how they compare with the files;
//! - [`migrator`]: upgrade, downgrade, stamp, status, resolve and repair on a live database;
//! - [`data`]: the context of Rust data steps (`execute`, `bulk_insert`, `backfill`);
//! - [`redact_url`]: a database URL with its password hidden, wherever one is shown;
//! - [`Problems`] and [`RevisionError`]: the problems a revision set can have, each naming its file
//!   and line.
//!
//! Applying needs a backend feature: `postgres`, `mysql` or `sqlite`.

// The database side: each backend's dialect and connection, behind one trait. Applications see
// `Backend`, `BackendPool`, `Pool` and `ServerRole`, re-exported below.
mod backend;
pub mod build;
pub mod checksum;
pub mod config;
#[cfg(feature = "__apply")]
pub mod data;
mod embed;
mod error;
mod graph;
pub mod history;
mod migrations;
#[cfg(feature = "__apply")]
pub mod migrator;
// Used by `cargo dbmigrate` and its runner, not a stable API.
#[cfg(feature = "__apply")]
#[doc(hidden)]
pub mod online;
mod redact;
pub mod revision;
// Used by `cargo dbmigrate` (check, `--sql`), not a stable API.
#[doc(hidden)]
pub mod sql;

#[cfg(feature = "__apply")]
pub use backend::pool::{BackendPool, PoolError};
#[cfg(feature = "__apply")]
pub use backend::session::Pool;
pub use backend::{Backend, ServerRole};
pub use config::Config;
#[cfg(feature = "__apply")]
pub use data::{BoxError, RustStep};
pub use embed::Embedded;
pub use error::{Location, Problems, RevisionError};
pub use graph::{GraphError, RevisionGraph, Target};
pub use migrations::Migrations;
#[cfg(feature = "__apply")]
pub use migrator::{Error, Migrator, Report, Resolution, Status};
pub use redact::redact_url;
pub use revision::{Revision, RevisionKind, VersionWidth};

#[doc(hidden)]
pub mod __private {
    pub use include_dir;
}
