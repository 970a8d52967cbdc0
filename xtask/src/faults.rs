//! The fault matrix at full size, for `cargo xtask stress`: the runtime's `fault_matrix` tests run
//! with a cut at every message of a clean run, both ways, on PostgreSQL and MariaDB, and each
//! backend's figures go into RELIABILITY.md.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// One backend's figures, as the test writes them.
#[derive(Debug, serde::Deserialize)]
struct Figures {
    backend: String,
    cuts: usize,
    client_messages: usize,
    server_messages: usize,
    found_committed: usize,
    violations: usize,
    seconds: f64,
    phases: BTreeMap<String, usize>,
}

/// Runs the full matrix and returns the RELIABILITY.md section.
pub fn run(root: &Path) -> anyhow::Result<String> {
    let report = tempfile::NamedTempFile::new()?;
    let status = Command::new(env!("CARGO"))
        .args([
            "test",
            "-p",
            "dbmigrate-runtime",
            "--all-features",
            "--test",
            "integration",
            "fault_matrix::every_cut",
            "--",
            "--nocapture",
        ])
        .env("DBMIGRATE_FAULT_MATRIX", "full")
        .env("DBMIGRATE_FAULT_MATRIX_REPORT", report.path())
        .current_dir(root)
        .status()
        .context("cannot start cargo test")?;
    let text = std::fs::read_to_string(report.path())?;
    let figures: Vec<Figures> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .context("reading the fault matrix's figures")?;
    if !status.success() || figures.iter().any(|f| f.violations > 0) || figures.len() != 2 {
        bail!(
            "the fault matrix failed (see the test output above); RELIABILITY.md was not updated"
        );
    }
    Ok(section(&figures))
}

fn section(figures: &[Figures]) -> String {
    let mut text = String::from(
        "Fault matrix (`cargo xtask stress`, the runtime's `fault_matrix` tests with `DBMIGRATE_FAULT_MATRIX=full`): \
         a proxy cuts the connection after each message the client sends and before each message the server \
         sends, one cut per run, over a run of six revisions that takes every path; after each cut the history must \
         match the effects, the error must say what committed, the lock must be free, and a rerun must reach head.\n\n",
    );
    let _ = writeln!(
        text,
        "| backend | cuts | messages of a clean run (client, server) | runs that found, after the cut, that a revision had committed | where the cuts stopped the run (cuts) | violations | time |"
    );
    let _ = writeln!(text, "| --- | --- | --- | --- | --- | --- | --- |");
    for f in figures {
        let phases: Vec<String> = f
            .phases
            .iter()
            .map(|(phase, count)| format!("{phase}: {count}"))
            .collect();
        let _ = writeln!(
            text,
            "| {} | {} | {}, {} | {} | {} | {} | {:.0} s |",
            f.backend,
            f.cuts,
            f.client_messages,
            f.server_messages,
            f.found_committed,
            phases.join("; "),
            f.violations,
            f.seconds,
        );
    }
    let _ = writeln!(
        text,
        "\nSQLite has no connection to cut; its faults (an `OR ROLLBACK` conflict, `RAISE(ROLLBACK)`, a full database, \
         at every position of a savepoint group) are in the suite's `lost_transaction` tests."
    );
    text
}
