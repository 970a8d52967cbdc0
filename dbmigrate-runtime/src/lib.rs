//! Embed dbmigrate revisions into a binary and apply them at startup.
//!
//! The crate is organised by concept:
//! - [`revision`]: one revision file (name, header, upgrade/downgrade sections) and reading a directory of them;
//! - [`graph`]: the revision graph (heads, bases, merges, upgrade order, targets);
//! - [`checksum`]: refinery's checksum, so both tools agree on every SQL file;
//! - [`config`]: the `package.metadata.dbmigrate` table of Cargo.toml;
//! - [`build`] and [`embed`]: build-script integration and the revisions embedded in the binary;
//! - [`migrations`]: a validated revision set, from the binary or from a directory;
//! - [`sql`]: splitting SQL into statements, per dialect;
//! - [`backend`]: PostgreSQL, MySQL/MariaDB and SQLite: their SQL, sessions and locks;
//! - [`history`]: refinery's history table and dbmigrate's side table, and how they compare with the files;
//! - [`migrator`]: upgrade, downgrade, stamp, status, resolve and repair on a live database;
//! - [`data`]: the context of Rust data steps (`execute`, `bulk_insert`, `backfill`);
//! - [`online`]: the online commands as the CLI (and the runner it builds) run them;
//! - [`redact_url`]: a database URL with its password hidden, wherever one is shown;
//! - [`error`]: the problems a revision set can have, each naming its file and line.
//!
//! Applying needs a backend feature: `postgres`, `mysql` or `sqlite`.

pub mod backend;
pub mod build;
pub mod checksum;
pub mod config;
#[cfg(feature = "__apply")]
pub mod data;
pub mod embed;
pub mod error;
pub mod graph;
pub mod history;
pub mod migrations;
#[cfg(feature = "__apply")]
pub mod migrator;
#[cfg(feature = "__apply")]
pub mod online;
mod redact;
pub mod revision;
pub mod sql;

#[cfg(feature = "__apply")]
pub use backend::pool::BackendPool;
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
