//! `cargo xtask ci`: the same steps as `.ci/run`, for running them locally: formatting and lints,
//! then `cargo xtask test`.

use std::process::Command;

use anyhow::{Context, bail};

/// The lint steps CI runs, in order, before the tests; `.ci/run` runs the same list. Each backend
/// feature of the runtime is checked alone, and with none (what `[build-dependencies]` compiles), as
/// `cargo check` (no code generation: about a minute for all four on 2 cores); `xtask deps` refuses
/// unused dependencies.
const STEPS: &[&[&str]] = &[
    &["fmt", "--all", "--", "--check"],
    &["check", "-p", "dbmigrate-runtime", "--no-default-features"],
    &[
        "check",
        "-p",
        "dbmigrate-runtime",
        "--no-default-features",
        "--features",
        "postgres",
    ],
    &[
        "check",
        "-p",
        "dbmigrate-runtime",
        "--no-default-features",
        "--features",
        "mysql",
    ],
    &[
        "check",
        "-p",
        "dbmigrate-runtime",
        "--no-default-features",
        "--features",
        "sqlite",
    ],
    &["xtask", "deps"],
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
