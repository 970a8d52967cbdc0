//! `cargo dbmigrate rebase <revision> --onto <parent>`: moves a revision, and what depends on it, onto
//! another revision so a history forked by two pull requests is linear again.
//!
//! As with `git rebase`, the branch ending at the revision (its ancestors that the new parent's history
//! lacks) moves: the branch's first `Revises:` line is pointed at the new parent, and what depends on
//! the branch follows. A revision is renumbered (to the next free version, its file renamed) only when
//! it must be: when it shares its version with another file, or when its version would no longer be
//! above a parent's. Header-less (adopted) files get a header when their parents change.
//!
//! Offline, nothing can tell which revisions a database has applied, and rewriting a file changes its
//! checksum: the command warns that it is only for revisions no database has applied yet.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use dbmigrate_runtime::revision::{FileName, parse_text};
use dbmigrate_runtime::{Revision, RevisionGraph, RevisionKind};

use crate::cli::RebaseArgs;
use crate::directory::Revisions;
use crate::error::Error;
use crate::exit::Exit;
use crate::naming::{Clock, Numbering};
use crate::project::Project;
use crate::render::{GOOD, Output, paint};
use crate::template::revises_value;

const APPLIED_WARNING: &str = "rebase rewrites revision files, which changes their checksums: use it only on revisions \
    that no database has applied yet (it works offline and cannot check)";

/// The problems `rebase` exists to fix, or that do not stop it; any other error makes it refuse.
const FIXABLE: [&str; 3] = ["duplicate-version", "multiple-heads", "parent-after-child"];

/// One file to rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The file as it is.
    pub path: PathBuf,
    /// Where it goes (the same path when only its header changes).
    pub new_path: PathBuf,
    /// Its version now.
    pub version: i64,
    /// Its version afterwards.
    pub new_version: i64,
    /// Its parents afterwards.
    pub new_parents: Vec<i64>,
    /// Whether a header had to be added (an adopted refinery file).
    pub adds_header: bool,
    /// The new contents.
    pub new_text: String,
}

impl Change {
    fn describe(&self, dry_run: bool) -> String {
        let revises = match self.new_parents.as_slice() {
            [] => "revising nothing".to_string(),
            parents => format!("revising {}", revises_value(parents)),
        };
        let header = if self.adds_header {
            " (header added)"
        } else {
            ""
        };
        let (rename, rewrite) = if dry_run {
            ("would rename", "would rewrite")
        } else {
            ("renamed", "rewrote")
        };
        if self.new_path == self.path {
            format!(
                "{rewrite} {}: revision {}, now {revises}{header}",
                self.path.display(),
                self.version
            )
        } else {
            format!(
                "{rename} {} -> {}: revision {} is now {}, {revises}{header}",
                self.path.display(),
                self.new_path.display(),
                self.version,
                self.new_version
            )
        }
    }
}

/// Plans, prints, and (unless `--dry-run`) applies the rebase, then reports what the graph looks like.
pub fn run(args: &RebaseArgs, output: &mut Output) -> Result<Exit, Error> {
    let project = Project::locate(&args.project)?;
    let numbering = Numbering::new(
        project.config.versioning,
        project.config.version_width,
        false,
    )?;
    let clock = Clock::from_env()?;
    let revisions = Revisions::load(&project)?;
    output.warn(APPLIED_WARNING);
    revisions.refuse_errors("rebase", &FIXABLE)?;
    let moving = revision_to_move(&revisions, &args.revision, &args.onto)?;
    let onto = new_parent(&revisions, &args.onto)?;
    let changes = plan(&revisions, moving, onto, &numbering, &clock)?;
    if changes.is_empty() {
        let (moving, onto) = (moving.version, onto.version);
        let situation = if revisions.graph.ancestors(onto).contains(&moving) {
            format!("revision {moving} is already in the history of {onto}")
        } else {
            format!("the branch of revision {moving} already builds on {onto}")
        };
        output.line(format!("nothing to do: {situation}"));
        return Ok(Exit::Success);
    }
    for change in &changes {
        output.line(change.describe(args.dry_run));
    }
    if args.dry_run {
        return Ok(Exit::Success);
    }
    apply(&changes)?;
    let after = Revisions::read(&project.dir, project.config.version_width);
    let heads: Vec<String> = after
        .graph
        .heads()
        .iter()
        .map(|h| h.version.to_string())
        .collect();
    match heads.as_slice() {
        [head] => output.line(format!(
            "{}: one head, {head}",
            paint(GOOD, "the history is linear")
        )),
        _ => output.line(format!(
            "the history has {} heads: {}",
            heads.len(),
            heads.join(", ")
        )),
    }
    let errors = after.errors().count();
    if errors > 0 {
        output.line(format!(
            "{errors} error(s) remain; `cargo dbmigrate check` lists them"
        ));
    }
    Ok(Exit::Success)
}

