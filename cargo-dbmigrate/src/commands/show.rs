//! `cargo dbmigrate show <revision>`: everything known about one revision.

use std::fmt::Write as _;

use dbmigrate_runtime::revision::{Section, TransactionMode};
use dbmigrate_runtime::{Revision, RevisionKind};

use serde::Serialize;

use crate::cli::{ListFormat, ShowArgs};
use crate::commands::history::Entry;
use crate::commands::warn_about_errors;
use crate::directory::Revisions;
use crate::error::Error;
use crate::exit::Exit;
use crate::project::Project;
use crate::render::{DIM, GOOD, Output, VERSION, paint};

/// Prints the revision's header fields, place in the graph, file, checksum and sections.
pub fn run(args: &ShowArgs, output: &mut Output) -> Result<Exit, Error> {
    let project = Project::locate(&args.project)?;
    let revisions = Revisions::load(&project)?;
    warn_about_errors(&revisions, output);
    let found = revisions.find(&args.revision)?;
    if args.format == ListFormat::Json {
        let shown: Vec<Shown<'_>> = found
            .iter()
            .map(|revision| Shown::new(&revisions, revision, project.config.version_width))
            .collect();
        output.json(&shown);
        return Ok(Exit::Success);
    }
    for (index, revision) in found.iter().enumerate() {
        if index > 0 {
            output.line("");
        }
        if !revisions.is_in_graph(revision) {
            output.warn(format!(
                "{} shares version {} with another file; the graph uses the other one",
                revision.path.display(),
                revision.version
            ));
        }
        output.out.push_str(&describe(
            &revisions,
            revision,
            project.config.version_width,
        ));
    }
    Ok(Exit::Success)
}

fn list(versions: impl IntoIterator<Item = i64>, none: &str) -> String {
    let list: Vec<String> = versions.into_iter().map(|v| paint(VERSION, v)).collect();
    if list.is_empty() {
        none.to_string()
    } else {
        list.join(", ")
    }
}

fn describe(
    revisions: &Revisions,
    revision: &Revision,
    width: dbmigrate_runtime::VersionWidth,
) -> String {
    let graph = &revisions.graph;
    let children = graph.children(revision.version);
    let mut text = String::new();
    let field = |text: &mut String, name: &str, value: &dyn std::fmt::Display| {
        let _ = writeln!(text, "{}: {value}", paint(GOOD, name));
    };
    field(&mut text, "Revision", &paint(VERSION, revision.version));
    field(&mut text, "Message", &revision.message());
    field(&mut text, "Path", &revision.path.display());
    let kind = match (revision.kind, revision.prefix.letter()) {
        (RevisionKind::Sql, 'U') => "SQL, unversioned (may apply out of order)",
        (RevisionKind::Sql, _) => "SQL",
        (RevisionKind::Rust, 'U') => "Rust data step, unversioned (may apply out of order)",
        (RevisionKind::Rust, _) => "Rust data step",
    };
    field(&mut text, "Kind", &kind);
    let parents = list(revision.parents.iter().copied(), "(none: a base)");
    match &revision.header {
        Some(_) => field(&mut text, "Parents", &parents),
        None => field(
            &mut text,
            "Parents",
            &format!(
                "{parents} (no header: an adopted refinery file revises the previous version)"
            ),
        ),
    }
    let head = if children.is_empty() { " (a head)" } else { "" };
    field(
        &mut text,
        "Children",
        &format!(
            "{}{head}",
            list(children.iter().map(|r| r.version), "(none)")
        ),
    );
    if let Some(header) = &revision.header {
        if let Some(created) = &header.created {
            field(&mut text, "Created", created);
        }
        let transaction = match header.transaction {
            TransactionMode::Revision => "revision (one transaction with its history row)",
            TransactionMode::None => "none (statement by statement, outside a transaction)",
        };
        field(&mut text, "Transaction", &transaction);
    }
    field(
        &mut text,
        "Checksum",
        &format!(
            "{} (refinery's, {} versions)",
            revision.checksum(width),
            width.as_str()
        ),
    );
    match revision.kind {
        RevisionKind::Sql => {
            section(&mut text, "upgrade", Some(&revision.upgrade));
            section(&mut text, "downgrade", revision.downgrade.as_ref());
        }
        RevisionKind::Rust => {
            let downgrade = if revision.has_downgrade() {
                "`upgrade` and `downgrade`"
            } else {
                "`upgrade` only (no downgrade)"
            };
            field(&mut text, "Steps", &format!("Rust functions {downgrade}"));
        }
    }
    text
}

fn section(text: &mut String, name: &str, section: Option<&Section>) {
    let _ = writeln!(text);
    match section {
        Some(section) => {
            let _ = writeln!(
                text,
                "{}",
                paint(DIM, format!("-- {name} (from line {})", section.first_line))
            );
            // Line endings are shown as the terminal expects; the checksum line above covers the bytes.
            let body = section.text.replace("\r\n", "\n");
            let body = body.trim_matches('\n');
            if body.trim().is_empty() {
                let _ = writeln!(text, "{}", paint(DIM, "(empty)"));
            } else {
                let _ = writeln!(text, "{body}");
            }
        }
        None => {
            let _ = writeln!(
                text,
                "{}",
                paint(
                    DIM,
                    format!("-- {name}: none (the revision cannot be reverted)")
                )
            );
        }
    }
}

/// One revision in `show --format json`: `history --format json`'s fields, whether the graph uses
/// this file (false for a file whose version another file has), and the sections of a SQL revision.
#[derive(Debug, Serialize)]
struct Shown<'a> {
    #[serde(flatten)]
    entry: Entry<'a>,
    in_graph: bool,
    /// Null for a Rust revision, whose steps are functions.
    sections: Option<ShownSections<'a>>,
}

/// The sections of a SQL revision as written.
#[derive(Debug, Serialize)]
struct ShownSections<'a> {
    upgrade: ShownSection<'a>,
    /// Null when the revision cannot be reverted.
    downgrade: Option<ShownSection<'a>>,
}

/// A section with the line it starts on.
#[derive(Debug, Serialize)]
struct ShownSection<'a> {
    first_line: u32,
    sql: &'a str,
}

impl<'a> Shown<'a> {
    fn new(
        revisions: &Revisions,
        revision: &'a Revision,
        width: dbmigrate_runtime::VersionWidth,
    ) -> Self {
        let section = |section: &'a Section| ShownSection {
            first_line: section.first_line,
            sql: &section.text,
        };
        Self {
            entry: Entry::new(&revisions.graph, revision, width),
            in_graph: revisions.is_in_graph(revision),
            sections: (revision.kind == RevisionKind::Sql).then(|| ShownSections {
                upgrade: section(&revision.upgrade),
                downgrade: revision.downgrade.as_ref().map(section),
            }),
        }
    }
}
