//! The reliability scenarios, shared by the test suite (a few rounds) and `cargo xtask stress`
//! (many): replicas racing to migrate one empty database, and a replica killed with SIGKILL at a
//! random moment of its run, then recovered.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use dbmigrate_runtime::{BackendPool, Resolution};
use dbmigrate_test_support::{Database, Server};

use crate::effects::{Effect, snapshot, wait_until_lock_is_free};
use crate::{MIGRATIONS, VERSIONS};

/// How to start a replica.
#[derive(Debug, Clone)]
pub struct Replica {
    /// The `dbmigrate-replica` binary.
    pub binary: PathBuf,
    /// Accounts the data step inserts.
    pub rows: i64,
    /// Milliseconds the data step pauses in total (it holds the lock meanwhile).
    pub step_millis: u64,
}

/// How one replica process ended.
#[derive(Debug, Clone)]
pub struct Exit {
    /// Its exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// The versions it applied.
    pub applied: Vec<i64>,
    /// What it printed on stderr.
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

impl Replica {
    fn command(&self, url: &str, lock_timeout: Duration) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.binary);
        command
            .env("DATABASE_URL", url)
            .env("REPLICA_ROWS", self.rows.to_string())
            .env("REPLICA_STEP_MILLIS", self.step_millis.to_string())
            .env(
                "REPLICA_LOCK_TIMEOUT_MS",
                lock_timeout.as_millis().to_string(),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Runs one replica to the end.
    pub async fn run(&self, url: &str, lock_timeout: Duration) -> Exit {
        let started = Instant::now();
        let output = self
            .command(url, lock_timeout)
            .output()
            .await
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
        exit_of(output, started.elapsed())
    }
}

fn exit_of(output: std::process::Output, elapsed: Duration) -> Exit {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let applied = stdout
        .lines()
        .find_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .and_then(|v| v.get("applied").cloned())
        .and_then(|v| serde_json::from_value::<Vec<i64>>(v).ok())
        .unwrap_or_default();
    Exit {
        code: output.status.code(),
        applied,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed,
    }
}

/// What a race found.
#[derive(Debug, Clone, Default)]
pub struct RaceOutcome {
    /// Processes that exited 0 at the first attempt.
    pub succeeded: usize,
    /// Processes that gave up waiting for the lock (exit code 6) and succeeded when retried.
    pub timed_out_then_retried: usize,
    /// Everything that went wrong; empty when the round passed.
    pub problems: Vec<String>,
}

/// Starts `processes` replicas at once against the empty database `db`. With a `lock_timeout`
/// shorter than the data step, the replicas that wait must fail cleanly (exit code 6, a message
/// naming the lock) and succeed when retried. Either way, every revision must be applied exactly
/// once and the schema must be complete.
pub async fn race(
    replica: &Replica,
    db: &Database,
    processes: usize,
    lock_timeout: Duration,
) -> RaceOutcome {
    race_across(
        replica,
        db,
        std::slice::from_ref(&db.url),
        processes,
        lock_timeout,
    )
    .await
}

/// Starts `processes` replicas at once, process `i` on `urls[i % urls.len()]`, and waits for them
/// all; each exit in start order, with the URL it ran on.
pub async fn start_across(
    replica: &Replica,
    urls: &[String],
    processes: usize,
    lock_timeout: Duration,
) -> Vec<(String, Exit)> {
    assert!(!urls.is_empty(), "at least one URL");
    let children: Vec<_> = (0..processes)
        .map(|i| {
            let url = urls[i % urls.len()].clone();
            let started = Instant::now();
            let child = replica
                .command(&url, lock_timeout)
                .spawn()
                .expect("spawn a replica");
            (url, started, child)
        })
        .collect();
    let mut exits = Vec::new();
    for (url, started, child) in children {
        let output = child.wait_with_output().await.expect("wait for a replica");
        exits.push((url, exit_of(output, started.elapsed())));
    }
    exits
}

/// [`race`] with the replicas spread over `urls`, several ways to reach the database `db` (through
/// a pooler and directly, or the nodes of a cluster); `db` is where the outcome is checked. On a
/// cluster, `db` must read what every node committed (on Galera, causal reads).
pub async fn race_across(
    replica: &Replica,
    db: &Database,
    urls: &[String],
    processes: usize,
    lock_timeout: Duration,
) -> RaceOutcome {
    let exits: Vec<Exit> = start_across(replica, urls, processes, lock_timeout)
        .await
        .into_iter()
        .map(|(_, exit)| exit)
        .collect();
    let mut outcome = RaceOutcome::default();
    let mut applied: Vec<i64> = Vec::new();
    for exit in &exits {
        applied.extend(&exit.applied);
        match exit.code {
            Some(0) => outcome.succeeded += 1,
            Some(6) if exit.stderr.contains("waiting for the migration lock") => {
                let retry = replica.run(&db.url, Duration::from_secs(120)).await;
                applied.extend(&retry.applied);
                if retry.code == Some(0) {
                    outcome.timed_out_then_retried += 1;
                } else {
                    outcome.problems.push(format!(
                        "a retry after a lock timeout failed ({:?}): {}",
                        retry.code,
                        retry.stderr.trim()
                    ));
                }
            }
            code => outcome.problems.push(format!(
                "a replica exited with {code:?}: {}",
                exit.stderr.trim()
            )),
        }
    }
    applied.sort_unstable();
    if applied != VERSIONS {
        outcome.problems.push(format!("the replicas together applied {applied:?}; each of {VERSIONS:?} exactly once was expected"));
    }
    let state = snapshot(db, replica.rows).await;
    outcome.problems.extend(state.violations(db.server));
    if !state.complete() {
        outcome.problems.push(format!(
            "the database is not complete after the race: {state:?}"
        ));
    }
    outcome
}

/// When to kill a replica.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KillPoint {
    /// This long after it starts.
    After(Duration),
    /// Once its data step has begun, plus this long (the step writes a signal file when it starts).
    InDataStep(Duration),
}

