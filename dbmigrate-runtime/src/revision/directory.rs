//! Reading a whole revision directory (from disk or from the copy embedded in a binary) into revisions.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use super::file_name::{is_candidate, parse_file_name};
use super::header::parse_text;
use super::{Revision, VersionWidth};
use crate::error::{Location, RevisionError};

/// One file's path and bytes, wherever they come from.
#[derive(Debug, Clone)]
pub struct RevisionSource<'a> {
    /// The path to show in messages.
    pub path: PathBuf,
    /// The raw contents.
    pub bytes: Cow<'a, [u8]>,
}

/// Reads every revision file under `dir` (recursively, as refinery does), collecting every problem
/// instead of stopping at the first. Revisions come back sorted by version.
///
/// A file named like a revision must be a regular file inside `dir`: one that resolves (through
/// symlinks) outside it, or a FIFO, socket or device, is reported and never read, so its contents
/// cannot reach `check`'s or `show`'s output (and reading a FIFO cannot hang).
pub fn load_directory(dir: &Path, width: VersionWidth) -> (Vec<Revision>, Vec<RevisionError>) {
    let mut problems = Vec::new();
    let mut sources = Vec::new();
    let root = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                let path = error.path().unwrap_or(dir).to_path_buf();
                problems.push(RevisionError::Unreadable {
                    path,
                    message: error.to_string(),
                });
                continue;
            }
        };
        let candidate = entry.file_name().to_str().is_none_or(is_candidate);
        if !candidate || entry.file_type().is_dir() {
            continue;
        }
        match regular_file_inside(entry.path(), &root) {
            Ok(true) => {}
            // A symlink to a directory is not a file to read, as a directory is not.
            Ok(false) => continue,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        }
        match std::fs::read(entry.path()) {
            Ok(bytes) => sources.push(RevisionSource {
                path: entry.path().to_path_buf(),
                bytes: Cow::Owned(bytes),
            }),
            Err(error) => problems.push(RevisionError::Unreadable {
                path: entry.path().to_path_buf(),
                message: error.to_string(),
            }),
        }
    }
    let (revisions, more) = parse_sources(sources, width);
    problems.extend(more);
    (revisions, problems)
}

/// Whether `path` (a file in the revision directory `root`, canonical) is a regular file to read:
/// `Ok(false)` for a directory; an error for a file outside `root` or one that is not regular. A
/// dangling or looping symlink passes, so reading it reports it as unreadable.
fn regular_file_inside(path: &Path, root: &Path) -> Result<bool, RevisionError> {
    let Ok(target) = path.canonicalize() else {
        return Ok(true);
    };
    if !target.starts_with(root) {
        return Err(RevisionError::OutsideDirectory {
            path: path.to_path_buf(),
            target,
        });
    }
    let Ok(metadata) = std::fs::metadata(&target) else {
        return Ok(true);
    };
    if metadata.is_dir() {
        return Ok(false);
    }
    if metadata.is_file() {
        return Ok(true);
    }
    Err(RevisionError::NotARegularFile {
        path: path.to_path_buf(),
        kind: special_kind(&metadata.file_type()),
    })
}

/// What a file that is neither regular nor a directory is, for messages.
fn special_kind(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
    }
    let _ = file_type;
    "a special file"
}

/// Parses revision files already in memory, then links header-less (adopted refinery) files into a
/// linear chain: each revises the previous version, up to the first file that has a header.
pub fn parse_sources<'a>(
    sources: impl IntoIterator<Item = RevisionSource<'a>>,
    width: VersionWidth,
) -> (Vec<Revision>, Vec<RevisionError>) {
    let mut problems = Vec::new();
    let mut revisions = Vec::new();
    for source in sources {
        match parse_one(&source.path, &source.bytes, width) {
            Ok(Some(revision)) => revisions.push(revision),
            Ok(None) => {}
            Err(problem) => problems.push(problem),
        }
    }
    revisions.sort_by(|a, b| (a.version, &a.path).cmp(&(b.version, &b.path)));
    link_adopted_files(&mut revisions, &mut problems);
    (revisions, problems)
}

fn parse_one(
    path: &Path,
    bytes: &[u8],
    width: VersionWidth,
) -> Result<Option<Revision>, RevisionError> {
    let Some(name) = parse_file_name(path, width)? else {
        return Ok(None);
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let line = bytes[..error.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            let line = u32::try_from(line).unwrap_or(u32::MAX);
            return Err(RevisionError::InvalidUtf8 {
                location: Location::line(path, line),
            });
        }
    };
    let parsed = parse_text(path, text, name.kind)?;
    Ok(Some(Revision {
        version: name.version,
        prefix: name.prefix,
        name: name.name,
        kind: name.kind,
        path: path.to_path_buf(),
        parents: parsed
            .header
            .as_ref()
            .map(|h| h.revises.clone())
            .unwrap_or_default(),
        header: parsed.header,
        upgrade: parsed.upgrade,
        downgrade: parsed.downgrade,
        text: text.to_string(),
    }))
}

fn link_adopted_files(revisions: &mut [Revision], problems: &mut Vec<RevisionError>) {
    // (version, parents) of the last distinct version seen, so a duplicate gets the same parent as its twin.
    let mut previous: Option<(i64, Vec<i64>)> = None;
    let mut first_with_header: Option<(i64, PathBuf)> = None;
    for revision in revisions.iter_mut() {
        if revision.header.is_some() {
            first_with_header.get_or_insert_with(|| (revision.version, revision.path.clone()));
        } else if let Some((version, path)) = &first_with_header {
            problems.push(RevisionError::BadHeader {
                location: Location::line(&revision.path, 1),
                reason: format!(
                    "the file has no header, but it comes after {version} ({}), which has one; add a `Revises:` line naming its parent",
                    path.display()
                ),
            });
        } else {
            revision.parents = match &previous {
                Some((version, parents)) if *version == revision.version => parents.clone(),
                Some((version, _)) => vec![*version],
                None => Vec::new(),
            };
        }
        if previous
            .as_ref()
            .is_none_or(|(version, _)| *version != revision.version)
        {
            previous = Some((revision.version, revision.parents.clone()));
        }
    }
}
