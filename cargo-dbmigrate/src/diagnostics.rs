//! Problems in a revision directory as data (code, severity, file, line, message, help), and their
//! three renderings: compiler-style for people, JSON for programs, and GitHub workflow annotations.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use dbmigrate_runtime::{Backend, RevisionError};
use serde::Serialize;

use crate::render::{ERROR, HELP, LOCATION, WARNING, paint};

/// How serious a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The revisions cannot be used: `check` fails, the build fails, startup refuses.
    Error,
    /// Worth knowing, but no reason to refuse the revisions.
    Warning,
}

/// One problem, ready to render. The JSON output is an array of these, fields in this order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// A stable identifier such as `missing-parent`.
    pub code: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// The file the problem is reported at, with `/` separators.
    pub file: Option<String>,
    /// The 1-based line, when the problem is on one.
    pub line: Option<u32>,
    /// What is wrong, without the location (which has its own fields).
    pub message: String,
    /// What to do about it.
    pub help: String,
}

impl Diagnostic {
    /// Converts a problem found by the runtime.
    pub fn from_problem(problem: &RevisionError) -> Self {
        let location = problem.location();
        let full = problem.to_string();
        // The runtime's messages start with their location, for logs that have nothing else; here the
        // location has fields of its own, so it is taken off the message.
        let message = location
            .as_ref()
            .and_then(|l| full.strip_prefix(&format!("{l}: ")))
            .map_or_else(|| full.clone(), str::to_string);
        Self {
            code: problem.code(),
            severity: if problem.is_warning() {
                Severity::Warning
            } else {
                Severity::Error
            },
            file: location.as_ref().map(|l| slash_path(&l.path)),
            line: location.and_then(|l| l.line),
            message,
            help: problem.help(),
        }
    }
}

fn slash_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    if std::path::MAIN_SEPARATOR == '/' {
        text.into_owned()
    } else {
        text.replace(std::path::MAIN_SEPARATOR, "/")
    }
}

/// Compiler-style text: the problem, where it is (with the offending line when there is one), and
/// what to do. Source lines are read back from the files, each file at most once.
pub fn human(diagnostics: &[Diagnostic]) -> String {
    let mut sources: HashMap<&str, Option<Vec<String>>> = HashMap::new();
    let mut text = String::new();
    for diagnostic in diagnostics {
        let (label, style) = match diagnostic.severity {
            Severity::Error => ("error", ERROR),
            Severity::Warning => ("warning", WARNING),
        };
        let _ = writeln!(
            text,
            "{}: {}",
            paint(style, format!("{label}[{}]", diagnostic.code)),
            diagnostic.message
        );
        let gutter = diagnostic.line.map_or(1, |l| l.to_string().len());
        let pad = " ".repeat(gutter);
        if let Some(file) = &diagnostic.file {
            let location = match diagnostic.line {
                Some(line) => format!("{file}:{line}"),
                None => file.clone(),
            };
            let _ = writeln!(text, "{pad}{} {location}", paint(LOCATION, "-->"));
            let source = diagnostic.line.and_then(|line| {
                let lines = sources
                    .entry(file)
                    .or_insert_with(|| read_lines(Path::new(file)));
                lines
                    .as_ref()?
                    .get(usize::try_from(line).ok()?.checked_sub(1)?)
                    .cloned()
            });
            if let (Some(line), Some(source)) = (diagnostic.line, source) {
                let bar = paint(LOCATION, "|");
                let _ = writeln!(text, "{pad} {bar}");
                let separator = if source.is_empty() { "" } else { " " };
                let _ = writeln!(text, "{} {bar}{separator}{source}", paint(LOCATION, line));
                let _ = writeln!(text, "{pad} {bar}");
            }
        }
        let _ = writeln!(
            text,
            "{pad} {} {}: {}\n",
            paint(LOCATION, "="),
            paint(HELP, "help"),
            diagnostic.help
        );
    }
    text
}

