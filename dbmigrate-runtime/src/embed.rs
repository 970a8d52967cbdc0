//! Revisions embedded in the application binary: the directory's files plus the compiled Rust steps.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::error::Problems;
use crate::graph::RevisionGraph;
use crate::revision::{RevisionSource, VersionWidth, parse_sources};

/// Every revision of the application, embedded at build time by [`crate::build::embed`] and
/// [`crate::include_migrations!`]. Parsed and validated once, on first use.
pub struct Embedded {
    dir: &'static include_dir::Dir<'static>,
    width: VersionWidth,
    table: &'static str,
    #[cfg(feature = "__apply")]
    steps: &'static [crate::RustStep],
    graph: OnceLock<Result<RevisionGraph, Problems>>,
}

impl Embedded {
    /// Used by the generated code; call [`crate::include_migrations!`] instead.
    #[doc(hidden)]
    pub const fn new(
        dir: &'static include_dir::Dir<'static>,
        width: VersionWidth,
        table: &'static str,
    ) -> Self {
        Self {
            dir,
            width,
            table,
            #[cfg(feature = "__apply")]
            steps: &[],
            graph: OnceLock::new(),
        }
    }

    /// Used by the generated code to register the compiled `.rs` revisions.
    #[doc(hidden)]
    #[cfg(feature = "__apply")]
    pub const fn with_rust_steps(self, steps: &'static [crate::RustStep]) -> Self {
        Self { steps, ..self }
    }

    /// The embedded files, with paths relative to the revision directory.
    pub fn sources(&self) -> Vec<RevisionSource<'static>> {
        let mut sources = Vec::new();
        let mut stack = vec![self.dir];
        while let Some(dir) = stack.pop() {
            stack.extend(dir.dirs());
            sources.extend(dir.files().map(|file| RevisionSource {
                path: PathBuf::from(file.path()),
                bytes: Cow::Borrowed(file.contents()),
            }));
        }
        sources
    }

    /// The revision graph, validated with the same checks as `cargo dbmigrate check`.
    pub fn graph(&self) -> Result<&RevisionGraph, &Problems> {
        self.graph
            .get_or_init(|| {
                let (revisions, mut problems) = parse_sources(self.sources(), self.width);
                let (graph, more) = RevisionGraph::build(revisions);
                problems.extend(more);
                if problems.is_empty() {
                    Ok(graph)
                } else {
                    Err(Problems { problems })
                }
            })
            .as_ref()
    }

    /// The configured version width.
    pub fn version_width(&self) -> VersionWidth {
        self.width
    }

    /// The configured history table.
    pub fn table(&self) -> &'static str {
        self.table
    }

    /// The compiled Rust steps, by version.
    #[cfg(feature = "__apply")]
    pub fn rust_steps(&self) -> &'static [crate::RustStep] {
        self.steps
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
