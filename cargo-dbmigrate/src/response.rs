//! The online commands' responses as people read them (text) and programs read them (JSON), and
//! errors as a JSON object under `--format json`.

use std::fmt::Write as _;

use dbmigrate_runtime::RevisionGraph;
use dbmigrate_runtime::migrator::format_duration;
use dbmigrate_runtime::online::{
    CurrentReport, Response, RunDirection, RunKind, RunReport, StatusReport,
};
use serde::Serialize;

use crate::error::Error;
use crate::exit::{self, Exit};
use crate::render::Output;

/// Writes a successful response to `output`, as text or JSON; `status --check` exits with
/// [`Exit::NotAtHead`] unless the database is at head.
pub fn print(
    response: &Response,
    json: bool,
    check: bool,
    graph: &RevisionGraph,
    output: &mut Output,
) -> Result<Exit, Error> {
    match response {
        Response::Failed(report) => return Err(Error::Online(report.clone())),
        Response::Run(report) if json => output.json(report),
        Response::Run(report) => output.line(run_text(report)),
        Response::Status(status) if json => output.json(status),
        Response::Status(status) => output.line(status_text(status)),
        Response::Current(current) if json => output.json(current),
        Response::Current(current) => output.out.push_str(&current_text(current, graph)),
        Response::Repaired { versions } if json => {
            output.json(&serde_json::json!({ "repaired": versions }))
        }
        Response::Repaired { versions } => output.line(repaired_text(versions)),
        // A response this CLI does not know comes from a runtime newer than it.
        _ => output.json(response),
    }
    Ok(match response {
        Response::Status(status) if check && !status.at_head => Exit::NotAtHead,
        _ => Exit::Success,
    })
}

