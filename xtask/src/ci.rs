//! `cargo xtask ci`: the same steps as `.ci/run`, for running them locally.

use std::process::Command;

use anyhow::{Context, bail};

/// The steps CI runs, in order; `.ci/run` runs the same list.
const STEPS: &[&[&str]] = &[
    &["fmt", "--all", "--", "--check"],
    &[
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ],
    &["test", "--workspace", "--all-features"],
];

pub fn run() -> anyhow::Result<()> {
    for step in STEPS {
        eprintln!("$ cargo {}", step.join(" "));
        let status = Command::new(env!("CARGO"))
            .args(*step)
            .status()
            .context("cannot start cargo")?;
        if !status.success() {
            bail!("`cargo {}` failed", step.join(" "));
        }
    }
    Ok(())
}
