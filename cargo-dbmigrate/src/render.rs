//! Terminal output: colours (`--color`, NO_COLOR), the output buffers commands write to, and the
//! report printed for a failed command.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Effects, Style};

use crate::cli::ColorWhen;
use crate::error::Error;

/// Errors, and `error` in diagnostics.
pub const ERROR: Style = AnsiColor::BrightRed.on_default().effects(Effects::BOLD);
/// Warnings.
pub const WARNING: Style = AnsiColor::BrightYellow.on_default().effects(Effects::BOLD);
/// `help:` lines.
pub const HELP: Style = AnsiColor::BrightCyan.on_default().effects(Effects::BOLD);
/// File locations and gutters.
pub const LOCATION: Style = AnsiColor::BrightBlue.on_default().effects(Effects::BOLD);
/// Success lines and head markers.
pub const GOOD: Style = AnsiColor::BrightGreen.on_default().effects(Effects::BOLD);
/// Versions in listings.
pub const VERSION: Style = AnsiColor::Yellow.on_default();
/// Less important text (paths in listings).
pub const DIM: Style = Style::new().effects(Effects::DIMMED);

/// Help colours matching cargo's own.
pub const CLAP_STYLES: clap::builder::Styles = clap::builder::Styles::styled()
    .header(GOOD)
    .usage(GOOD)
    .literal(AnsiColor::BrightCyan.on_default().effects(Effects::BOLD))
    .placeholder(AnsiColor::Cyan.on_default())
    .error(ERROR)
    .valid(AnsiColor::BrightCyan.on_default().effects(Effects::BOLD))
    .invalid(WARNING);

/// `text` in `style`; the escape codes are stripped on output when colour is off.
pub fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

/// Applies `--color` to everything printed afterwards. `auto` leaves the decision to the terminal
/// and the environment (NO_COLOR, CLICOLOR_FORCE); an explicit `always` wins over NO_COLOR.
pub fn set_color(when: ColorWhen) {
    let choice = match when {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    };
    choice.write_global();
}

/// What a command prints: results for stdout, notes and warnings for stderr. Commands write here
/// rather than to the streams so they stay testable and so a closed pipe (`| head`) cannot panic them.
#[derive(Debug, Default)]
pub struct Output {
    /// Results.
    pub out: String,
    /// Warnings and notes.
    pub err: String,
}

impl Output {
    /// Adds a line to stdout.
    pub fn line(&mut self, text: impl std::fmt::Display) {
        let _ = writeln!(self.out, "{text}");
    }

    /// Adds a JSON document to stdout, pretty-printed, with a final newline.
    pub fn json(&mut self, value: &impl serde::Serialize) {
        // Serialising plain data structs with string keys cannot fail.
        let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
        let _ = writeln!(self.out, "{text}");
    }

    /// Adds a line to stderr: a note for people, kept out of the results.
    pub fn note(&mut self, text: impl std::fmt::Display) {
        let _ = writeln!(self.err, "{text}");
    }

    /// Adds a `warning:` line to stderr.
    pub fn warn(&mut self, text: impl std::fmt::Display) {
        let _ = writeln!(self.err, "{}: {text}", paint(WARNING, "warning"));
    }

    /// Prints both buffers, stderr first; the codes are stripped when colour is off.
    pub fn flush(self) {
        write_to(&mut anstream::stderr(), &self.err);
        write_to(&mut anstream::stdout(), &self.out);
    }
}

fn write_to(stream: &mut impl std::io::Write, text: &str) {
    // A reader that went away (`cargo dbmigrate history | head`) is not an error worth reporting.
    let _ = stream.write_all(text.as_bytes());
    let _ = stream.flush();
}

/// The report for a failed command: `error: ...`, the causes, and what to do.
pub fn error_report(error: &Error) -> String {
    let mut text = format!("{}: {error}\n", paint(ERROR, "error"));
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let _ = writeln!(text, "  {}: {cause}", paint(DIM, "caused by"));
        source = cause.source();
    }
    for hint in error.hints() {
        let _ = writeln!(text, "{}: {hint}", paint(HELP, "help"));
    }
    text
}

/// Prints [`error_report`] to stderr.
pub fn report_error(error: &Error) {
    write_to(&mut anstream::stderr(), &error_report(error));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_names_the_cause_and_what_to_do() {
        let error = Error::io("write", "migrations/V1__a.sql")(std::io::Error::other("disk full"));
        let report = anstream::adapter::strip_str(&error_report(&error)).to_string();
        assert_eq!(
            report,
            "error: cannot write migrations/V1__a.sql\n  caused by: disk full\n"
        );
        let report = anstream::adapter::strip_str(&error_report(&Error::MultipleHeads {
            heads: vec![3, 4],
        }))
        .to_string();
        assert!(
            report.contains("help: join the heads first with `cargo dbmigrate merge`"),
            "{report}"
        );
    }
}
