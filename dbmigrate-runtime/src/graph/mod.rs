//! The revision graph: revisions linked by `Revises:`, with heads, bases, merges and the upgrade order.
//!
//! Semantics follow Alembic: heads are revisions nobody revises, bases revise nothing, a merge revises
//! several. Unlike Alembic, every inconsistency is a typed problem naming the files involved.

mod target;

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::path::Path;

pub use target::{GraphError, Target};

use crate::error::{Location, Problems, RevisionError, RevisionRef};
use crate::revision::{Revision, RevisionKind, VersionWidth, load_directory};

/// Revisions and the `Revises:` edges between them.
#[derive(Debug, Clone, Default)]
pub struct RevisionGraph {
    /// Sorted by version, one per version.
    revisions: Vec<Revision>,
    index: HashMap<i64, usize>,
    /// Valid edges only (existing, non-self parents), by index.
    parents: Vec<Vec<usize>>,
    children: Vec<Vec<usize>>,
    /// Topological order, ties broken by version; revisions on a cycle come last, by version.
    order: Vec<usize>,
    /// Position of each revision in `order`.
    rank: Vec<usize>,
}

impl RevisionGraph {
    /// Builds the graph and collects every problem, keeping a usable graph (for `check`, `heads`, `history`):
    /// duplicates are dropped after the first, and edges to missing parents or to itself are ignored.
    pub fn build(revisions: Vec<Revision>) -> (Self, Vec<RevisionError>) {
        let mut problems = Vec::new();
        let mut graph = Self::default();
        let mut sorted = revisions;
        sorted.sort_by(|a, b| (a.version, &a.path).cmp(&(b.version, &b.path)));
        for revision in sorted {
            if let Some(&first) = graph.index.get(&revision.version) {
                problems.push(RevisionError::DuplicateVersion {
                    version: revision.version,
                    first: graph.revisions[first].path.clone(),
                    second: revision.path,
                });
                continue;
            }
            graph.index.insert(revision.version, graph.revisions.len());
            graph.revisions.push(revision);
        }
        let count = graph.revisions.len();
        graph.parents = vec![Vec::new(); count];
        graph.children = vec![Vec::new(); count];
        for (child, revision) in graph.revisions.iter().enumerate() {
            let location = Location::line(&revision.path, revision.revises_line());
            for &parent in &revision.parents {
                let version = revision.version;
                if parent == version {
                    problems.push(RevisionError::SelfLoop {
                        location: location.clone(),
                        version,
                    });
                    continue;
                }
                let Some(&parent_index) = graph.index.get(&parent) else {
                    problems.push(RevisionError::MissingParent {
                        location: location.clone(),
                        version,
                        parent,
                    });
                    continue;
                };
                if parent > version {
                    problems.push(RevisionError::ParentAfterChild {
                        location: location.clone(),
                        version,
                        parent,
                    });
                }
                graph.parents[child].push(parent_index);
                graph.children[parent_index].push(child);
            }
        }
        for revision in &graph.revisions {
            // A merge revision legitimately has nothing to run: it only joins branches.
            if revision.kind == RevisionKind::Sql
                && revision.parents.len() < 2
                && revision.upgrade.is_blank()
            {
                problems.push(RevisionError::EmptyRevision {
                    location: Location::line(&revision.path, revision.upgrade.first_line),
                    version: revision.version,
                });
            }
        }
        graph.sort_topologically(&mut problems);
        let heads = graph.heads();
        if heads.len() > 1 {
            problems.push(RevisionError::MultipleHeads {
                heads: heads.iter().map(|r| reference(r)).collect(),
            });
        }
        (graph, problems)
    }

    /// Builds the graph, refusing on any problem (what a binary does at startup).
    pub fn from_revisions(revisions: Vec<Revision>) -> Result<Self, Problems> {
        let (graph, problems) = Self::build(revisions);
        Problems::refuse_on_errors(problems)?;
        Ok(graph)
    }

    /// Reads a revision directory and builds its graph, refusing on any problem.
    pub fn load(dir: &Path, width: VersionWidth) -> Result<Self, Problems> {
        let (revisions, mut problems) = load_directory(dir, width);
        let (graph, more) = Self::build(revisions);
        problems.extend(more);
        if problems.is_empty() {
            Ok(graph)
        } else {
            Err(Problems { problems })
        }
    }

