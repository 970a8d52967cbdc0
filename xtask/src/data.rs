//! `cargo xtask data`: the data-step round-trip and backfill properties of the runtime's test suite,
//! run with many more cases on every backend, and what they covered written into RELIABILITY.md.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::report;

/// The backends, in the order the tables show them (the file names the tests write).
const BACKENDS: [(&str, &str); 3] = [
    ("sqlite", "SQLite"),
    ("postgres", "PostgreSQL"),
    ("mysql", "MySQL/MariaDB"),
];

/// Options of `cargo xtask data`.
#[derive(clap::Parser)]
pub struct Args {
    /// Random cases per property and backend (the test suite runs 16).
    #[arg(long, default_value_t = 256)]
    cases: u32,
    /// Seed of the random cases (printed, so a run can be repeated).
    #[arg(long)]
    seed: Option<u64>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let reports = target.join("data-report");
    let _ = std::fs::remove_dir_all(&reports);
    std::fs::create_dir_all(&reports)?;
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    eprintln!(
        "running the data properties with {} cases, seed {seed}",
        args.cases
    );
    let started = Instant::now();
    let status = Command::new(env!("CARGO"))
        .current_dir(root())
        .args([
            "test",
            "-p",
            "dbmigrate-runtime",
            "--all-features",
            "--test",
            "integration",
            "data::properties",
        ])
        .env("DBMIGRATE_DATA_REPORT", &reports)
        .env("DBMIGRATE_PROPTEST_CASES", args.cases.to_string())
        .env("DBMIGRATE_PROPTEST_SEED", seed.to_string())
        .status()
        .context("cannot start cargo test")?;
    if !status.success() {
        bail!("a data property failed (seed {seed}); its smallest failing case is printed above");
    }
    let read = |name: &str| -> anyhow::Result<Value> {
        let path = reports.join(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("the tests wrote no {}", path.display()))?;
        Ok(serde_json::from_str(&text)?)
    };
    let mut round_trips = Vec::new();
    let mut backfills = Vec::new();
    for (file, _) in BACKENDS {
        round_trips.push(read(&format!("{file}-round-trip.json"))?);
        backfills.push(read(&format!("{file}-backfill.json"))?);
    }
    let section = render(
        args.cases,
        seed,
        started.elapsed().as_secs_f64(),
        &round_trips,
        &backfills,
    );
    print!("{section}");
    report::replace_section(&root().join("RELIABILITY.md"), "data", &section)
}

fn number(value: &Value) -> u64 {
    value.as_u64().unwrap_or(0)
}

/// One cell of the round-trip table: the column type, the edge values grouped by what they did,
/// and how many random values went through.
fn round_trip_cell(report: &Value, kind_key: &str, kind: &str) -> String {
    let column_type = report["column_types"][kind].as_str().unwrap_or("?");
    let mut by_outcome: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(edges) = report["edges"][kind_key].as_object() {
        for (label, outcomes) in edges {
            for outcome in outcomes.as_array().into_iter().flatten() {
                let outcome = outcome.as_str().unwrap_or("?").to_string();
                by_outcome.entry(outcome).or_default().push(label.clone());
            }
        }
    }
    let mut parts = Vec::new();
    // Exact first, refusals last, documented changes between.
    let order = |outcome: &str| match outcome {
        "exact" => 0,
        "refused" => 2,
        _ => 1,
    };
    let mut outcomes: Vec<(&String, &Vec<String>)> = by_outcome.iter().collect();
    outcomes.sort_by_key(|(outcome, _)| order(outcome));
    for (outcome, labels) in outcomes {
        parts.push(format!("{outcome}: {}", labels.join(", ")));
    }
    let random = number(&report["random_values"][kind]);
    format!(
        "`{column_type}`; {}; {random} random values",
        parts.join("; ")
    )
}

fn render(
    cases: u32,
    seed: u64,
    seconds: f64,
    round_trips: &[Value],
    backfills: &[Value],
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Data steps (`cargo xtask data --cases {cases} --seed {seed}`; {:.0} s in all): on every backend, every \
         kind of `Value` was written through `bulk_insert` (COPY on PostgreSQL) and through `execute`, read back \
         with `fetch_all` and compared with the mapping the data module documents: each edge value alone, then \
         {cases} random cases of 1 to 8 rows mixing edge, random and NULL values. \"exact\" is equal as written \
         (floats bit for bit); \"refused\" is refused before anything was sent, naming the row and column (or \
         the parameter); anything else is the documented change.\n",
        seconds
    );
    let headers: Vec<&str> = BACKENDS.iter().map(|(_, name)| *name).collect();
    let _ = writeln!(out, "| kind | {} |", headers.join(" | "));
    let _ = writeln!(out, "| --- |{}", " --- |".repeat(BACKENDS.len()));
    let kinds: Vec<String> = round_trips[0]["edges"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    for kind_key in &kinds {
        // Keys are "NN Kind", numbered for the order of the mapping table.
        let kind = kind_key
            .split_once(' ')
            .map_or(kind_key.as_str(), |(_, k)| k);
        let cells: Vec<String> = round_trips
            .iter()
            .map(|report| round_trip_cell(report, kind_key, kind))
            .collect();
        let _ = writeln!(out, "| {kind} | {} |", cells.join(" | "));
    }
    let rows: Vec<String> = round_trips
        .iter()
        .zip(BACKENDS)
        .map(|(r, (_, name))| {
            format!(
                "{name}: {} cases, {} rows",
                number(&r["cases"]),
                number(&r["rows"])
            )
        })
        .collect();
    let _ = writeln!(out, "\nRandom round trips: {}.\n", rows.join("; "));
    let _ = writeln!(
        out,
        "Backfills: random tables keyed by each kind below, with NULL keys, duplicates, gaps and extremes, \
         with and without a filter, in batches of 1 to 8 rows; every run changed exactly the selected rows, once \
         each, and its report counted exactly those.\n"
    );
    let _ = writeln!(out, "| key | {} |", headers.join(" | "));
    let _ = writeln!(out, "| --- |{}", " --- |".repeat(BACKENDS.len()));
    let key_kinds: Vec<String> = backfills
        .iter()
        .flat_map(|b| {
            b["kinds"]
                .as_object()
                .into_iter()
                .flat_map(|o| o.keys().cloned())
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for key in key_kinds {
        let cells: Vec<String> = backfills
            .iter()
            .map(|b| {
                let k = &b["kinds"][&key];
                format!(
                    "`{}`: {} cases, {} rows, {} NULL keys, {} duplicate keys, {} filtered",
                    k["column_type"].as_str().unwrap_or("?"),
                    number(&k["cases"]),
                    number(&k["rows"]),
                    number(&k["null_keys"]),
                    number(&k["duplicate_keys"]),
                    number(&k["filtered_cases"]),
                )
            })
            .collect();
        let _ = writeln!(out, "| {key} | {} |", cells.join(" | "));
    }
    out
}
