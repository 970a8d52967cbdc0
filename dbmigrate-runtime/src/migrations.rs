//! A validated revision set ready to apply: the graph, the history table it is recorded in, and the
//! compiled Rust steps. Built from the copy embedded in a binary or from a directory on disk.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use crate::config::{Config, TableNameError, check_table_name};
use crate::error::{Problems, RevisionError};
use crate::graph::RevisionGraph;
use crate::revision::{Revision, RevisionSource, VersionWidth, load_directory, parse_sources};

/// Every revision of an application, validated with the same checks as `cargo dbmigrate check`.
#[derive(Debug, Clone)]
pub struct Migrations {
    graph: RevisionGraph,
    width: VersionWidth,
    table: String,
    #[cfg(feature = "__apply")]
    steps: Vec<crate::data::RustStep>,
    /// Each revision's refinery checksum, computed on first use: every upgrade verifies all of them.
    checksums: OnceLock<HashMap<i64, u64>>,
}

impl Migrations {
    /// A revision set from a built graph, recorded in the history table `table` (refused unless
    /// [`check_table_name`] accepts it).
    pub fn new(
        graph: RevisionGraph,
        width: VersionWidth,
        table: impl Into<String>,
    ) -> Result<Self, TableNameError> {
        let table = table.into();
        check_table_name(&table)?;
        Ok(Self {
            graph,
            width,
            table,
            #[cfg(feature = "__apply")]
            steps: Vec::new(),
            checksums: OnceLock::new(),
        })
    }

    fn usable(graph: RevisionGraph, width: VersionWidth, table: &str) -> Result<Self, Problems> {
        Self::new(graph, width, table).map_err(|error| Problems {
            problems: vec![RevisionError::BadTableName(error)],
        })
    }

    /// Parses files already in memory (the embedded copy), refusing on any problem that makes them
    /// impossible to apply (see [`crate::RevisionError::blocks_applying`]).
    pub fn from_sources<'a>(
        sources: impl IntoIterator<Item = RevisionSource<'a>>,
        width: VersionWidth,
        table: &str,
    ) -> Result<Self, Problems> {
        let (revisions, mut problems) = parse_sources(sources, width);
        let (graph, more) = RevisionGraph::build(revisions);
        problems.extend(more);
        Problems::refuse_if_unusable(problems)?;
        Self::usable(graph, width, table)
    }

    /// Reads a revision directory with the project's settings, refusing as [`Migrations::from_sources`] does. Rust revisions
    /// read this way have no compiled steps: applying one needs the binary (or the CLI's runner).
    pub fn from_directory(dir: &Path, config: &Config) -> Result<Self, Problems> {
        let (revisions, mut problems) = load_directory(dir, config.version_width);
        let (graph, more) = RevisionGraph::build(revisions);
        problems.extend(more);
        Problems::refuse_if_unusable(problems)?;
        Self::usable(graph, config.version_width, &config.table)
    }

    /// Registers the compiled `.rs` revisions.
    #[cfg(feature = "__apply")]
    pub fn with_rust_steps(mut self, steps: &[crate::data::RustStep]) -> Self {
        self.steps = steps.to_vec();
        self
    }

    /// The compiled step of a Rust revision.
    #[cfg(feature = "__apply")]
    pub fn rust_step(&self, version: i64) -> Option<&crate::data::RustStep> {
        self.steps.iter().find(|s| s.version == version)
    }

    /// refinery's checksum of one of these revisions in this set's version width, hashed once per set.
    pub fn checksum(&self, revision: &Revision) -> u64 {
        let checksums = self.checksums.get_or_init(|| {
            self.graph
                .revisions()
                .iter()
                .map(|r| (r.version, r.checksum(self.width)))
                .collect()
        });
        match checksums.get(&revision.version) {
            // The graph holds one revision per version, so the version names the same text.
            Some(&checksum)
                if self
                    .graph
                    .get(revision.version)
                    .is_some_and(|r| std::ptr::eq(r, revision)) =>
            {
                checksum
            }
            _ => revision.checksum(self.width),
        }
    }

    /// The revision graph.
    pub fn graph(&self) -> &RevisionGraph {
        &self.graph
    }

    /// The version width of the history table.
    pub fn version_width(&self) -> VersionWidth {
        self.width
    }

    /// The history table's name.
    pub fn table(&self) -> &str {
        &self.table
    }
}