    /// Kahn's algorithm with a min-heap, so independent branches interleave by version (stable, reviewable order).
    fn sort_topologically(&mut self, problems: &mut Vec<RevisionError>) {
        let count = self.revisions.len();
        let mut waiting: Vec<usize> = self.parents.iter().map(Vec::len).collect();
        let mut ready: BinaryHeap<Reverse<(i64, usize)>> = (0..count)
            .filter(|&i| waiting[i] == 0)
            .map(|i| Reverse((self.revisions[i].version, i)))
            .collect();
        let mut order = Vec::with_capacity(count);
        while let Some(Reverse((_, node))) = ready.pop() {
            order.push(node);
            for &child in &self.children[node] {
                waiting[child] -= 1;
                if waiting[child] == 0 {
                    ready.push(Reverse((self.revisions[child].version, child)));
                }
            }
        }
        if order.len() < count {
            let stuck: Vec<usize> = (0..count).filter(|&i| waiting[i] > 0).collect();
            for cycle in self.cycles_among(&stuck) {
                problems.push(RevisionError::Cycle {
                    revisions: cycle
                        .iter()
                        .map(|&i| reference(&self.revisions[i]))
                        .collect(),
                });
            }
            order.extend(stuck);
        }
        self.rank = vec![0; count];
        for (position, &node) in order.iter().enumerate() {
            self.rank[node] = position;
        }
        self.order = order;
    }

    /// Finds the distinct cycles among nodes Kahn's algorithm could not order: one cycle per strongly
    /// connected component, listed from its lowest version, each revising the next.
    fn cycles_among(&self, stuck: &[usize]) -> Vec<Vec<usize>> {
        let in_stuck: BTreeSet<usize> = stuck.iter().copied().collect();
        let mut reported: BTreeSet<usize> = BTreeSet::new();
        let mut cycles = Vec::new();
        for &start in stuck {
            if reported.contains(&start) {
                continue;
            }
            // Walk parent edges inside the stuck set until a node repeats: that closes a cycle.
            let mut path = vec![start];
            let mut node = start;
            let cycle = loop {
                let Some(&next) = self.parents[node].iter().find(|p| in_stuck.contains(p)) else {
                    break None;
                };
                if let Some(position) = path.iter().position(|&n| n == next) {
                    break Some(path[position..].to_vec());
                }
                path.push(next);
                node = next;
            };
            let Some(mut cycle) = cycle else { continue };
            if cycle.iter().any(|n| reported.contains(n)) {
                continue;
            }
            let lowest = (0..cycle.len())
                .min_by_key(|&i| self.revisions[cycle[i]].version)
                .unwrap_or(0);
            cycle.rotate_left(lowest);
            // Mark the whole component so one loop is reported once, not once per member.
            let component = self.reachable(&cycle, |i| &self.parents[i]);
            reported.extend(
                component
                    .into_iter()
                    .filter(|n| in_stuck.contains(n) && self.reaches(*n, cycle[0])),
            );
            reported.extend(cycle.iter().copied());
            cycles.push(cycle);
        }
        cycles
    }

    fn reaches(&self, from: usize, to: usize) -> bool {
        self.reachable(&[from], |i| &self.parents[i]).contains(&to)
    }

