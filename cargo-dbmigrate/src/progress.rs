//! What the online commands print while they run, on standard error: each revision as it starts
//! and ends, a connection being retried, a lock being waited for, and the progress of long data
//! steps: a progress bar on a terminal (rows, rate, and ETA when the total is known), plain lines
//! otherwise. `-q` silences it; `-v` adds every retry.

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::io::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dbmigrate_runtime::migrator::format_duration;
use dbmigrate_runtime::online::Event;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::render::{DIM, GOOD, paint};

/// How much is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// Nothing but results and errors (`-q`).
    Quiet,
    /// Revisions, the first connection retry, lock waits and progress.
    Normal,
    /// Every connection retry too (`-v`).
    Verbose,
}

/// Plain progress lines of one task are at most this frequent.
const PLAIN_EVERY: Duration = Duration::from_secs(1);

/// Renders events as they come; shared by the threads that report them.
pub struct Reporter {
    verbosity: Verbosity,
    terminal: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The bar of the task running, on a terminal.
    bar: Option<(String, ProgressBar)>,
    /// When each task last printed a plain line.
    printed: HashMap<(i64, String), Instant>,
    /// The latest plain line of each task not printed yet (too soon after the previous one); printed
    /// when its revision finishes, so the last count always shows.
    unprinted: Vec<((i64, String), String)>,
}

impl State {
    /// Prints the lines held back.
    fn flush(&mut self) {
        for (_, text) in std::mem::take(&mut self.unprinted) {
            line(self, &text);
        }
    }
}

impl Reporter {
    /// A reporter printing to standard error, with a bar when it is a terminal.
    pub fn new(verbosity: Verbosity) -> Self {
        Self::with_terminal(verbosity, std::io::stderr().is_terminal())
    }

    fn with_terminal(verbosity: Verbosity, terminal: bool) -> Self {
        Self {
            verbosity,
            terminal,
            state: Mutex::new(State::default()),
        }
    }

    /// Renders one event.
    pub fn event(&self, event: &Event) {
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        match event {
            Event::Progress {
                version,
                task,
                rows,
                total,
                elapsed_ms,
            } => {
                if self.terminal {
                    self.draw_bar(&mut state, *version, task, *rows, *total);
                } else {
                    let key = (*version, task.clone());
                    let text = progress_line(*version, task, *rows, *total, *elapsed_ms);
                    state.unprinted.retain(|(k, _)| *k != key);
                    let due = state
                        .printed
                        .get(&key)
                        .is_none_or(|last| last.elapsed() >= PLAIN_EVERY);
                    if due {
                        state.printed.insert(key, Instant::now());
                        line(&mut state, &text);
                    } else {
                        state.unprinted.push((key, text));
                    }
                }
            }
            Event::RevisionFinished { version, .. } => {
                if let Some((_, bar)) = state.bar.take() {
                    bar.finish_and_clear();
                }
                // Revisions committed together finish together: every held-back count belongs to
                // work already done, so all of them print before the first `applied` line.
                state.flush();
                state.printed.retain(|(v, _), _| v != version);
                line(&mut state, &describe(event));
            }
            Event::ConnectRetry { attempt, .. }
                if *attempt > 1 && self.verbosity != Verbosity::Verbose => {}
            _ => line(&mut state, &describe(event)),
        }
    }

    fn draw_bar(&self, state: &mut State, version: i64, task: &str, rows: u64, total: Option<u64>) {
        let label = format!("{version} {task}");
        let same = state.bar.as_ref().is_some_and(|(l, _)| *l == label);
        if !same {
            if let Some((_, bar)) = state.bar.take() {
                bar.finish_and_clear();
            }
            let bar = match total {
                Some(total) => {
                    ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
                        .with_style(bar_style(
                            "  {msg} [{bar:30}] {human_pos}/{human_len} rows, {per_sec}, ETA {eta}",
                        ))
                }
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
                    .with_style(bar_style(
                        "  {spinner} {msg}: {human_pos} rows, {per_sec}, {elapsed}",
                    )),
            };
            bar.set_message(label.clone());
            bar.enable_steady_tick(Duration::from_millis(120));
            state.bar = Some((label, bar));
        }
        if let Some((_, bar)) = &state.bar {
            if let Some(total) = total {
                bar.set_length(total);
            }
            bar.set_position(rows);
        }
    }

