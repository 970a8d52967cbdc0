//! Workload 5: `check` on a large revision directory, against merely reading its files (the limit).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use super::measure::{Contender, Role, alternate, report};

/// Writes `count` revisions: a linear chain with a fork and merge every 100 revisions, so the graph
/// code sees merges and branches rather than only a list.
pub fn generate(dir: &Path, count: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    for version in 1..=count {
        let revises = match version {
            1 => String::new(),
            v if v % 100 == 0 => format!("{}, {}", v - 1, v - 2),
            v if v % 100 == 99 => format!("{}", v - 2),
            v => format!("{}", v - 1),
        };
        let text = format!(
            "-- Message: revision {version}\n-- Revises: {revises}\n-- Created: 2026-11-24T00:00:00Z\n\n\
             -- migrate:upgrade\nCREATE TABLE t{version} (id INTEGER PRIMARY KEY, note TEXT);\n\n\
             -- migrate:downgrade\nDROP TABLE t{version};\n"
        );
        std::fs::write(
            dir.join(format!("V{version}__revision_{version}.sql")),
            text,
        )?;
    }
    Ok(())
}

fn build_cli() -> anyhow::Result<std::path::PathBuf> {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "-p", "cargo-dbmigrate"])
        .status()
        .context("cannot start cargo")?;
    if !status.success() {
        bail!("building cargo-dbmigrate failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        Into::into,
    );
    Ok(target.join("release/cargo-dbmigrate"))
}

pub fn run(count: usize, rounds: usize) -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let dir = temp.path().join("migrations");
    generate(&dir, count)?;
    let cli = build_cli()?;
    let mut contenders = vec![
        Contender {
            name: "cargo dbmigrate check",
            role: Role::Ours,
            run: Box::new(|| {
                let out = Command::new(&cli)
                    .args(["dbmigrate", "check", "--dir"])
                    .arg(&dir)
                    .output()?;
                if !out.status.success() {
                    bail!("check failed: {}", String::from_utf8_lossy(&out.stderr));
                }
                Ok(())
            }),
        },
        Contender {
            name: "read every file (limit)",
            role: Role::Limit,
            run: Box::new(|| {
                let mut bytes = 0;
                for entry in std::fs::read_dir(&dir)? {
                    bytes += std::fs::read(entry?.path())?.len();
                }
                std::hint::black_box(bytes);
                Ok(())
            }),
        },
    ];
    let results = alternate(&mut contenders, rounds)?;
    report(
        &format!("check on {count} revisions ({rounds} rounds, median)"),
        &results,
    );
    Ok(())
}
