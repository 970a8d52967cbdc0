//! `cargo xtask bench`: workloads timed side by side with the peers users would pick instead and with
//! the limit (the least work possible), with the results written to BENCHMARKS.md.

mod alembic;
mod backfill;
mod bulk_insert;
mod check;
mod corpus;
mod databases;
mod environment;
mod fresh_to_head;
mod measure;
mod noop_startup;
mod runner_build;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use clap::{Parser, ValueEnum};

use self::alembic::Alembic;
use self::databases::{Server, require_client};
use self::measure::Table;

/// Which workloads to run, at which sizes.
#[derive(Parser)]
pub struct Args {
    /// Workloads to run (all when none is given).
    #[arg(value_enum)]
    workloads: Vec<Workload>,
    /// Backends for the workloads that run on several (all when none is given).
    #[arg(long = "backend", value_enum)]
    backends: Vec<Server>,
    /// Small sizes and 3 rounds, for a whole run in a few minutes (not written to BENCHMARKS.md).
    #[arg(long)]
    quick: bool,
    /// Run only the contenders whose name contains this text (to profile one, or, repeated, to
    /// compare a few over more rounds); not written to BENCHMARKS.md.
    #[arg(long)]
    only: Vec<String>,
    /// Rounds per contender after one warm-up round [default: 5].
    #[arg(long)]
    rounds: Option<usize>,
    /// Revisions already applied for the no-op startup [default: 500].
    #[arg(long)]
    startup_revisions: Option<usize>,
    /// Revisions applied to a fresh database [default: 1000].
    #[arg(long)]
    revisions: Option<usize>,
    /// Revisions in the directory `check` reads [default: 10000].
    #[arg(long)]
    check_revisions: Option<usize>,
    /// Rows the bulk insert writes and the backfill updates [default: 1000000].
    #[arg(long)]
    rows: Option<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum Workload {
    /// 1. Startup with nothing pending, on PostgreSQL.
    NoopStartup,
    /// 2. A fresh database to head, on every backend.
    FreshToHead,
    /// 3. A Rust data step's bulk insert, on PostgreSQL and SQLite.
    BulkInsert,
    /// 4. A batched backfill against one UPDATE, on PostgreSQL and SQLite.
    Backfill,
    /// 5. `cargo dbmigrate check` on a large directory.
    Check,
    /// 6. The first CLI run of a Rust revision after `cargo build` of the package.
    RunnerBuild,
}

impl Workload {
    const ALL: [Workload; 6] = [
        Workload::NoopStartup,
        Workload::FreshToHead,
        Workload::BulkInsert,
        Workload::Backfill,
        Workload::Check,
        Workload::RunnerBuild,
    ];

    fn section(self) -> &'static str {
        match self {
            Workload::NoopStartup => "bench-noop-startup",
            Workload::FreshToHead => "bench-fresh-to-head",
            Workload::BulkInsert => "bench-bulk-insert",
            Workload::Backfill => "bench-backfill",
            Workload::Check => "bench-check",
            Workload::RunnerBuild => "bench-runner-build",
        }
    }

    fn heading(self) -> &'static str {
        match self {
            Workload::NoopStartup => "1. No-op startup",
            Workload::FreshToHead => "2. Fresh database to head",
            Workload::BulkInsert => "3. Data step, bulk insert",
            Workload::Backfill => "4. Backfill",
            Workload::Check => "5. check on a large directory",
            Workload::RunnerBuild => "6. First run of a Rust revision",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Workload::NoopStartup => noop_startup::DESCRIPTION,
            Workload::FreshToHead => fresh_to_head::DESCRIPTION,
            Workload::BulkInsert => bulk_insert::DESCRIPTION,
            Workload::Backfill => backfill::DESCRIPTION,
            Workload::Check => check::DESCRIPTION,
            Workload::RunnerBuild => runner_build::DESCRIPTION,
        }
    }

    fn name(self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }
}

