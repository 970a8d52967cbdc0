//! `cargo xtask fuzz`: runs the revision-directory fuzzer (cargo-fuzz, libFuzzer) seeded from the hostile corpus.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::report;

const TARGET: &str = "revision_directory";

/// Options of `cargo xtask fuzz`.
#[derive(clap::Parser)]
pub struct Args {
    /// How long to fuzz.
    #[arg(long, default_value_t = 600)]
    seconds: u64,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cargo() -> Command {
    Command::new(env!("CARGO"))
}

fn ensure_cargo_fuzz() -> anyhow::Result<()> {
    let installed = cargo()
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        eprintln!("installing cargo-fuzz from crates.io");
        let status = cargo()
            .args(["install", "cargo-fuzz", "--locked"])
            .status()?;
        if !status.success() {
            bail!("`cargo install cargo-fuzz` failed");
        }
    }
    Ok(())
}

/// Turns every hostile fixture directory into one fuzzer input (`name\ncontents` files joined by NUL).
fn seed(corpus: &Path) -> anyhow::Result<usize> {
    std::fs::create_dir_all(corpus)?;
    let fixtures = root().join("tests/fixtures/hostile");
    let mut seeded = 0;
    for case in
        std::fs::read_dir(&fixtures).with_context(|| format!("reading {}", fixtures.display()))?
    {
        let case = case?.path();
        let mut input = Vec::new();
        for file in walk(&case) {
            let Ok(bytes) = std::fs::read(&file) else {
                continue;
            };
            if !input.is_empty() {
                input.push(0);
            }
            input.extend(
                file.strip_prefix(&case)
                    .unwrap_or(&file)
                    .to_string_lossy()
                    .as_bytes(),
            );
            input.push(b'\n');
            input.extend(bytes.into_iter().filter(|b| *b != 0));
        }
        let name = format!(
            "seed-{}",
            case.file_name().unwrap_or_default().to_string_lossy()
        );
        std::fs::write(corpus.join(name), input)?;
        seeded += 1;
    }
    Ok(seeded)
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path)
            } else {
                files.push(path)
            }
        }
    }
    files.sort();
    files
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    ensure_cargo_fuzz()?;
    let fuzz_dir = root().join("fuzz");
    let corpus = fuzz_dir.join("corpus").join(TARGET);
    let seeds = seed(&corpus)?;
    let started = Instant::now();
    let output = cargo()
        .current_dir(&fuzz_dir)
        .args(["fuzz", "run", "--sanitizer", "none", TARGET])
        .arg(&corpus)
        .arg("--")
        .arg(format!("-max_total_time={}", args.seconds))
        .args(["-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1"])
        .output()
        .context("cannot start cargo fuzz")?;
    let elapsed = started.elapsed();
    let log = String::from_utf8_lossy(&output.stderr);
    let stat = |name: &str| {
        log.lines().find_map(|l| {
            l.strip_prefix(&format!("stat::{name}:"))
                .map(|v| v.trim().to_string())
        })
    };
    if !output.status.success() {
        eprintln!("{log}");
        bail!("the fuzzer found a crash; the input is in fuzz/artifacts/{TARGET}/");
    }
    // Keep the corpus small enough to commit: drop inputs that add no coverage.
    let status = cargo()
        .current_dir(&fuzz_dir)
        .args(["fuzz", "cmin", "--sanitizer", "none", TARGET])
        .arg(&corpus)
        .status()?;
    if !status.success() {
        bail!("`cargo fuzz cmin` failed");
    }
    let kept = std::fs::read_dir(&corpus)?.count();
    // libFuzzer's own closing line ("Done N runs in S second(s)") excludes the build time.
    let fuzzed_seconds = log
        .lines()
        .find_map(|l| {
            l.split_once("runs in ")
                .and_then(|(_, rest)| rest.split_whitespace().next()?.parse::<f64>().ok())
        })
        .unwrap_or(elapsed.as_secs_f64());
    let section = format!(
        "Fuzzing (`cargo xtask fuzz --seconds {seconds}`): target `{TARGET}` (cargo-fuzz, libFuzzer, no sanitizer) ran \
         {minutes:.1} minutes without a crash: {runs} executions, peak RSS {rss} MB; seeded from {seeds} hostile \
         fixtures; {kept} inputs kept in `fuzz/corpus/{TARGET}/` after minimisation.\n",
        seconds = args.seconds,
        minutes = fuzzed_seconds / 60.0,
        runs = stat("number_of_executed_units").unwrap_or_else(|| "?".into()),
        rss = stat("peak_rss_mb").unwrap_or_else(|| "?".into()),
    );
    print!("{section}");
    report::replace_section(&root().join("RELIABILITY.md"), "fuzz", &section)
}
