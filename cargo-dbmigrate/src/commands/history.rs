//! `cargo dbmigrate history`: revisions in upgrade order, newest first, optionally a range of them.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use dbmigrate_runtime::revision::TransactionMode;
use dbmigrate_runtime::{Revision, RevisionGraph, VersionWidth};
use serde::Serialize;

use crate::cli::{HistoryArgs, ListFormat};
use crate::commands::warn_about_errors;
use crate::directory::Revisions;
use crate::error::Error;
use crate::exit::Exit;
use crate::project::Project;
use crate::render::{DIM, GOOD, Output, VERSION, paint};

/// Lists the revisions (those in `-r A:B` only), newest first.
pub fn run(args: &HistoryArgs, output: &mut Output) -> Result<Exit, Error> {
    let project = Project::locate(&args.project)?;
    let revisions = Revisions::load(&project)?;
    warn_about_errors(&revisions, output);
    let graph = &revisions.graph;
    let selected = match &args.rev_range {
        Some(range) => Some(select_range(&revisions, range)?),
        None => None,
    };
    let mut listed: Vec<&Revision> = graph.topological_order();
    listed.reverse();
    listed.retain(|r| selected.as_ref().is_none_or(|s| s.contains(&r.version)));
    match args.format {
        ListFormat::Json => {
            let entries: Vec<Entry<'_>> = listed
                .iter()
                .map(|r| Entry::new(graph, r, project.config.version_width))
                .collect();
            output.json(&entries);
        }
        ListFormat::Human if args.verbose => {
            for revision in listed {
                output.out.push_str(&verbose_block(graph, revision));
            }
        }
        ListFormat::Human => {
            for revision in listed {
                output.line(summary_line(graph, revision));
            }
        }
    }
    Ok(Exit::Success)
}

/// `A:B`: descendants of A (inclusive) that are ancestors of B (inclusive). Either side may be empty;
/// `base` and `head`/`heads` are accepted as in Alembic.
fn select_range(revisions: &Revisions, range: &str) -> Result<BTreeSet<i64>, Error> {
    let graph = &revisions.graph;
    let Some((lower, upper)) = range.split_once(':') else {
        return Err(Error::InvalidArgument {
            message: format!("`{range}` is not a range"),
            help: Some("write it as A:B, for example 3:head, base:7, 3: or :7".into()),
        });
    };
    let everything = || {
        graph
            .revisions()
            .iter()
            .map(|r| r.version)
            .collect::<BTreeSet<i64>>()
    };
    let heads = || {
        graph
            .heads()
            .iter()
            .map(|r| r.version)
            .collect::<BTreeSet<i64>>()
    };
    let with = |version: i64, mut related: BTreeSet<i64>| {
        related.insert(version);
        related
    };
    let from = match lower.trim() {
        "" | "base" => everything(),
        "head" | "heads" => heads(),
        spec => {
            let start = revisions.find_one(spec)?.version;
            with(start, graph.descendants(start))
        }
    };
    let to = match upper.trim() {
        "" | "heads" => everything(),
        "base" => graph.bases().iter().map(|r| r.version).collect(),
        spec => {
            let end = revisions.find_one(spec)?.version;
            with(end, graph.ancestors(end))
        }
    };
    Ok(from.intersection(&to).copied().collect())
}

/// `3 -> 4 (head), add teams`: parents, version, what the revision is in the graph, message.
pub fn summary_line(graph: &RevisionGraph, revision: &Revision) -> String {
    let parents = if revision.parents.is_empty() {
        "<base>".to_string()
    } else {
        revision
            .parents
            .iter()
            .map(|p| paint(VERSION, p))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{parents} -> {}{}, {}",
        paint(VERSION, revision.version),
        tags(graph, revision),
        revision.message()
    )
}

/// ` (head)`, ` (mergepoint)`, ` (branchpoint)`, or nothing.
fn tags(graph: &RevisionGraph, revision: &Revision) -> String {
    let children = graph.children(revision.version).len();
    let mut tags = Vec::new();
    if children == 0 {
        tags.push("head");
    }
    if revision.parents.len() > 1 {
        tags.push("mergepoint");
    }
    if children > 1 {
        tags.push("branchpoint");
    }
    if tags.is_empty() {
        String::new()
    } else {
        format!(" {}", paint(GOOD, format!("({})", tags.join(", "))))
    }
}

fn versions(revisions: &[&Revision]) -> String {
    if revisions.is_empty() {
        return "(none)".into();
    }
    revisions
        .iter()
        .map(|r| r.version.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn verbose_block(graph: &RevisionGraph, revision: &Revision) -> String {
    let mut text = String::new();
    let parents = if revision.parents.is_empty() {
        "(none: a base)".to_string()
    } else {
        revision
            .parents
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        text,
        "Revision: {}{}",
        paint(VERSION, revision.version),
        tags(graph, revision)
    );
    let _ = writeln!(text, "Parents: {parents}");
    let _ = writeln!(
        text,
        "Children: {}",
        versions(&graph.children(revision.version))
    );
    let _ = writeln!(text, "Path: {}", paint(DIM, revision.path.display()));
    let _ = writeln!(text, "Kind: {}", revision.kind);
    if let Some(created) = revision.header.as_ref().and_then(|h| h.created.as_deref()) {
        let _ = writeln!(text, "Created: {created}");
    }
    let _ = writeln!(text, "\n    {}\n", revision.message());
    text
}

/// One revision in `history --format json`; the fields are part of the documented output.
#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    version: i64,
    name: &'a str,
    message: String,
    kind: String,
    path: String,
    parents: &'a [i64],
    children: Vec<i64>,
    head: bool,
    base: bool,
    merge: bool,
    created: Option<&'a str>,
    transaction: &'static str,
    downgrade: bool,
    /// refinery's checksum, as the decimal string stored in the history table (a u64 does not fit
    /// a JSON number in every reader).
    checksum: String,
}

impl<'a> Entry<'a> {
    /// The entry for one revision.
    pub fn new(graph: &RevisionGraph, revision: &'a Revision, width: VersionWidth) -> Self {
        let children: Vec<i64> = graph
            .children(revision.version)
            .iter()
            .map(|r| r.version)
            .collect();
        let header = revision.header.as_ref();
        Self {
            version: revision.version,
            name: &revision.name,
            message: revision.message(),
            kind: revision.kind.to_string(),
            path: revision.path.to_string_lossy().replace('\\', "/"),
            parents: &revision.parents,
            head: children.is_empty(),
            children,
            base: revision.parents.is_empty(),
            merge: revision.parents.len() > 1,
            created: header.and_then(|h| h.created.as_deref()),
            transaction: match header.map(|h| h.transaction) {
                Some(TransactionMode::None) => "none",
                _ => "revision",
            },
            downgrade: revision.has_downgrade(),
            checksum: revision.checksum(width).to_string(),
        }
    }
}
