//! Project automation behind `cargo xtask`: `ci` runs what CI runs, `test` runs the test suite with
//! the topologies it needs, `bench` measures against peers and limits, `fuzz` fuzzes the revision
//! parser, `stress` races and kills replicas, `data` runs the data-step properties at full size.

mod bench;
mod ci;
mod data;
mod deps;
mod faults;
mod fuzz;
mod report;
mod stress;
mod test;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Project automation for cargo-dbmigrate.
#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Xtask {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Run exactly what CI runs: formatting, lints and the whole test suite.
    Ci,
    /// Install what the test topologies need, start them, and run the whole test suite.
    Test,
    /// Fail on a dependency that nothing uses.
    Deps,
    /// Run benchmarks side by side with peers and with the limit, and print medians and ratios.
    Bench(bench::Args),
    /// Fuzz the revision parser and graph (cargo-fuzz) and record the run in RELIABILITY.md.
    Fuzz(fuzz::Args),
    /// Race replicas and kill them at random points on every backend; record the figures in RELIABILITY.md.
    Stress(stress::Args),
    /// Run the data-step round-trip and backfill properties with many cases on every backend; record
    /// the kinds and edge values covered in RELIABILITY.md.
    Data(data::Args),
}

fn main() -> ExitCode {
    let result = match Xtask::parse().task {
        Task::Ci => ci::run(),
        Task::Test => test::run(),
        Task::Deps => deps::run(),
        Task::Bench(args) => bench::run(&args),
        Task::Fuzz(args) => fuzz::run(&args),
        Task::Stress(args) => stress::run(&args),
        Task::Data(args) => data::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