/// The file to move. A version two files share names both, and which of them no database has
/// applied yet is for the user to say, so the file must then be named.
fn revision_to_move<'a>(
    revisions: &'a Revisions,
    spec: &str,
    onto: &str,
) -> Result<&'a Revision, Error> {
    let found = revisions.find(spec)?;
    if let [only] = found.as_slice() {
        return Ok(only);
    }
    let paths: Vec<String> = found.iter().map(|r| r.path.display().to_string()).collect();
    // The example names the file the graph set aside, as `check` does.
    let example = found
        .iter()
        .find(|r| !revisions.is_in_graph(r))
        .unwrap_or(&found[0]);
    Err(Error::InvalidArgument {
        message: format!(
            "`{spec}` names {} files: {}; which one moves is yours to say",
            found.len(),
            paths.join(", ")
        ),
        help: Some(format!(
            "name the file no database has applied yet, for example `cargo dbmigrate rebase {} --onto {onto}`; \
             with --database-url, `cargo dbmigrate check` reads which one a database has applied",
            example.path.display()
        )),
    })
}

/// The new parent: a revision the graph knows (a parent is named by version, so a set-aside duplicate
/// cannot be one).
fn new_parent<'a>(revisions: &'a Revisions, spec: &str) -> Result<&'a Revision, Error> {
    let found = revisions.find(spec)?;
    found.iter().copied().find(|r| revisions.is_in_graph(r)).ok_or_else(|| Error::InvalidArgument {
        message: format!("`{spec}` shares its version with another file, so no revision can name it as a parent"),
        help: Some(format!("rebase `{spec}` itself first, then rebase onto its new version")),
    })
}

/// The files to rewrite, in upgrade order, without touching the disk.
///
/// As with `git rebase`, what moves is the branch that ends at `moving`: `moving` and its ancestors
/// that are not already in `onto`'s history. The branch's first revisions are re-parented onto `onto`,
/// and everything that depends on the branch follows, renumbered where a parent would otherwise not
/// come first. So `rebase <head> --onto <other head>` linearises a fork of any length.
pub fn plan(
    revisions: &Revisions,
    moving: &Revision,
    onto: &Revision,
    numbering: &Numbering,
    clock: &Clock,
) -> Result<Vec<Change>, Error> {
    let graph = &revisions.graph;
    // A file whose version another file shares moves alone: what revises that version keeps revising
    // it, and it is the twin that remains.
    let moving_is_duplicate = revisions
        .duplicates
        .iter()
        .any(|d| d.version == moving.version);
    if moving.path == onto.path && !moving_is_duplicate {
        return Err(Error::InvalidArgument {
            message: format!("cannot rebase revision {} onto itself", moving.version),
            help: Some("`--onto` takes the head of the other branch".into()),
        });
    }
    let mut onto_history = graph.ancestors(onto.version);
    onto_history.insert(onto.version);
    let branch: BTreeSet<i64> = if moving_is_duplicate {
        BTreeSet::new()
    } else {
        let mut own = graph.ancestors(moving.version);
        own.insert(moving.version);
        own.difference(&onto_history).copied().collect()
    };
    let moved = with_descendants(graph, &branch);
    let order: Vec<&Revision> = if moving_is_duplicate {
        vec![moving]
    } else {
        graph
            .topological_order()
            .into_iter()
            .filter(|r| moved.contains(&r.version))
            .collect()
    };
    let mut renumbered: HashMap<i64, i64> = HashMap::new();
    let mut highest = revisions.max_version();
    let mut changes = Vec::new();
    for revision in order {
        // The branch's first revisions revise only what `onto` already contains: `onto` replaces that.
        let starts_branch = moving_is_duplicate
            || (branch.contains(&revision.version)
                && !revision.parents.iter().any(|p| branch.contains(p)));
        let new_parents: Vec<i64> = if starts_branch {
            vec![onto.version]
        } else {
            revision
                .parents
                .iter()
                .map(|p| renumbered.get(p).copied().unwrap_or(*p))
                .collect()
        };
        // A set-aside duplicate always needs a version of its own; anyone else only when a parent
        // would no longer come before it.
        let must_renumber =
            moving_is_duplicate || new_parents.iter().any(|&p| p >= revision.version);
        let new_version = if must_renumber {
            let next = numbering.next(highest, clock)?;
            highest = Some(next);
            next
        } else {
            revision.version
        };
        if !moving_is_duplicate && new_version != revision.version {
            renumbered.insert(revision.version, new_version);
        }
        if new_version == revision.version && new_parents == revision.parents {
            continue;
        }
        changes.push(change_for(revision, new_version, new_parents)?);
    }
    Ok(changes)
}