    fn reachable<'a>(
        &'a self,
        from: &[usize],
        next: impl Fn(usize) -> &'a Vec<usize>,
    ) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<usize> = from.to_vec();
        while let Some(node) = stack.pop() {
            for &n in next(node) {
                if seen.insert(n) {
                    stack.push(n);
                }
            }
        }
        seen
    }

    /// Every revision, sorted by version.
    pub fn revisions(&self) -> &[Revision] {
        &self.revisions
    }

    /// Whether the graph has no revisions.
    pub fn is_empty(&self) -> bool {
        self.revisions.is_empty()
    }

    /// The revision with this version.
    pub fn get(&self, version: i64) -> Option<&Revision> {
        self.index.get(&version).map(|&i| &self.revisions[i])
    }

    /// The highest version, for numbering the next revision.
    pub fn max_version(&self) -> Option<i64> {
        self.revisions.last().map(|r| r.version)
    }

    /// Revisions nobody revises, by version.
    pub fn heads(&self) -> Vec<&Revision> {
        (0..self.revisions.len())
            .filter(|&i| self.children[i].is_empty())
            .map(|i| &self.revisions[i])
            .collect()
    }

    /// Whether a revision in `versions` revises `version` directly (what [`RevisionGraph::children`]
    /// answers, without collecting them).
    #[cfg(feature = "__apply")]
    pub(crate) fn has_child_in(&self, version: i64, versions: &BTreeSet<i64>) -> bool {
        self.index.get(&version).is_some_and(|&i| {
            self.children[i]
                .iter()
                .any(|&child| versions.contains(&self.revisions[child].version))
        })
    }

    /// Revisions that revise nothing, by version.
    pub fn bases(&self) -> Vec<&Revision> {
        (0..self.revisions.len())
            .filter(|&i| self.parents[i].is_empty())
            .map(|i| &self.revisions[i])
            .collect()
    }

    /// The single head; an error listing the heads when the history forked.
    pub fn head(&self) -> Result<&Revision, GraphError> {
        match self.heads().as_slice() {
            [] => Err(GraphError::Empty),
            [head] => Ok(head),
            heads => Err(GraphError::MultipleHeads {
                heads: heads.iter().map(|r| r.version).collect(),
            }),
        }
    }

    /// The revisions that revise `version`, by version.
    pub fn children(&self, version: i64) -> Vec<&Revision> {
        self.index
            .get(&version)
            .map_or_else(Vec::new, |&i| self.revisions_at(&self.children[i]))
    }

    /// The revisions `version` revises (existing ones only), by version.
    pub fn parents(&self, version: i64) -> Vec<&Revision> {
        self.index
            .get(&version)
            .map_or_else(Vec::new, |&i| self.revisions_at(&self.parents[i]))
    }

    fn revisions_at(&self, indices: &[usize]) -> Vec<&Revision> {
        let mut found: Vec<&Revision> = indices.iter().map(|&i| &self.revisions[i]).collect();
        found.sort_by_key(|r| r.version);
        found
    }

    /// Every revision in upgrade order: parents before children, ties broken by version.
    pub fn topological_order(&self) -> Vec<&Revision> {
        self.order.iter().map(|&i| &self.revisions[i]).collect()
    }

    /// Every version `version` depends on, directly or not (not including itself).
    pub fn ancestors(&self, version: i64) -> BTreeSet<i64> {
        self.related(version, |i| &self.parents[i])
    }

    /// Every version that depends on `version`, directly or not (not including itself).
    pub fn descendants(&self, version: i64) -> BTreeSet<i64> {
        self.related(version, |i| &self.children[i])
    }

    fn related<'a>(
        &'a self,
        version: i64,
        next: impl Fn(usize) -> &'a Vec<usize>,
    ) -> BTreeSet<i64> {
        let Some(&start) = self.index.get(&version) else {
            return BTreeSet::new();
        };
        let mut found: BTreeSet<i64> = self
            .reachable(&[start], next)
            .into_iter()
            .map(|i| self.revisions[i].version)
            .collect();
        found.remove(&version);
        found
    }

    /// Indices of the goals and all their ancestors.
    fn closure(&self, goals: &[usize]) -> Vec<bool> {
        let mut wanted = vec![false; self.revisions.len()];
        let mut stack = goals.to_vec();
        while let Some(node) = stack.pop() {
            if !std::mem::replace(&mut wanted[node], true) {
                stack.extend(&self.parents[node]);
            }
        }
        wanted
    }

    fn index_of(&self, version: i64) -> Result<usize, GraphError> {
        self.index
            .get(&version)
            .copied()
            .ok_or(GraphError::UnknownRevision { version })
    }

    /// The revisions to apply, in order, to bring a database with `applied` versions to `target`.
    pub fn upgrade_plan(
        &self,
        target: &Target,
        applied: &BTreeSet<i64>,
    ) -> Result<Vec<&Revision>, GraphError> {
        let goals: Vec<usize> = match *target {
            Target::Head => vec![self.index_of(self.head()?.version)?],
            Target::Heads => (0..self.revisions.len())
                .filter(|&i| self.children[i].is_empty())
                .collect(),
            Target::Base => Vec::new(),
            Target::Version(version) => vec![self.index_of(version)?],
            Target::Relative(steps) if steps < 0 => {
                return Err(GraphError::WrongDirection {
                    target: target.clone(),
                });
            }
            Target::Relative(steps) => {
                let pending = self.upgrade_plan(&Target::Heads, applied)?;
                let steps = usize::try_from(steps).unwrap_or(usize::MAX);
                if pending.len() < steps {
                    return Err(GraphError::NotEnoughRevisions {
                        requested: steps,
                        available: pending.len(),
                    });
                }
                return Ok(pending.into_iter().take(steps).collect());
            }
            Target::FromVersion { version, steps } => vec![self.step_from(version, steps)?],
        };
        let wanted = self.closure(&goals);
        Ok(self
            .order
            .iter()
            .filter(|&&i| wanted[i] && !applied.contains(&self.revisions[i].version))
            .map(|&i| &self.revisions[i])
            .collect())
    }

    /// The revisions to revert, in order, to bring a database with `applied` versions down to `target`.
    /// Everything that depends on a reverted revision is reverted first.
    pub fn downgrade_plan(
        &self,
        target: &Target,
        applied: &BTreeSet<i64>,
    ) -> Result<Vec<&Revision>, GraphError> {
        let applied_in_reverse = self
            .order
            .iter()
            .rev()
            .filter(|&&i| applied.contains(&self.revisions[i].version));
        let keep: Vec<bool> = match *target {
            Target::Base => vec![false; self.revisions.len()],
            Target::Version(version) => self.keep_up_to(version, applied)?,
            Target::FromVersion { version, steps } => {
                let index = self.step_from(version, steps)?;
                self.keep_up_to(self.revisions[index].version, applied)?
            }
            Target::Relative(steps) if steps < 0 => {
                let steps = usize::try_from(steps.unsigned_abs()).unwrap_or(usize::MAX);
                let available = applied_in_reverse.clone().count();
                if available < steps {
                    return Err(GraphError::NotEnoughRevisions {
                        requested: steps,
                        available,
                    });
                }
                // A suffix of a topological order is closed under descendants, so this is safe to revert.
                return Ok(applied_in_reverse
                    .take(steps)
                    .map(|&i| &self.revisions[i])
                    .collect());
            }
            Target::Head | Target::Heads | Target::Relative(_) => {
                return Err(GraphError::WrongDirection {
                    target: target.clone(),
                });
            }
        };
        Ok(applied_in_reverse
            .filter(|&&i| !keep[i])
            .map(|&i| &self.revisions[i])
            .collect())
    }

    /// What stays applied when downgrading to `version`: everything except its descendants.
    fn keep_up_to(&self, version: i64, applied: &BTreeSet<i64>) -> Result<Vec<bool>, GraphError> {
        self.index_of(version)?;
        if !applied.contains(&version) {
            return Err(GraphError::NotApplied { version });
        }
        let descendants = self.descendants(version);
        Ok(self
            .revisions
            .iter()
            .map(|r| !descendants.contains(&r.version))
            .collect())
    }

    /// `V+N` / `V-N`: the revision N steps after (or before) `version` in upgrade order, among its
    /// descendants (or ancestors).
    fn step_from(&self, version: i64, steps: i64) -> Result<usize, GraphError> {
        let start = self.index_of(version)?;
        if steps == 0 {
            return Ok(start);
        }
        let related = if steps > 0 {
            self.descendants(version)
        } else {
            self.ancestors(version)
        };
        let mut line: Vec<usize> = related.iter().map(|v| self.index[v]).collect();
        line.sort_by_key(|&i| self.rank[i]);
        if steps < 0 {
            line.reverse();
        }
        let wanted = usize::try_from(steps.unsigned_abs()).unwrap_or(usize::MAX);
        line.get(wanted - 1)
            .copied()
            .ok_or(GraphError::NotEnoughRevisions {
                requested: wanted,
                available: line.len(),
            })
    }
}

fn reference(revision: &Revision) -> RevisionRef {
    RevisionRef {
        version: revision.version,
        path: revision.path.clone(),
    }
}

#[cfg(test)]
mod tests;
