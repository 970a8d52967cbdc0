//! The header dbmigrate writes at the top of a revision (`Revises:`, `Message:`, `Created:`, `Transaction:`)
//! and the `migrate:upgrade` / `migrate:downgrade` section markers of SQL revisions.
//!
//! ```sql
//! -- Message: add teams
//! -- Revises: 3
//! -- Created: 2026-11-24T21:08:43Z
//!
//! -- migrate:upgrade
//! CREATE TABLE teams (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
//!
//! -- migrate:downgrade
//! DROP TABLE teams;
//! ```
//!
//! The header is the first block of comment lines (after any byte-order mark and blank lines, with LF
//! or CRLF endings). It is a dbmigrate header when one of its lines is a known `Key: value`; any other
//! leading comment leaves the file an adopted refinery file whose whole text is the upgrade.

use std::path::Path;

use super::RevisionKind;
use crate::backend::Backend;
use crate::error::{Location, RevisionError};

const KEYS: [&str; 4] = ["Message", "Revises", "Created", "Transaction"];
const UPGRADE_MARKER: &str = "migrate:upgrade";
const DOWNGRADE_MARKER: &str = "migrate:downgrade";

/// Whether a revision runs in one transaction with its history row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum TransactionMode {
    /// The default: the revision and its history row commit together.
    #[default]
    Revision,
    /// `Transaction: none`: statements run one by one (for `CREATE INDEX CONCURRENTLY`).
    None,
}

/// A parsed dbmigrate header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// `Message:`.
    pub message: Option<String>,
    /// `Revises:`: no versions for a base, several for a merge.
    pub revises: Vec<i64>,
    /// 1-based line of `Revises:`.
    pub revises_line: u32,
    /// `Created:`, as written (RFC 3339).
    pub created: Option<String>,
    /// `Transaction:`.
    pub transaction: TransactionMode,
}

/// A part of a file (the upgrade or downgrade SQL), with the line it starts on for error messages.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// The text, byte for byte as in the file.
    pub text: String,
    /// 1-based line of the section's first line.
    pub first_line: u32,
}

impl Section {
    /// Whether the section holds no statement in any dialect: only whitespace, comments and
    /// semicolons.
    pub fn is_blank(&self) -> bool {
        Backend::ALL
            .iter()
            .all(|&backend| !crate::sql::has_statement(&self.text, backend))
    }
}

/// What [`parse_text`] finds in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedText {
    /// The header, if the file has one.
    pub header: Option<Header>,
    /// The upgrade section.
    pub upgrade: Section,
    /// The downgrade section, if marked.
    pub downgrade: Option<Section>,
}

/// Parses the header and sections of a revision file's text.
pub fn parse_text(
    path: &Path,
    text: &str,
    kind: RevisionKind,
) -> Result<ParsedText, RevisionError> {
    let comment = match kind {
        RevisionKind::Sql => "--",
        RevisionKind::Rust => "//!",
    };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let content = |i: usize| -> &str {
        let line = lines[i];
        let line = if i == 0 {
            line.trim_start_matches('\u{feff}')
        } else {
            line
        };
        line.trim()
    };

    let mut index = 0;
    while index < lines.len() && content(index).is_empty() {
        index += 1;
    }
    let header_start = index;
    while index < lines.len()
        && content(index).starts_with(comment)
        && marker(content(index)).is_none()
    {
        index += 1;
    }
    let header_lines = header_start..index;
    // A near miss counts too: `-- Revisess:` alone must be reported, not taken for a refinery comment.
    let is_header = header_lines.clone().any(|i| {
        key_value(&content(i)[comment.len()..])
            .is_some_and(|(key, _)| known_or_close(key).is_some())
    });
    let (header, body_start) = if is_header {
        (
            Some(parse_header(
                path,
                header_lines.map(|i| (i, &content(i)[comment.len()..])),
            )?),
            index,
        )
    } else {
        (None, 0)
    };

    if kind == RevisionKind::Rust {
        return Ok(ParsedText {
            header,
            upgrade: section(&lines, 0, lines.len()),
            downgrade: None,
        });
    }
    let (upgrade, downgrade) = split_sections(path, &lines, body_start, content)?;
    Ok(ParsedText {
        header,
        upgrade,
        downgrade,
    })
}

fn line_number(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

fn section(lines: &[&str], start: usize, end: usize) -> Section {
    Section {
        text: lines[start..end].concat(),
        first_line: line_number(start),
    }
}

/// The section a marker line opens. dbmate's `-- migrate:up` and `-- migrate:down` are taken as
/// aliases, so a dbmate file reads as its author meant it.
fn marker(content: &str) -> Option<&'static str> {
    let rest = content.strip_prefix("--")?.trim();
    [
        (UPGRADE_MARKER, UPGRADE_MARKER),
        (DOWNGRADE_MARKER, DOWNGRADE_MARKER),
        ("migrate:up", UPGRADE_MARKER),
        ("migrate:down", DOWNGRADE_MARKER),
    ]
    .into_iter()
    .find(|(spelling, _)| rest.eq_ignore_ascii_case(spelling))
    .map(|(_, marker)| marker)
}

