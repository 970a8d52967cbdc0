//! The runner's side of the protocol: one [`Request`] read as JSON on standard input, then
//! [`RunnerMessage`]s written as JSON lines on standard output: events as they happen, and the
//! response last. A data step's own output cannot be mistaken for them: each message is one line
//! holding one object under the `dbmigrate-runner` key.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt as _;
use serde::{Deserialize, Serialize};

use super::{ErrorKind, ErrorReport, Event, Request, Response, execute};
use crate::embed::Embedded;

/// One line the runner writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunnerMessage {
    /// Something happened.
    Event(Event),
    /// The command ended; nothing follows.
    Response(Response),
}

#[derive(Serialize, Deserialize)]
struct Line {
    #[serde(rename = "dbmigrate-runner")]
    message: RunnerMessage,
}

impl RunnerMessage {
    /// The message as one line of JSON, with its newline.
    pub fn to_line(&self) -> String {
        let line = Line {
            message: self.clone(),
        };
        // Plain data with string keys: serialising it cannot fail.
        let mut text = serde_json::to_string(&line).unwrap_or_default();
        text.push('\n');
        text
    }

    /// The message a line holds, or `None` for any other line (what a data step printed).
    pub fn from_line(line: &str) -> Option<Self> {
        let line = line.trim_end();
        if !line.starts_with("{\"dbmigrate-runner\":") {
            return None;
        }
        serde_json::from_str::<Line>(line).ok().map(|l| l.message)
    }
}

fn send(message: &RunnerMessage) {
    let mut out = std::io::stdout().lock();
    // The CLI reading the other end went away: nobody is left to tell.
    let _ = out.write_all(message.to_line().as_bytes());
    let _ = out.flush();
}

/// The `main` of the runner `cargo dbmigrate` builds for projects with Rust revisions: reads the
/// request (JSON) from standard input, runs it with the embedded revisions, and writes events and the
/// response as JSON lines on standard output. It exits with 0 whenever it wrote a response; the CLI
/// chooses the exit code from the response.
///
/// The request holds the database URL, password included, so it never travels on the command line,
/// which every local user can read (`ps`, `/proc/<pid>/cmdline`).
pub async fn runner_main(embedded: &'static Embedded) -> ExitCode {
    let panicked = record_panics();
    let response = match read_request(std::io::stdin().lock()) {
        Err(message) => Response::Failed(ErrorReport::new(ErrorKind::Usage, message)),
        Ok(request) => match embedded.migrations() {
            Err(problems) => {
                Response::Failed(ErrorReport::new(ErrorKind::Revisions, problems.to_string()))
            }
            Ok(migrations) => {
                let events = Arc::new(|event: &Event| send(&RunnerMessage::Event(event.clone())));
                std::panic::AssertUnwindSafe(execute(&request, migrations, events))
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| Response::Failed(panic_report(&request, &panicked)))
            }
        },
    };
    send(&RunnerMessage::Response(response));
    ExitCode::SUCCESS
}

/// Keeps the message and place of the next panic, for the report; the usual panic output (a
/// backtrace note) is printed only when RUST_BACKTRACE asks for a backtrace.
fn record_panics() -> Arc<Mutex<Option<String>>> {
    let panicked = Arc::new(Mutex::new(None));
    let record = Arc::clone(&panicked);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into());
        // A revision's file is compiled by its absolute path; shown as the user's working
        // directory (the CLI's, which the runner shares) names it.
        let place = info
            .location()
            .map(|l| {
                let file = std::env::current_dir()
                    .ok()
                    .and_then(|cwd| {
                        std::path::Path::new(l.file())
                            .strip_prefix(cwd)
                            .ok()
                            .map(|p| p.display().to_string())
                    })
                    .unwrap_or_else(|| l.file().to_string());
                format!(" at {file}:{}:{}", l.line(), l.column())
            })
            .unwrap_or_default();
        if let Ok(mut slot) = record.lock() {
            slot.get_or_insert(format!("panicked{place}: {message}"));
        }
        if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
            previous(info);
        }
    }));
    panicked
}

fn panic_report(request: &Request, panicked: &Mutex<Option<String>>) -> ErrorReport {
    let what = panicked
        .lock()
        .ok()
        .and_then(|slot| slot.clone())
        .unwrap_or_else(|| "panicked".into());
    let mut report = ErrorReport::new(
        ErrorKind::OutcomeUnknown,
        format!(
            "a Rust data step {what}\n`{}` stopped there, so what it changed in the database is unknown here",
            request.command.name()
        ),
    );
    report.hints.push(
        "`cargo dbmigrate status` tells where the database stands: a revision that ran in a transaction was \
         rolled back with it, one cut short part-way is listed as unfinished; RUST_BACKTRACE=1 shows the backtrace"
            .into(),
    );
    report
}

/// Reads the runner's request: one JSON document, up to the end of `input`.
pub(super) fn read_request(mut input: impl std::io::Read) -> Result<Request, String> {
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .map_err(|error| format!("cannot read the request from standard input: {error}"))?;
    if text.trim().is_empty() {
        return Err(
            "the runner reads one JSON request on standard input; `cargo dbmigrate` writes it"
                .into(),
        );
    }
    serde_json::from_str(&text).map_err(|error| format!("the request is not valid: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::online::{Command, Options, RunDirection, RunKind, RunReport};

    #[test]
    fn an_empty_or_broken_request_is_refused_with_what_the_runner_expects() {
        let empty = read_request(&b""[..]).unwrap_err();
        assert!(empty.contains("standard input"), "{empty}");
        let broken = read_request(&b"{\"command\":"[..]).unwrap_err();
        assert!(broken.starts_with("the request is not valid"), "{broken}");
        let request = Request {
            command: Command::Repair,
            url: "sqlite::memory:".into(),
            options: Options::default(),
        };
        let text = serde_json::to_string(&request).unwrap();
        assert_eq!(read_request(text.as_bytes()).unwrap(), request);
    }

    #[test]
    fn messages_are_single_lines_and_other_lines_are_not_messages() {
        let response = RunnerMessage::Response(Response::Run(RunReport {
            direction: RunDirection::Upgrade,
            kind: RunKind::DryRun,
            steps: Vec::new(),
            removed: Vec::new(),
            elapsed_ms: 3,
            current: vec![2],
        }));
        let line = response.to_line();
        assert_eq!(line.matches('\n').count(), 1, "{line}");
        assert_eq!(RunnerMessage::from_line(&line), Some(response));
        assert_eq!(RunnerMessage::from_line("{\"event\": 1}"), None);
        assert_eq!(RunnerMessage::from_line("items done\n"), None);
    }
}