/// What a kill found.
#[derive(Debug, Clone, Default)]
pub struct KillOutcome {
    /// The revisions recorded when the process died.
    pub applied_at_kill: Vec<i64>,
    /// The revision the side table lists as unfinished (MySQL only), and how it was resolved.
    pub resolved: Option<(i64, Resolution)>,
    /// How long the killed process's lock took to be freed.
    pub lock_freed_after: Option<Duration>,
    /// Everything that went wrong; empty when the round passed.
    pub problems: Vec<String>,
}

/// Starts a replica on the empty database `db`, kills it with SIGKILL at `point`, then checks
/// that every revision is either complete and recorded or absent and unrecorded (MySQL may also
/// hold one revision recorded as unfinished), that the lock is free, and that — after resolving
/// the unfinished revision as an operator would — a new run reaches head.
pub async fn kill_at(replica: &Replica, db: &Database, point: KillPoint) -> KillOutcome {
    let mut outcome = KillOutcome::default();
    let signal = tempfile::NamedTempFile::new()
        .expect("a signal file")
        .into_temp_path();
    std::fs::remove_file(&signal).expect("an unused signal path");
    let mut command = replica.command(&db.url, Duration::from_secs(60));
    command.env("REPLICA_SIGNAL_FILE", &signal);
    let mut child = command.spawn().expect("spawn a replica");
    match point {
        KillPoint::After(delay) => tokio::time::sleep(delay).await,
        KillPoint::InDataStep(delay) => {
            let started = Instant::now();
            while !signal.exists() {
                if started.elapsed() > Duration::from_secs(30) {
                    outcome.problems.push("the data step never started".into());
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(delay).await;
        }
    }
    let _ = child.start_kill();
    let _ = child.wait().await;

    outcome.lock_freed_after = wait_until_lock_is_free(db, Duration::from_secs(15)).await;
    if outcome.lock_freed_after.is_none() {
        outcome
            .problems
            .push("the killed process's migration lock was still held 15 s later".into());
    }
    let state = snapshot(db, replica.rows).await;
    outcome.applied_at_kill.clone_from(&state.applied);
    outcome.problems.extend(state.violations(db.server));

    if let Some(&version) = state.unfinished.first() {
        match resolve_as_an_operator(db, version, replica.rows).await {
            Ok(resolution) => outcome.resolved = Some((version, resolution)),
            Err(problem) => outcome.problems.push(problem),
        }
    }
    let rerun = replica.run(&db.url, Duration::from_secs(60)).await;
    if rerun.code != Some(0) {
        outcome.problems.push(format!(
            "the run after the kill failed ({:?}): {}",
            rerun.code,
            rerun.stderr.trim()
        ));
    }
    let state = snapshot(db, replica.rows).await;
    if !state.complete() {
        outcome.problems.push(format!(
            "the database is not complete after recovery: {state:?}"
        ));
    }
    outcome
}

/// What the status command tells an operator to do about a revision MySQL committed part of, done:
/// check what it left, finish or undo it, and record that with `resolve`.
async fn resolve_as_an_operator(
    db: &Database,
    version: i64,
    rows: i64,
) -> Result<Resolution, String> {
    let pool = BackendPool::connect_lazy(&db.url, 1).map_err(|e| e.to_string())?;
    let migrator = MIGRATIONS.migrator().map_err(|e| e.to_string())?;
    let status = migrator
        .status(&pool)
        .await
        .map_err(|e| e.to_string())?
        .to_string();
    if !status.contains(&format!("cargo dbmigrate resolve {version}")) {
        return Err(format!(
            "status does not say how to resolve revision {version}:\n{status}"
        ));
    }
    let resolution = match crate::effects::effect_of(db, version, rows).await {
        Effect::Complete => Resolution::Applied,
        Effect::Absent => Resolution::Reverted,
        Effect::Partial(_) => {
            // Every revision changes the schema first and signs the ledger last: the part missing
            // is the signature, which the operator adds by hand before recording the revision.
            db.execute(&format!(
                "INSERT INTO ledger (revision, note) VALUES ({version}, 'finished by hand')"
            ))
            .await;
            Resolution::Applied
        }
    };
    let result = migrator
        .resolve(&pool, version, resolution)
        .await
        .map_err(|e| format!("resolve {version}: {e}"));
    pool.close().await;
    result.map(|_| resolution)
}

/// Times one uninterrupted run on a fresh database, so kill points can be spread over a run.
pub async fn calibrate(replica: &Replica, server: Server) -> Duration {
    let db = Database::new(server).await;
    let exit = replica.run(&db.url, Duration::from_secs(60)).await;
    assert_eq!(
        exit.code,
        Some(0),
        "the replica does not run cleanly: {}",
        exit.stderr
    );
    exit.elapsed
}

/// The replica binary next to the running executable's build, for test suites (cargo builds it for
/// the package's integration tests) or given explicitly.
pub fn binary_in(dir: &Path) -> PathBuf {
    dir.join(format!("dbmigrate-replica{}", std::env::consts::EXE_SUFFIX))
}