/// What to write instead of a comment line that looks like a section marker but is not one
/// (`-- migrate: downgrade`, `-- migrate:upgarde`, dbmate's options, sql-migrate's and goose's
/// markers). A comment that merely starts with the word (`-- migrate the users`) is not one.
fn near_marker(content: &str) -> Option<String> {
    if marker(content).is_some() {
        return None;
    }
    let rest = content.strip_prefix("--")?.trim().to_ascii_lowercase();
    let upgrade = || format!("write `-- {UPGRADE_MARKER}` to start the upgrade section");
    let downgrade = || format!("write `-- {DOWNGRADE_MARKER}` to start the downgrade section");
    let either = || {
        format!(
            "write `-- {UPGRADE_MARKER}` or `-- {DOWNGRADE_MARKER}` exactly, on a line of its own"
        )
    };
    let direction = |words: &str| {
        let first = words
            .split(|c: char| !c.is_ascii_alphanumeric())
            .find(|w| !w.is_empty())
            .unwrap_or("");
        let close = |known: &str| strsim::damerau_levenshtein(first, known) <= 2;
        if first.starts_with("up") || close("upgrade") {
            Some(true)
        } else if first.starts_with("down") || close("downgrade") || first == "rollback" {
            Some(false)
        } else {
            None
        }
    };
    let advice = |up: Option<bool>| match up {
        Some(true) => upgrade(),
        Some(false) => downgrade(),
        None => either(),
    };
    // Other tools' markers: sql-migrate's `-- +migrate Up`, goose's `-- +goose Down`.
    if let Some(tool) = rest.strip_prefix('+') {
        let (name, words) = tool.split_once(char::is_whitespace).unwrap_or((tool, ""));
        if !matches!(name, "migrate" | "goose") {
            return None;
        }
        let words = words.trim();
        if words.starts_with("statementbegin") || words.starts_with("statementend") {
            return Some(
                "remove it: dbmigrate keeps a `BEGIN ... END` body whole, semicolons inside it included".into(),
            );
        }
        if words.contains("notransaction") || words.contains("no transaction") {
            return Some("write `-- Transaction: none` in the header instead".into());
        }
        return Some(advice(direction(words)));
    }
    let (key, value, colon) = match rest.split_once(':') {
        Some((key, value)) => (key.trim(), value.trim(), true),
        None => {
            let key_len = rest
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(rest.len());
            let (key, value) = rest.split_at(key_len);
            (
                key,
                value.trim_start_matches([' ', '\t', '-', '_', '=', '.']),
                false,
            )
        }
    };
    let looks_like_migrate = key.len() >= 5
        && !key.contains(char::is_whitespace)
        && strsim::damerau_levenshtein(key, "migrate") <= 2;
    if !looks_like_migrate {
        return None;
    }
    // Without a colon, only `migrate up` and the like: `-- migrate the users table` is prose.
    let up = direction(value);
    if !colon && up.is_none() {
        return None;
    }
    let mut advice = advice(up);
    // dbmate's options follow its marker: `-- migrate:up transaction:false`.
    if value.contains("transaction:false") {
        advice
            .push_str(", and `-- Transaction: none` in the header to run it outside a transaction");
    }
    Some(advice)
}

fn key_value(comment_text: &str) -> Option<(&str, &str)> {
    let (key, value) = comment_text.trim().split_once(':')?;
    let valid = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphabetic() || c == '-');
    valid.then(|| (key, value.trim()))
}

/// The known key `key` is, or is a typo of (two edits at most, for keys long enough to tell apart).
fn known_or_close(key: &str) -> Option<&'static str> {
    let key = key.to_ascii_lowercase();
    KEYS.iter().copied().find(|known| {
        let known = known.to_ascii_lowercase();
        known == key || (key.len() >= 5 && strsim::damerau_levenshtein(&known, &key) <= 2)
    })
}

