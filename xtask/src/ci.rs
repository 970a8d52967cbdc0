//! `cargo xtask ci`: the same steps as `.ci/run`, for running them locally: formatting and lints,
//! then `cargo xtask test`.

use std::process::Command;

use anyhow::{Context, bail};

/// The lint steps CI runs, in order, before the tests; `.ci/run` runs the same list.
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
    crate::test::run()
}
