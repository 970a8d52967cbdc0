//! `cargo xtask stress`: the reliability scenarios of `tests/replica` at full size, on all three
//! backends, with the figures written into RELIABILITY.md.
//!
//! - Races: 32 processes start at once against one empty database, 20 rounds per backend, one of
//!   them with a data step holding the lock for seconds while the others wait, one with a lock
//!   timeout shorter than that step (the waiters must fail cleanly and succeed on retry).
//! - Kills: a process is killed with SIGKILL at a random moment of its run, at least 50 times per
//!   backend; every revision must then be whole or absent, the lock free, and a rerun must reach head.
//! - Faults: the fault matrix at full size (see `faults.rs`), unless `--skip-faults`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use dbmigrate_replica::scenario::{KillPoint, Replica, calibrate, kill_at, race};
use dbmigrate_test_support::{Database, Server};

use crate::report;

/// Options of `cargo xtask stress`.
#[derive(clap::Parser)]
pub struct Args {
    /// Race rounds per backend (two of them are the slow-step and the lock-timeout rounds).
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// Processes per race.
    #[arg(long, default_value_t = 32)]
    processes: usize,
    /// Kill points per backend.
    #[arg(long, default_value_t = 50)]
    kills: usize,
    /// How long the data step holds the lock in the slow-step rounds, in milliseconds.
    #[arg(long, default_value_t = 3_000)]
    slow_step_millis: u64,
    /// Seed of the random kill points (printed, so a failing run can be repeated).
    #[arg(long)]
    seed: Option<u64>,
    /// Leave out the fault matrix (its section of RELIABILITY.md is then left as it is).
    #[arg(long)]
    skip_faults: bool,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds the replica with optimisations, as an application would ship.
fn build_replica() -> anyhow::Result<PathBuf> {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "-p", "dbmigrate-replica"])
        .current_dir(root())
        .status()
        .context("cannot start cargo")?;
    if !status.success() {
        bail!("building dbmigrate-replica failed");
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    Ok(dbmigrate_replica::scenario::binary_in(
        &target.join("release"),
    ))
}

#[derive(Default)]
struct BackendFigures {
    race_rounds: usize,
    processes_started: usize,
    timed_out_then_retried: usize,
    longest_race: Duration,
    kills: usize,
    applied_at_kill: BTreeMap<usize, usize>,
    resolved: BTreeMap<String, usize>,
    slowest_lock_release: Duration,
    run_length: Duration,
    failures: Vec<String>,
}

async fn races(args: &Args, binary: &Path, server: Server, figures: &mut BackendFigures) {
    for round in 0..args.rounds {
        // The last two rounds: a step that holds the lock while everyone waits, then one the
        // waiters give up on.
        let (step_millis, lock_timeout) = match args.rounds - round {
            2 => (args.slow_step_millis, Duration::from_secs(120)),
            1 => (
                args.slow_step_millis,
                Duration::from_millis(args.slow_step_millis / 4),
            ),
            _ => (0, Duration::from_secs(120)),
        };
        let replica = Replica {
            binary: binary.to_path_buf(),
            rows: 20_000,
            step_millis,
        };
        let db = Database::new(server).await;
        let started = Instant::now();
        let outcome = race(&replica, &db, args.processes, lock_timeout).await;
        figures.longest_race = figures.longest_race.max(started.elapsed());
        figures.race_rounds += 1;
        figures.processes_started += args.processes + outcome.timed_out_then_retried;
        figures.timed_out_then_retried += outcome.timed_out_then_retried;
        for problem in outcome.problems {
            figures
                .failures
                .push(format!("race round {}: {problem}", round + 1));
        }
        eprintln!(
            "  {server:?} race {}/{}: done in {:.1} s",
            round + 1,
            args.rounds,
            started.elapsed().as_secs_f64()
        );
    }
}