/// The sizes a run uses.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Sizes {
    rounds: usize,
    startup_revisions: usize,
    revisions: usize,
    check_revisions: usize,
    rows: u64,
}

/// The sizes the issue names; only runs at these sizes are written to BENCHMARKS.md.
const PUBLISHED: Sizes = Sizes {
    rounds: 5,
    startup_revisions: 500,
    revisions: 1000,
    check_revisions: 10_000,
    rows: 1_000_000,
};

const QUICK: Sizes = Sizes {
    rounds: 3,
    startup_revisions: 100,
    revisions: 100,
    check_revisions: 1000,
    rows: 50_000,
};

impl Args {
    fn sizes(&self) -> Sizes {
        let base = if self.quick { QUICK } else { PUBLISHED };
        Sizes {
            rounds: self.rounds.unwrap_or(base.rounds),
            startup_revisions: self.startup_revisions.unwrap_or(base.startup_revisions),
            revisions: self.revisions.unwrap_or(base.revisions),
            check_revisions: self.check_revisions.unwrap_or(base.check_revisions),
            rows: self.rows.unwrap_or(base.rows),
        }
    }

    fn workloads(&self) -> Vec<Workload> {
        Workload::ALL
            .into_iter()
            .filter(|w| self.workloads.is_empty() || self.workloads.contains(w))
            .collect()
    }

    fn servers(&self, supported: &[Server]) -> Vec<Server> {
        supported
            .iter()
            .copied()
            .filter(|s| self.backends.is_empty() || self.backends.contains(s))
            .collect()
    }

    /// Whether the run is at the issue's sizes on every backend (fewer rounds are allowed, down to 3).
    fn publishable(&self) -> bool {
        let sizes = self.sizes();
        Sizes {
            rounds: PUBLISHED.rounds,
            ..sizes
        } == PUBLISHED
            && sizes.rounds >= 3
            && self.backends.is_empty()
            && self.only.is_empty()
    }