/// The file's lines for quoting, with line endings, a leading byte-order mark and very long tails
/// removed; `None` when the file cannot be read (it may be the problem itself).
fn read_lines(path: &Path) -> Option<Vec<String>> {
    const LONGEST: usize = 120;
    let bytes = std::fs::read(path).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    Some(
        text.trim_start_matches('\u{feff}')
            .split('\n')
            .map(|line| {
                let line = line.trim_end_matches('\r');
                match line.char_indices().nth(LONGEST) {
                    Some((cut, _)) => format!("{}...", &line[..cut]),
                    None => line.to_string(),
                }
            })
            .collect(),
    )
}

/// The summary line after the human listing; it names the dialects the SQL was read in unless
/// it was read in all three.
pub fn summary(
    diagnostics: &[Diagnostic],
    revisions: usize,
    dir: &Path,
    backends: &[Backend],
) -> String {
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    let counted = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let mut place = format!("{} in {}", counted(revisions, "revision"), dir.display());
    if backends.len() < Backend::ALL.len() {
        let names: Vec<String> = backends.iter().map(ToString::to_string).collect();
        let _ = write!(place, " read as {}", names.join(" and "));
    }
    if errors > 0 {
        let mut found = counted(errors, "error");
        if warnings > 0 {
            let _ = write!(found, " and {}", counted(warnings, "warning"));
        }
        format!("{}: {found} ({place})", paint(ERROR, "check failed"))
    } else if warnings > 0 {
        format!(
            "{}: {place}, {}",
            paint(crate::render::GOOD, "ok"),
            counted(warnings, "warning")
        )
    } else {
        format!("{}: {place}, no problems", paint(crate::render::GOOD, "ok"))
    }
}

/// A JSON array of the diagnostics, pretty-printed, with a final newline.
pub fn json(diagnostics: &[Diagnostic]) -> String {
    let mut text = serde_json::to_string_pretty(diagnostics).unwrap_or_else(|_| "[]".into());
    text.push('\n');
    text
}

/// One GitHub Actions workflow command per diagnostic, so problems show up on the pull request's
/// files. Escaping follows the runner's rules: `%`, CR and LF everywhere, plus `:` and `,` in properties.
pub fn github(diagnostics: &[Diagnostic]) -> String {
    let mut text = String::new();
    for diagnostic in diagnostics {
        let command = match diagnostic.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut properties = Vec::new();
        if let Some(file) = &diagnostic.file {
            properties.push(format!("file={}", escape_property(file)));
        }
        if let Some(line) = diagnostic.line {
            properties.push(format!("line={line}"));
        }
        properties.push(format!(
            "title={}",
            escape_property(&format!("dbmigrate {}", diagnostic.code))
        ));
        let message = format!("{}\nhelp: {}", diagnostic.message, diagnostic.help);
        let _ = writeln!(
            text,
            "::{command} {}::{}",
            properties.join(","),
            escape_data(&message)
        );
    }
    text
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use dbmigrate_runtime::Location;

    use super::*;

    fn missing_parent() -> RevisionError {
        RevisionError::MissingParent {
            location: Location::line("m/V3__c.sql", 2),
            version: 3,
            parent: 7,
        }
    }

    #[test]
    fn the_location_is_taken_off_the_message() {
        let diagnostic = Diagnostic::from_problem(&missing_parent());
        assert_eq!(
            diagnostic.message,
            "revision 3 revises 7, but no file defines version 7"
        );
        assert_eq!(
            (diagnostic.file.as_deref(), diagnostic.line),
            (Some("m/V3__c.sql"), Some(2))
        );
        assert_eq!(diagnostic.severity, Severity::Error);
    }

    #[test]
    fn github_annotations_escape_per_the_runner_rules() {
        assert_eq!(escape_data("100%\r\nnext"), "100%25%0D%0Anext");
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
        let text = github(&[Diagnostic::from_problem(&missing_parent())]);
        assert_eq!(
            text,
            "::error file=m/V3__c.sql,line=2,title=dbmigrate missing-parent::revision 3 revises 7, but no file \
             defines version 7%0Ahelp: restore the file for version 7, or change the `Revises:` line to an existing version\n"
        );
    }

    #[test]
    fn json_has_the_documented_fields_in_order() {
        let text = json(&[Diagnostic::from_problem(&missing_parent())]);
        let keys: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().split('"').nth(1))
            .collect();
        assert_eq!(
            keys,
            ["code", "severity", "file", "line", "message", "help"]
        );
    }
}
