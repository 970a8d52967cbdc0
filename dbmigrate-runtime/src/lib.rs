//! Embed dbmigrate revisions into a binary and apply them at startup.
//!
//! The crate is organised by concept:
//! - [`revision`]: one revision file (name, header, upgrade/downgrade sections) and reading a directory of them;
//! - [`graph`]: the revision graph (heads, bases, merges, upgrade order, targets);
//! - [`checksum`]: refinery's checksum, so both tools agree on every SQL file;
//! - [`config`]: the `package.metadata.dbmigrate` table of Cargo.toml;
//! - [`build`] and [`embed`]: build-script integration and the revisions embedded in the binary;
//! - [`error`]: the problems a revision set can have, each naming its file and line.

pub mod build;
pub mod checksum;
pub mod config;
pub mod embed;
pub mod error;
pub mod graph;
pub mod revision;

pub use config::Config;
pub use embed::Embedded;
pub use error::{Location, Problems, RevisionError};
pub use graph::{GraphError, RevisionGraph, Target};
pub use revision::{Revision, RevisionKind, VersionWidth};

#[doc(hidden)]
pub mod __private {
    pub use include_dir;
}