/// `versions` and everything that depends on any of them, walking children once each.
fn with_descendants(graph: &RevisionGraph, versions: &BTreeSet<i64>) -> BTreeSet<i64> {
    let mut found = versions.clone();
    let mut stack: Vec<i64> = versions.iter().copied().collect();
    while let Some(version) = stack.pop() {
        for child in graph.children(version) {
            if found.insert(child.version) {
                stack.push(child.version);
            }
        }
    }
    found
}

fn change_for(
    revision: &Revision,
    new_version: i64,
    new_parents: Vec<i64>,
) -> Result<Change, Error> {
    let value = revises_value(&new_parents);
    let new_text = match &revision.header {
        Some(header) => replace_revises_line(&revision.text, header.revises_line, &value),
        None => insert_header(&revision.text, revision.kind, &value),
    };
    // The file must read back with exactly the new parents; an unusual file that would not is left
    // for a person to edit rather than rewritten wrongly.
    let parsed = parse_text(&revision.path, &new_text, revision.kind)
        .ok()
        .and_then(|p| p.header);
    if parsed.as_ref().map(|h| h.revises.as_slice()) != Some(new_parents.as_slice()) {
        return Err(Error::CannotRewrite {
            path: revision.path.clone(),
            revises: value,
        });
    }
    let new_path = if new_version == revision.version {
        revision.path.clone()
    } else {
        let name = FileName {
            prefix: revision.prefix,
            version: new_version,
            name: revision.name.clone(),
            kind: revision.kind,
        };
        revision.path.with_file_name(name.render())
    };
    Ok(Change {
        path: revision.path.clone(),
        new_path,
        version: revision.version,
        new_version,
        new_parents,
        adds_header: revision.header.is_none(),
        new_text,
    })
}

/// The text with the value of its `Revises:` line (1-based `line`) replaced; the comment marker,
/// spacing before the key, and the line ending are kept.
fn replace_revises_line(text: &str, line: u32, value: &str) -> String {
    let index = usize::try_from(line)
        .unwrap_or(usize::MAX)
        .saturating_sub(1);
    text.split_inclusive('\n')
        .enumerate()
        .map(|(i, current)| {
            if i != index {
                return current.to_string();
            }
            let ending = if current.ends_with("\r\n") {
                "\r\n"
            } else if current.ends_with('\n') {
                "\n"
            } else {
                ""
            };
            // The comment marker (`--`, `//!`) has no colon, so the first one ends the key.
            let key = current
                .find(':')
                .map_or(current, |colon| &current[..=colon]);
            let separator = if value.is_empty() { "" } else { " " };
            format!("{key}{separator}{value}{ending}")
        })
        .collect()
}

/// The text of a header-less file with a header naming its parents, after any byte-order mark and in
/// the file's own line ending. The blank line keeps the file's first comments out of the header.
fn insert_header(text: &str, kind: RevisionKind, value: &str) -> String {
    let (bom, rest) = text
        .strip_prefix('\u{feff}')
        .map_or(("", text), |rest| ("\u{feff}", rest));
    let ending = match rest.find('\n') {
        Some(at) if rest[..at].ends_with('\r') => "\r\n",
        _ => "\n",
    };
    let comment = match kind {
        RevisionKind::Sql => "--",
        RevisionKind::Rust => "//!",
    };
    let separator = if value.is_empty() { "" } else { " " };
    format!("{bom}{comment} Revises:{separator}{value}{ending}{ending}{rest}")
}

