//! A revision directory read from disk: its revisions and graph, every problem found, and the
//! duplicate files the graph set aside (`rebase` needs them to renumber one).

use std::path::Path;

use dbmigrate_runtime::revision::load_directory;
use dbmigrate_runtime::{Revision, RevisionError, RevisionGraph};

use crate::error::Error;
use crate::project::Project;

/// Everything read from a revision directory.
#[derive(Debug)]
pub struct Revisions {
    /// The graph, kept usable despite problems (duplicates dropped, broken edges ignored).
    pub graph: RevisionGraph,
    /// Every problem, files first, then the graph's.
    pub problems: Vec<RevisionError>,
    /// Files whose version another file already has; the graph keeps only the first of each.
    pub duplicates: Vec<Revision>,
}

impl Revisions {
    /// Reads the project's revision directory (which must exist).
    pub fn load(project: &Project) -> Result<Self, Error> {
        project.require_dir()?;
        Ok(Self::read(&project.dir, project.config.version_width))
    }

    /// Reads a directory with a version width.
    pub fn read(dir: &Path, width: dbmigrate_runtime::VersionWidth) -> Self {
        let (revisions, mut problems) = load_directory(dir, width);
        // `load_directory` sorts by (version, path) as the graph does, so the graph keeps the first of
        // each version and these are exactly the ones it drops.
        let duplicates = revisions
            .windows(2)
            .filter(|pair| pair[0].version == pair[1].version)
            .map(|pair| pair[1].clone())
            .collect();
        let (graph, more) = RevisionGraph::build(revisions);
        problems.extend(more);
        Self {
            graph,
            problems,
            duplicates,
        }
    }

    /// The problems that are errors, not warnings.
    pub fn errors(&self) -> impl Iterator<Item = &RevisionError> {
        self.problems.iter().filter(|p| !p.is_warning())
    }

    /// Refuses to let `command` change the revisions while they have errors, except the kinds it can
    /// live with (`new --revises` on a forked history, `rebase` fixing duplicates).
    pub fn refuse_errors(&self, command: &'static str, tolerated: &[&str]) -> Result<(), Error> {
        let problems: Vec<RevisionError> = self
            .errors()
            .filter(|p| !tolerated.contains(&p.code()))
            .cloned()
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::BrokenRevisions { command, problems })
        }
    }

    /// The revisions a command-line argument names: `head`, a version (`3`, `V3`), or a file name or
    /// path. A version two files share names both.
    pub fn find(&self, spec: &str) -> Result<Vec<&Revision>, Error> {
        let unknown = || Error::UnknownRevision {
            spec: spec.to_string(),
        };
        let all = || self.graph.revisions().iter().chain(&self.duplicates);
        if spec == "head" {
            return match self.graph.head() {
                Ok(head) => Ok(vec![head]),
                Err(dbmigrate_runtime::GraphError::MultipleHeads { heads }) => {
                    Err(Error::AmbiguousHead { heads })
                }
                Err(_) => Err(unknown()),
            };
        }
        let digits = spec.strip_prefix(['V', 'v', 'U', 'u']).unwrap_or(spec);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            let version: i64 = digits.parse().map_err(|_| unknown())?;
            let found: Vec<&Revision> = all().filter(|r| r.version == version).collect();
            return if found.is_empty() {
                Err(unknown())
            } else {
                Ok(found)
            };
        }
        let wanted = Path::new(spec);
        let found: Vec<&Revision> = all()
            .filter(|r| {
                r.path == wanted
                    || r.path.file_name() == Some(wanted.as_os_str())
                    || same_file(&r.path, wanted)
            })
            .collect();
        if found.is_empty() {
            Err(unknown())
        } else {
            Ok(found)
        }
    }

    /// The one revision an argument names, as the graph knows it.
    pub fn find_one(&self, spec: &str) -> Result<&Revision, Error> {
        let found = self.find(spec)?;
        let in_graph: Vec<&Revision> = found
            .iter()
            .copied()
            .filter(|r| self.is_in_graph(r))
            .collect();
        match (found.as_slice(), in_graph.as_slice()) {
            ([only], _) => Ok(only),
            (_, [kept]) => Ok(kept),
            _ => Err(Error::UnknownRevision {
                spec: spec.to_string(),
            }),
        }
    }

    /// Whether this file is the one the graph kept for its version (not a set-aside duplicate).
    pub fn is_in_graph(&self, revision: &Revision) -> bool {
        self.graph
            .get(revision.version)
            .is_some_and(|kept| kept.path == revision.path)
    }

    /// The highest version of any file, duplicates included.
    pub fn max_version(&self) -> Option<i64> {
        self.graph.max_version()
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