fn parse_header<'a>(
    path: &Path,
    lines: impl Iterator<Item = (usize, &'a str)>,
) -> Result<Header, RevisionError> {
    let mut header = Header::default();
    let mut seen: Vec<&'static str> = Vec::new();
    for (index, text) in lines {
        let bad = |reason: String| RevisionError::BadHeader {
            location: Location::line(path, line_number(index)),
            reason,
        };
        let Some((key, value)) = key_value(text) else {
            continue;
        };
        let Some(known) = KEYS.iter().copied().find(|k| k.eq_ignore_ascii_case(key)) else {
            if let Some(close) = KEYS
                .iter()
                .find(|k| strsim::damerau_levenshtein(&k.to_lowercase(), &key.to_lowercase()) <= 2)
            {
                return Err(bad(format!(
                    "unknown header key `{key}`; did you mean `{close}`?"
                )));
            }
            // Free-form comment lines such as `-- Note: ...` are allowed in a header.
            continue;
        };
        if seen.contains(&known) {
            return Err(bad(format!("`{known}:` appears twice")));
        }
        seen.push(known);
        match known {
            "Message" => header.message = (!value.is_empty()).then(|| value.to_string()),
            "Revises" => {
                header.revises = parse_revises(value).map_err(bad)?;
                header.revises_line = line_number(index);
            }
            "Created" => {
                time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339).map_err(|_| {
                    bad(format!("`Created: {value}` is not an RFC 3339 time such as 2026-11-24T21:08:43Z"))
                })?;
                header.created = Some(value.to_string());
            }
            "Transaction" => {
                header.transaction = match value.to_ascii_lowercase().as_str() {
                    "none" => TransactionMode::None,
                    "revision" => TransactionMode::Revision,
                    _ => {
                        return Err(bad(format!(
                            "`Transaction: {value}` is not `none` or `revision`"
                        )));
                    }
                }
            }
            _ => unreachable!("every key in KEYS is handled"),
        }
    }
    if !seen.contains(&"Revises") {
        // Name the header's first line: that is where the missing line belongs.
        return Err(RevisionError::BadHeader {
            location: Location::line(path, 1),
            reason: "the header has no `Revises:` line (write `Revises:` with nothing after it for a first revision)".into(),
        });
    }
    Ok(header)
}

fn parse_revises(value: &str) -> Result<Vec<i64>, String> {
    if value.is_empty() || value.eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    let mut versions = Vec::new();
    for token in value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
    {
        let digits = token.strip_prefix(['V', 'U', 'v', 'u']).unwrap_or(token);
        let version = digits
            .parse::<i64>()
            .ok()
            .filter(|v| *v >= 0 && digits.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| format!("`Revises:` lists `{token}`, which is not a version number"))?;
        if versions.contains(&version) {
            return Err(format!("`Revises:` lists {version} twice"));
        }
        versions.push(version);
    }
    Ok(versions)
}

fn split_sections<'a>(
    path: &Path,
    lines: &[&'a str],
    body_start: usize,
    content: impl Fn(usize) -> &'a str,
) -> Result<(Section, Option<Section>), RevisionError> {
    // Anywhere in the file, header included: a near miss would silently leave the SQL below it in
    // the section above.
    if let Some((index, suggestion)) =
        (0..lines.len()).find_map(|i| near_marker(content(i)).map(|s| (i, s)))
    {
        return Err(RevisionError::BadSectionMarker {
            location: Location::line(path, line_number(index)),
            found: content(index).to_string(),
            suggestion,
        });
    }
    let mut upgrade_at = None;
    let mut downgrade_at = None;
    for index in body_start..lines.len() {
        let bad = |reason: &str| RevisionError::BadHeader {
            location: Location::line(path, line_number(index)),
            reason: reason.into(),
        };
        match marker(content(index)) {
            Some(UPGRADE_MARKER) if upgrade_at.is_some() => {
                return Err(bad("a second `-- migrate:upgrade` line"));
            }
            Some(DOWNGRADE_MARKER) if downgrade_at.is_some() => {
                return Err(bad("a second `-- migrate:downgrade` line"));
            }
            Some(UPGRADE_MARKER) if downgrade_at.is_some() => {
                return Err(bad(
                    "`-- migrate:upgrade` must come before `-- migrate:downgrade`",
                ));
            }
            Some(UPGRADE_MARKER) => upgrade_at = Some(index),
            Some(_) => downgrade_at = Some(index),
            None => {}
        }
    }
    let upgrade_start = match upgrade_at {
        Some(at) => {
            // Anything but comments between the header and the marker would silently never run.
            if let Some(stray) = (body_start..at).find(|&i| {
                let c = content(i);
                !c.is_empty() && !c.starts_with("--")
            }) {
                return Err(RevisionError::BadHeader {
                    location: Location::line(path, line_number(stray)),
                    reason:
                        "SQL before `-- migrate:upgrade` would never run; move it below that line"
                            .into(),
                });
            }
            at + 1
        }
        None => body_start,
    };
    let upgrade_end = downgrade_at.unwrap_or(lines.len());
    let downgrade = downgrade_at.map(|at| section(lines, at + 1, lines.len()));
    Ok((section(lines, upgrade_start, upgrade_end), downgrade))
}

#[cfg(test)]
#[path = "header_tests.rs"]
mod tests;