/// Writes every change: all target paths are checked first, and each file goes through a hidden
/// temporary file and a rename, so a failure leaves whole files, never half-written ones.
fn apply(changes: &[Change]) -> Result<(), Error> {
    for (index, change) in changes.iter().enumerate() {
        let taken_on_disk = change.new_path != change.path && change.new_path.exists();
        let taken_by_plan = changes[..index]
            .iter()
            .any(|c| c.new_path == change.new_path);
        if taken_on_disk || taken_by_plan {
            return Err(Error::io("create", &change.new_path)(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "the file exists; nothing was changed",
            )));
        }
    }
    for change in changes {
        let temporary = temporary_path(&change.new_path);
        std::fs::write(&temporary, &change.new_text).map_err(Error::io("write", &temporary))?;
        std::fs::rename(&temporary, &change.new_path).map_err(Error::io("rename", &temporary))?;
        if change.new_path != change.path {
            std::fs::remove_file(&change.path).map_err(Error::io("remove", &change.path))?;
        }
    }
    Ok(())
}

/// A hidden name next to `path`: the revision loader skips hidden files, so a leftover is harmless.
fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.rebase-tmp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_revises_value_is_replaced_and_everything_else_kept() {
        let text = "\u{feff}-- Message: m\r\n--   Revises: 2\r\n\r\nSELECT 1;\r\n";
        assert_eq!(
            replace_revises_line(text, 2, "7"),
            "\u{feff}-- Message: m\r\n--   Revises: 7\r\n\r\nSELECT 1;\r\n"
        );
        assert_eq!(
            replace_revises_line("//! Revises: 1, 2", 1, "3, 4"),
            "//! Revises: 3, 4"
        );
        assert_eq!(
            replace_revises_line("-- Revises: 1\n", 1, ""),
            "-- Revises:\n"
        );
    }

    #[test]
    fn a_rewrite_that_would_not_read_back_is_refused() {
        let text = "-- Message: m\n-- Revises: 2\n\nSELECT 1;\n";
        let parsed = parse_text(Path::new("V3__m.sql"), text, RevisionKind::Sql).unwrap();
        let mut header = parsed.header.unwrap();
        // A header whose recorded line is not the `Revises:` line cannot be rewritten in place.
        header.revises_line = 1;
        let revision = Revision {
            version: 3,
            prefix: dbmigrate_runtime::revision::Prefix::Versioned,
            name: "m".into(),
            kind: RevisionKind::Sql,
            path: PathBuf::from("V3__m.sql"),
            header: Some(header),
            parents: vec![2],
            upgrade: parsed.upgrade,
            downgrade: parsed.downgrade,
            text: text.into(),
        };
        assert!(matches!(
            change_for(&revision, 3, vec![5]),
            Err(Error::CannotRewrite { .. })
        ));
        let mut sound = revision.clone();
        sound.header.as_mut().unwrap().revises_line = 2;
        let change = change_for(&sound, 6, vec![5]).unwrap();
        assert_eq!(change.new_path, PathBuf::from("V6__m.sql"));
        assert_eq!(
            change.new_text,
            "-- Message: m\n-- Revises: 5\n\nSELECT 1;\n"
        );
    }

    #[test]
    fn headers_are_added_after_a_bom_in_the_file_line_ending() {
        assert_eq!(
            insert_header("\u{feff}SELECT 1;\r\n", RevisionKind::Sql, "4"),
            "\u{feff}-- Revises: 4\r\n\r\nSELECT 1;\r\n"
        );
        assert_eq!(
            insert_header(
                "-- create users\nCREATE TABLE u(id int);\n",
                RevisionKind::Sql,
                "4"
            ),
            "-- Revises: 4\n\n-- create users\nCREATE TABLE u(id int);\n"
        );
        assert_eq!(
            insert_header("pub fn x() {}\n", RevisionKind::Rust, "4"),
            "//! Revises: 4\n\npub fn x() {}\n"
        );
    }
}