    /// Removes a bar still shown (a command that failed mid-task).
    pub fn finish(&self) {
        if let Ok(mut state) = self.state.lock() {
            if let Some((_, bar)) = state.bar.take() {
                bar.finish_and_clear();
            }
            state.flush();
        }
    }
}

fn bar_style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// Prints a line above the bar, if one is shown.
fn line(state: &mut State, text: &str) {
    let print = || {
        let mut stderr = anstream::stderr();
        let _ = writeln!(stderr, "{text}");
    };
    match &state.bar {
        Some((_, bar)) => bar.suspend(print),
        None => print(),
    }
}

fn progress_line(
    version: i64,
    task: &str,
    rows: u64,
    total: Option<u64>,
    elapsed_ms: u64,
) -> String {
    let rate = (rows * 1000)
        .checked_div(elapsed_ms)
        .map(|rate| format!(", {rate} rows/s"))
        .unwrap_or_default();
    let of = total.map(|t| format!(" of {t}")).unwrap_or_default();
    format!(
        "  {version} {task}: {rows}{of} rows in {}{rate}",
        format_duration(Duration::from_millis(elapsed_ms))
    )
}

/// An event as one line for people.
pub fn describe(event: &Event) -> String {
    match event {
        Event::ConnectRetry {
            attempt,
            error,
            retry_for_ms,
        } => format!(
            "{}: cannot connect to the database yet (attempt {attempt}): {error}; retrying for up to {} more \
             (--connect-timeout)",
            paint(DIM, "note"),
            format_duration(Duration::from_millis(*retry_for_ms))
        ),
        Event::LockWait { holder, timeout_ms } => format!(
            "{}: waiting for the migration lock{}, for up to {} (--lock-timeout)",
            paint(DIM, "note"),
            holder
                .as_ref()
                .map(|h| format!(", held by {h}"))
                .unwrap_or_default(),
            format_duration(Duration::from_millis(*timeout_ms))
        ),
        Event::RevisionStarted {
            version,
            name,
            kind,
            downgrade,
        } => format!(
            "{} {version} {name} ({kind})",
            if *downgrade { "reverting" } else { "applying" }
        ),
        Event::RevisionFinished {
            version,
            name,
            downgrade,
            duration_ms,
        } => format!(
            "{} {version} {name} in {}",
            paint(GOOD, if *downgrade { "reverted" } else { "applied" }),
            format_duration(Duration::from_millis(*duration_ms))
        ),
        Event::Progress {
            version,
            task,
            rows,
            total,
            elapsed_ms,
        } => progress_line(*version, task, *rows, *total, *elapsed_ms),
        // An event this CLI does not know comes from a newer runtime: shown as it is.
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_as_sentences() {
        let plain = |e: &Event| anstream::adapter::strip_str(&describe(e)).to_string();
        assert_eq!(
            plain(&Event::Progress {
                version: 2,
                task: "backfill items".into(),
                rows: 5000,
                total: None,
                elapsed_ms: 250
            }),
            "  2 backfill items: 5000 rows in 250 ms, 20000 rows/s"
        );
        assert_eq!(
            plain(&Event::ConnectRetry {
                attempt: 1,
                error: "Connection refused (os error 111)".into(),
                retry_for_ms: 2_900
            }),
            "note: cannot connect to the database yet (attempt 1): Connection refused (os error 111); retrying for up \
             to 2.90 s more (--connect-timeout)"
        );
    }
}