fn versions(list: &[i64]) -> String {
    if list.is_empty() {
        return "base".into();
    }
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn ms(millis: u64) -> String {
    format_duration(std::time::Duration::from_millis(millis))
}

/// `applied 2 revisions in 12 ms:` and one line per revision.
pub fn run_text(report: &RunReport) -> String {
    let current = versions(&report.current);
    let mut text = String::new();
    if let (RunKind::MarkedApplied | RunKind::MarkedReverted, Some(step)) =
        (report.kind, report.steps.first())
    {
        let how = if report.kind == RunKind::MarkedApplied {
            "as applied"
        } else {
            "as not applied: the next `cargo dbmigrate upgrade` runs it again"
        };
        return format!(
            "recorded revision {} ({}) {how}; database is now at {current}",
            step.version, step.name
        );
    }
    if report.steps.is_empty() {
        return match (report.direction, report.kind) {
            (RunDirection::Upgrade, RunKind::DryRun) => {
                format!("database is up to date at {current}; nothing would be applied (dry run)")
            }
            (RunDirection::Upgrade, _) => {
                format!("database is up to date at {current}; nothing to apply")
            }
            (RunDirection::Downgrade, RunKind::DryRun) => {
                format!("database is already at {current}; nothing would be reverted (dry run)")
            }
            (RunDirection::Downgrade, _) => {
                format!("database is already at {current}; nothing to revert")
            }
        };
    }
    let verb = match (report.kind, report.direction) {
        (RunKind::Applied, RunDirection::Upgrade) => "applied",
        (RunKind::Applied, RunDirection::Downgrade) => "reverted",
        (RunKind::DryRun, RunDirection::Upgrade) => "would apply",
        (RunKind::DryRun, RunDirection::Downgrade) => "would revert",
        (RunKind::Stamped, RunDirection::Upgrade) => "stamped as applied",
        (RunKind::Stamped, RunDirection::Downgrade) => "stamped as not applied",
        (RunKind::MarkedApplied, _) => "recorded as applied",
        (RunKind::MarkedReverted, _) => "recorded as not applied",
    };
    let count = report.steps.len();
    let plural = if count == 1 { "revision" } else { "revisions" };
    let _ = write!(text, "{verb} {count} {plural}");
    if report.kind == RunKind::Applied {
        let _ = write!(text, " in {}", ms(report.elapsed_ms));
    }
    text.push_str(":\n");
    for step in &report.steps {
        let _ = write!(text, "  {} {} ({}", step.version, step.name, step.kind);
        if report.kind == RunKind::Applied {
            let _ = write!(text, ", {}", ms(step.duration_ms));
        }
        text.push_str(")\n");
    }
    for step in &report.removed {
        let _ = writeln!(
            text,
            "  {} {} ({}, stamped as not applied)",
            step.version, step.name, step.kind
        );
    }
    if report.kind == RunKind::DryRun {
        text.push_str("nothing was changed (dry run)");
    } else {
        let _ = write!(text, "database is now at {current}");
    }
    text
}

/// The status of a database: where it is, what is pending, what is wrong, and what to do.
pub fn status_text(status: &StatusReport) -> String {
    let mut f = String::new();
    let _ = writeln!(
        f,
        "database: {} (history table `{}`)",
        status.backend, status.table
    );
    if !status.initialized {
        f.push_str("the history table does not exist yet: nothing is applied\n");
    }
    let _ = writeln!(f, "current:  {}", versions(&status.current));
    let _ = writeln!(f, "head:     {}", versions(&status.heads));
    let _ = writeln!(f, "applied:  {} revision(s)", status.applied.len());
    if status.pending.is_empty() {
        f.push_str("pending:  none\n");
    } else {
        let _ = writeln!(f, "pending:  {} revision(s)", status.pending.len());
        for pending in &status.pending {
            let _ = writeln!(
                f,
                "  {} {} ({})",
                pending.version, pending.name, pending.kind
            );
        }
    }
    let p = &status.problems;
    for row in &p.bad_rows {
        let _ = writeln!(f, "unreadable row {}: {}", row.version, row.reason);
    }
    for d in &p.divergent {
        let why = if d.line_endings_only {
            "differs only in line endings; `cargo dbmigrate repair` records the new checksum"
        } else {
            "changed since it was applied; restore it and put the change in a new revision"
        };
        let _ = writeln!(f, "divergent: {} ({}) {why}", d.version, d.path.display());
    }
    for row in &p.missing_files {
        let _ = writeln!(
            f,
            "missing:  {} (`{}`) is applied but has no file",
            row.version,
            row.name.as_deref().unwrap_or("NULL")
        );
    }
    for version in &p.out_of_order {
        let _ = writeln!(
            f,
            "out of order: {version} is not applied but later versions are"
        );
    }
    for state in &p.unfinished {
        let _ = writeln!(f, "unfinished: {}", state.advice);
    }
    for version in &p.rows_deleted {
        let _ = writeln!(
            f,
            "row deleted: {version} was applied, but its history row is gone"
        );
    }
    f.push_str(if status.at_head {
        "the database is at head"
    } else if status.upgrade_refused {
        "`cargo dbmigrate upgrade` refuses to run until the problems above are settled, each as its line says"
    } else if status.pending.is_empty() {
        "the database has every revision, but see the problems above"
    } else {
        "run `cargo dbmigrate upgrade` to apply the pending revisions"
    });
    f
}

/// One line per current revision, with its name and whether it is a head.
pub fn current_text(current: &CurrentReport, graph: &RevisionGraph) -> String {
    if current.current.is_empty() {
        return "base (nothing applied)\n".into();
    }
    current
        .current
        .iter()
        .map(|v| {
            let name = graph.get(*v).map(|r| r.name.as_str()).unwrap_or("");
            let head = if current.heads.contains(v) {
                " (head)"
            } else {
                ""
            };
            format!("{v} {name}{head}\n")
        })
        .collect()
}

fn repaired_text(repaired: &[i64]) -> String {
    if repaired.is_empty() {
        return "no revision differs from what was applied only in its line endings; nothing to repair"
            .into();
    }
    let list: Vec<String> = repaired.iter().map(ToString::to_string).collect();
    format!(
        "recorded the current checksum of {} revision(s) whose files differ from what was applied only in line endings: {}",
        repaired.len(),
        list.join(", ")
    )
}

/// An error as `--format json` prints it, on standard output where the result would have been.
#[derive(Debug, Serialize)]
pub struct JsonError {
    /// The exit code.
    pub code: u8,
    /// The exit code's name, or the runtime's finer kind (`connect`).
    pub kind: String,
    /// What happened.
    pub message: String,
    /// What to do, one sentence each.
    pub hints: Vec<String>,
}

impl JsonError {
    /// The JSON report of `error`.
    pub fn of(error: &Error) -> Self {
        let code = exit::for_error(error);
        let kind = match error {
            Error::Online(report) => serde_json::to_value(report.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| code.name().to_string()),
            _ => code.name().to_string(),
        };
        let mut message = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            let _ = write!(message, ": {cause}");
            source = cause.source();
        }
        Self {
            code: code.code(),
            kind,
            message,
            hints: error.hints(),
        }
    }
}
