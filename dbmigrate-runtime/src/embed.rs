//! Revisions embedded in the application binary: the directory's files plus the compiled Rust steps.

use std::borrow::Cow;
use std::path::Path;
use std::sync::OnceLock;

use crate::error::Problems;
use crate::graph::RevisionGraph;
use crate::migrations::Migrations;
use crate::revision::{RevisionSource, VersionWidth};

/// Every revision of the application, embedded at build time by [`crate::build::embed`] and
/// [`crate::include_migrations!`]. Parsed and validated once, on first use.
pub struct Embedded {
    dir: &'static include_dir::Dir<'static>,
    shown_dir: &'static str,
    width: VersionWidth,
    table: &'static str,
    #[cfg(feature = "__apply")]
    steps: &'static [crate::data::RustStep],
    migrations: OnceLock<Result<Migrations, Problems>>,
}

impl Embedded {
    /// Used by the generated code; call [`crate::include_migrations!`] instead.
    #[doc(hidden)]
    pub const fn new(
        dir: &'static include_dir::Dir<'static>,
        shown_dir: &'static str,
        width: VersionWidth,
        table: &'static str,
    ) -> Self {
        Self {
            dir,
            shown_dir,
            width,
            table,
            #[cfg(feature = "__apply")]
            steps: &[],
            migrations: OnceLock::new(),
        }
    }

    /// Used by the generated code when there are compiled `.rs` revisions.
    #[doc(hidden)]
    #[cfg(feature = "__apply")]
    pub const fn with_rust_steps(
        dir: &'static include_dir::Dir<'static>,
        shown_dir: &'static str,
        width: VersionWidth,
        table: &'static str,
        steps: &'static [crate::data::RustStep],
    ) -> Self {
        Self {
            dir,
            shown_dir,
            width,
            table,
            steps,
            migrations: OnceLock::new(),
        }
    }

    /// The embedded files, with paths as the configuration names the revision directory
    /// (`migrations/V3__add_teams.sql`), so messages point at the file in the source tree.
    pub fn sources(&self) -> Vec<RevisionSource<'static>> {
        let mut sources = Vec::new();
        let mut stack = vec![self.dir];
        while let Some(dir) = stack.pop() {
            stack.extend(dir.dirs());
            sources.extend(dir.files().map(|file| RevisionSource {
                path: Path::new(self.shown_dir).join(file.path()),
                bytes: Cow::Borrowed(file.contents()),
            }));
        }
        sources
    }

    /// The validated revision set, ready to apply.
    pub fn migrations(&self) -> Result<&Migrations, &Problems> {
        self.migrations
            .get_or_init(|| {
                let migrations = Migrations::from_sources(self.sources(), self.width, self.table)?;
                #[cfg(feature = "__apply")]
                let migrations = migrations.with_rust_steps(self.steps);
                Ok(migrations)
            })
            .as_ref()
    }

    /// The revision graph, validated with the same checks as `cargo dbmigrate check`.
    pub fn graph(&self) -> Result<&RevisionGraph, &Problems> {
        self.migrations().map(Migrations::graph)
    }

    /// The configured version width.
    pub fn version_width(&self) -> VersionWidth {
        self.width
    }

    /// The configured history table.
    pub fn table(&self) -> &'static str {
        self.table
    }

    /// A migrator with options (target, lock timeout, checks) for these revisions.
    #[cfg(feature = "__apply")]
    pub fn migrator(&self) -> Result<crate::Migrator<'_>, crate::Error> {
        Ok(crate::Migrator::new(
            self.migrations()
                .map_err(|p| crate::Error::Revisions(p.clone()))?,
        ))
    }

    /// Brings the database to the single head with the default options, and reports what was applied.
    ///
    /// ```ignore
    /// let report = MIGRATIONS.upgrade(&pool).await?;
    /// ```
    #[cfg(feature = "__apply")]
    pub async fn upgrade(&self, pool: &impl crate::Pool) -> Result<crate::Report, crate::Error> {
        self.migrator()?.upgrade(pool).await
    }

    /// Reverts revisions, newest first, until the database is at `target` (`base`, a version, `-N`).
    #[cfg(feature = "__apply")]
    pub async fn downgrade(
        &self,
        pool: &impl crate::Pool,
        target: crate::Target,
    ) -> Result<crate::Report, crate::Error> {
        self.migrator()?.downgrade(pool, target).await
    }
}

/// Expands to the [`Embedded`] revisions written by [`crate::build::embed`] in the build script.
///
/// ```ignore
/// static MIGRATIONS: dbmigrate_runtime::Embedded = dbmigrate_runtime::include_migrations!();
/// ```
#[macro_export]
macro_rules! include_migrations {
    () => {
        include!(concat!(env!("OUT_DIR"), "/dbmigrate_embedded.rs"))
    };
}