async fn kills(
    args: &Args,
    binary: &Path,
    server: Server,
    rng: &mut fastrand::Rng,
    figures: &mut BackendFigures,
) {
    let replica = Replica {
        binary: binary.to_path_buf(),
        rows: 20_000,
        step_millis: 500,
    };
    let run = calibrate(&replica, server).await;
    figures.run_length = run;
    for point in 0..args.kills {
        // Every third kill lands inside the long data step for certain (it signals its start);
        // the others anywhere from before the first revision to a little after the run's end.
        let kill = if point % 3 == 0 {
            KillPoint::InDataStep(Duration::from_millis(rng.u64(0..500)))
        } else {
            KillPoint::After(run.mul_f64(rng.f64() * 1.1))
        };
        let db = Database::new(server).await;
        let outcome = kill_at(&replica, &db, kill).await;
        figures.kills += 1;
        *figures
            .applied_at_kill
            .entry(outcome.applied_at_kill.len())
            .or_default() += 1;
        if let Some((version, resolution)) = outcome.resolved {
            *figures
                .resolved
                .entry(format!("{version} as {resolution:?}").to_lowercase())
                .or_default() += 1;
        }
        if let Some(freed) = outcome.lock_freed_after {
            figures.slowest_lock_release = figures.slowest_lock_release.max(freed);
        }
        for problem in outcome.problems {
            figures
                .failures
                .push(format!("kill {} at {kill:?}: {problem}", point + 1));
        }
    }
    eprintln!("  {server:?}: {} kill points done", args.kills);
}

fn section(args: &Args, seed: u64, all: &[(Server, BackendFigures)], elapsed: Duration) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "Stress (`cargo xtask stress --seed {seed}`, replica built with `--release`; {:.1} minutes in all):\n",
        elapsed.as_secs_f64() / 60.0
    );
    let _ = writeln!(
        text,
        "| backend | race rounds | processes started | waiters that timed out, then succeeded on retry | longest round | kill points | revisions applied when killed (count: kills) | unfinished revisions resolved | slowest lock release after a kill | failures |"
    );
    let _ = writeln!(
        text,
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for (server, f) in all {
        let at_kill: Vec<String> = f
            .applied_at_kill
            .iter()
            .map(|(applied, count)| format!("{applied}: {count}"))
            .collect();
        let resolved: Vec<String> = f
            .resolved
            .iter()
            .map(|(what, count)| format!("{what}: {count}"))
            .collect();
        let _ = writeln!(
            text,
            "| {server:?} | {} | {} | {} | {:.1} s | {} (run: {:.0} ms) | {} | {} | {} ms | {} |",
            f.race_rounds,
            f.processes_started,
            f.timed_out_then_retried,
            f.longest_race.as_secs_f64(),
            f.kills,
            f.run_length.as_secs_f64() * 1e3,
            at_kill.join(", "),
            if resolved.is_empty() {
                "none needed".to_string()
            } else {
                resolved.join(", ")
            },
            f.slowest_lock_release.as_millis(),
            f.failures.len(),
        );
    }
    let _ = writeln!(
        text,
        "\nEach race: {} processes against one empty database; every revision applied exactly once (the ledger each \
         revision signs has one signature per revision), every process exited 0 or, in the lock-timeout round, exited 6 \
         naming the lock and then succeeded on retry. Each kill: SIGKILL inside the data step (a third of them, at a random moment of its 500 ms) or at a \
         uniformly random moment of a run; afterwards every revision was whole and recorded or absent and unrecorded (MySQL may \
         hold one revision recorded as unfinished, resolved as `status` says), the lock was free, and a rerun reached head.",
        args.processes
    );
    text
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let binary = build_replica()?;
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    eprintln!("stress: seed {seed}, replica {}", binary.display());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    let all = runtime.block_on(async {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut all = Vec::new();
        for server in Server::ALL {
            let mut figures = BackendFigures::default();
            races(args, &binary, server, &mut figures).await;
            kills(args, &binary, server, &mut rng, &mut figures).await;
            all.push((server, figures));
        }
        all
    });
    let text = section(args, seed, &all, started.elapsed());
    println!("{text}");
    let failures: Vec<&String> = all.iter().flat_map(|(_, f)| &f.failures).collect();
    if !failures.is_empty() {
        for failure in &failures {
            eprintln!("FAILED: {failure}");
        }
        bail!(
            "{} stress check(s) failed; RELIABILITY.md was not updated",
            failures.len()
        );
    }
    report::replace_section(&root().join("RELIABILITY.md"), "stress", &text)?;
    eprintln!("RELIABILITY.md updated (stress)");
    if !args.skip_faults {
        let section = crate::faults::run(&root())?;
        println!("{section}");
        report::replace_section(&root().join("RELIABILITY.md"), "faults", &section)?;
        eprintln!("RELIABILITY.md updated (faults)");
    }
    Ok(())
}
