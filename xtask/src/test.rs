//! `cargo xtask test`: the project's test command. It installs the Debian packages the production
//! topologies need when they are missing, starts whatever of them is not running (reusing what is),
//! then runs `cargo test --workspace --all-features` with their URLs in the environment.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use dbmigrate_topology::{Component, Topology, install_missing_packages};

/// The test command, after the topologies are up.
pub const CARGO_TEST: &[&str] = &["test", "--workspace", "--all-features"];

pub fn run() -> anyhow::Result<()> {
    let started = Instant::now();
    let installed = install_missing_packages(&Component::ALL)
        .context("installing the packages the test topologies need")?;
    if !installed.is_empty() {
        eprintln!("installed {}", installed.join(", "));
    }
    let topology = Topology::from_env();
    let mut variables = Vec::new();
    let mut problems = Vec::new();
    for result in topology.ensure_each(&Component::ALL) {
        match result {
            Ok(endpoints) => variables.push(endpoints.variable()),
            Err(error) => problems.push(error.to_string()),
        }
    }
    if !problems.is_empty() {
        bail!(
            "the test topologies did not start (under {}):\n  {}",
            topology.dir().display(),
            problems.join("\n  ")
        );
    }
    eprintln!(
        "test topologies ready in {:.1} s (under {})",
        started.elapsed().as_secs_f64(),
        topology.dir().display()
    );
    eprintln!("$ cargo {}", CARGO_TEST.join(" "));
    let status = Command::new(env!("CARGO"))
        .args(CARGO_TEST)
        .envs(variables)
        .status()
        .context("cannot start cargo")?;
    if !status.success() {
        bail!("`cargo {}` failed", CARGO_TEST.join(" "));
    }
    Ok(())
}