    /// The command line that reproduces this run.
    fn command_line(&self) -> String {
        let mut command = "cargo xtask bench".to_string();
        for workload in &self.workloads {
            command.push(' ');
            command.push_str(&workload.name());
        }
        if self.sizes().rounds != PUBLISHED.rounds {
            command.push_str(&format!(" --rounds {}", self.sizes().rounds));
        }
        command
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Where cargo builds: `CARGO_TARGET_DIR` or the workspace's `target/`.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace_root().join("target"), Into::into)
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    if cfg!(debug_assertions) {
        // Timings from a debug build would say nothing about what users get: run the release build.
        eprintln!("cargo xtask bench: re-running itself built with --release");
        let status = Command::new(env!("CARGO"))
            .args(["run", "--release", "--quiet", "--package", "xtask", "--"])
            .args(std::env::args_os().skip(1))
            .status()
            .context("cannot start cargo")?;
        if !status.success() {
            bail!("the release build of the benchmarks failed ({status})");
        }
        return Ok(());
    }
    let sizes = args.sizes();
    let workloads = args.workloads();
    if !args.only.is_empty() {
        measure::run_only(args.only.clone());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // sqlx hands connections back to their pool on a task, even when dropped outside `block_on`.
    let _in_runtime = runtime.enter();
    let needs_alembic = args.publishable()
        || workloads
            .iter()
            .any(|w| matches!(w, Workload::BulkInsert | Workload::Check));
    let alembic = if needs_alembic {
        Some(Alembic::ensure(&target_dir())?)
    } else {
        None
    };
    for server in [Server::Postgres, Server::MariaDb] {
        if !args.servers(&[server]).is_empty() {
            runtime.block_on(server.drop_leftovers())?;
        }
    }

    let cli = if workloads.contains(&Workload::Check) || workloads.contains(&Workload::RunnerBuild)
    {
        Some(check::build_cli()?)
    } else {
        None
    };

    let mut measured: Vec<(Workload, Vec<Table>)> = Vec::new();
    for workload in workloads {
        eprintln!("\n== {} ==", workload.heading());
        let tables = match workload {
            Workload::NoopStartup => {
                if args.servers(&[Server::Postgres]).is_empty() {
                    eprintln!("skipped: it runs on PostgreSQL only");
                    continue;
                }
                noop_startup::run(&runtime, sizes.startup_revisions, sizes.rounds)?
            }
            Workload::FreshToHead => {
                let servers = args.servers(&[Server::Postgres, Server::MariaDb, Server::Sqlite]);
                for &server in &servers {
                    require_client(server, "the fresh-database limit")?;
                }
                fresh_to_head::run(&runtime, &servers, sizes.revisions, sizes.rounds)?
            }
            Workload::BulkInsert => bulk_insert::run(
                &runtime,
                &args.servers(&[Server::Postgres, Server::Sqlite]),
                alembic
                    .as_ref()
                    .expect("Alembic is set up for this workload"),
                sizes.rows,
                sizes.rounds,
            )?,
            Workload::Backfill => backfill::run(
                &runtime,
                &args.servers(&[Server::Postgres, Server::Sqlite]),
                sizes.rows,
                sizes.rounds,
            )?,
            Workload::Check => check::run(
                cli.as_deref().expect("the CLI is built for this workload"),
                alembic
                    .as_ref()
                    .expect("Alembic is set up for this workload"),
                sizes.check_revisions,
                sizes.rounds,
            )?,
            Workload::RunnerBuild => runner_build::run(
                cli.as_deref().expect("the CLI is built for this workload"),
                sizes.rounds,
            )?,
        };
        for table in &tables {
            table.print();
        }
        measured.push((workload, tables));
    }

    if !args.publishable() {
        println!(
            "\nNot written to BENCHMARKS.md: only runs at the published sizes ({} startup revisions, {} revisions, \
             {} rows, {} check revisions) on every backend are.",
            PUBLISHED.startup_revisions,
            PUBLISHED.revisions,
            PUBLISHED.rows,
            PUBLISHED.check_revisions
        );
        return Ok(());
    }
    let report = workspace_root().join("BENCHMARKS.md");
    let when = dbmigrate_runtime::history::now_rfc3339();
    let when = when.get(..16).unwrap_or(&when).replace('T', " ");
    let environment = environment::describe(&runtime, alembic.as_ref(), &workspace_root())?;
    crate::report::replace_section(
        &report,
        "bench-environment",
        &format!(
            "Measured on this machine (last written {when} UTC):\n\n{environment}\n\
             Reproduce with `cargo xtask bench` (all workloads at these sizes, about half an hour), or a \
             few minutes' check with `cargo xtask bench --quick` (small sizes; not written here).\n"
        ),
    )?;
    for (workload, tables) in &measured {
        let mut body = format!(
            "### {}\n\n{}\nMeasured {when} UTC with `{}`.\n\n",
            workload.heading(),
            workload.description(),
            args.command_line()
        );
        for table in tables {
            body.push_str(&table.markdown());
        }
        crate::report::replace_section(&report, workload.section(), &body)?;
    }
    println!("\nWritten to {}", report.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("bench").chain(line.iter().copied())).unwrap()
    }

    #[test]
    fn only_runs_at_the_issue_sizes_on_every_contender_are_published() {
        assert!(args(&[]).publishable());
        assert!(args(&["fresh-to-head", "--rounds", "9"]).publishable());
        assert!(!args(&["fresh-to-head", "--backend", "sqlite"]).publishable());
        assert!(!args(&["--quick"]).publishable());
        let compared = args(&["fresh-to-head", "--only", "ours", "--only", "refinery"]);
        assert_eq!(compared.only, ["ours", "refinery"]);
        assert!(!compared.publishable());
    }
}
