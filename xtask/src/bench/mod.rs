//! `cargo xtask bench`: workloads timed side by side with peers and with the limit (the least work possible).

mod check;
mod measure;

use clap::{Parser, ValueEnum};

/// Which workloads to run.
#[derive(Parser)]
pub struct Args {
    /// Workloads to run (all when none is given).
    #[arg(value_enum)]
    workloads: Vec<Workload>,
    /// Rounds per contender after one warm-up round.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Revisions in the generated directory for `check`.
    #[arg(long, default_value_t = 10_000)]
    revisions: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Workload {
    /// `cargo dbmigrate check` on a large generated revision directory.
    Check,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let all = args.workloads.is_empty();
    if all || args.workloads.contains(&Workload::Check) {
        check::run(args.revisions, args.rounds)?;
    }
    Ok(())
}
