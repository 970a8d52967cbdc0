//! README.md followed literally by a newcomer: a package outside the workspace made from the Install
//! section's dependency lines (the clone's path filled in) and the Quick start's `build.rs` and
//! `main.rs`, set up with `init` and `new`, built with cargo, and run against PostgreSQL.

use std::path::Path;
use std::process::Command;

use dbmigrate_test_support::Server;

use crate::support::{Sandbox, TestDb, repository};

/// What the README writes for the clone's directory.
const CLONE_PLACEHOLDER: &str = "/path/to/cargo-dbmigrate";

/// The body of the first fenced block with this info string after `heading`.
fn block<'a>(readme: &'a str, heading: &str, info: &str) -> &'a str {
    let section = &readme[readme
        .find(heading)
        .unwrap_or_else(|| panic!("README.md has no {heading}"))..];
    let fence = format!("```{info}\n");
    let start = section
        .find(&fence)
        .unwrap_or_else(|| panic!("no ```{info} block under {heading}"))
        + fence.len();
    let end = start + section[start..].find("```\n").expect("a closed block");
    &section[start..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_install_and_quick_start_sections_build_and_run_as_written() {
    let readme = std::fs::read_to_string(repository().join("README.md")).unwrap();
    let dependencies = block(&readme, "## Install", "toml").replace(
        CLONE_PLACEHOLDER,
        &repository().to_string_lossy().replace('\\', "/"),
    );
    let program = block(&readme, "## Quick start", "rust,ignore");
    let (build_script, main) = program
        .split_once("// src/main.rs\n")
        .expect("the Quick start shows build.rs, then src/main.rs");
    let install = block(&readme, "## Install", "sh");
    assert!(
        install.contains("cargo install --locked --path cargo-dbmigrate"),
        "{install}"
    );

    let sandbox = Sandbox::new();
    sandbox.write(
        "Cargo.toml",
        &format!(
            "[package]\nname = \"newcomer\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n{dependencies}"
        ),
    );
    sandbox.write("build.rs", build_script.trim_start_matches("// build.rs\n"));
    sandbox.write("src/main.rs", main);

    // `init` prints the README's lines for a CLI built from this clone, and finds them in place.
    let before = sandbox.cmd(&["init"]).output().unwrap();
    assert!(before.status.success());
    let printed = String::from_utf8(before.stdout).unwrap();
    assert!(
        !printed.contains("add to Cargo.toml"),
        "init asks for dependencies the README lines already give:\n{printed}"
    );
    let fresh = Sandbox::new();
    fresh.write(
        "Cargo.toml",
        "[package]\nname = \"fresh\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
    );
    fresh.write("src/main.rs", "fn main() {}\n");
    let output = fresh.cmd(&["init"]).output().unwrap();
    assert!(output.status.success());
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(
        printed.contains(&dependencies),
        "init does not print the README's lines:\n{printed}\nREADME:\n{dependencies}"
    );
    sandbox
        .cmd(&["new", "create users"])
        .assert()
        .success()
        .stdout_eq("migrations/V1__create_users.sql\n");
    sandbox.write(
        "migrations/V1__create_users.sql",
        "-- Message: create users\n-- Revises:\n\n-- migrate:upgrade\nCREATE TABLE users (id INTEGER PRIMARY KEY);\n\n\
         -- migrate:downgrade\nDROP TABLE users;\n",
    );

    build(sandbox.path());

    let db = TestDb::new(Server::Postgres).await;
    let binary = target_dir().join("debug/newcomer");
    let run = Command::new(binary)
        .current_dir(sandbox.path())
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(db.applied_versions().await, [1]);
    assert!(db.has_table("users").await);
}

/// `readme-package/` in the target directory this test runs from (`target/debug/deps/cli-*`).
fn target_dir() -> std::path::PathBuf {
    let executable = std::env::current_exe().unwrap();
    let target = executable
        .ancestors()
        .nth(3)
        .expect("the test runs from <target>/<profile>/deps");
    target.join("readme-package")
}

/// `cargo build` of the package, offline: this workspace's lock file pins the versions its registry
/// cache holds, and a target directory under the workspace's keeps later runs fast. A failure to
/// build fails the test.
fn build(package: &Path) {
    std::fs::copy(repository().join("Cargo.lock"), package.join("Cargo.lock")).unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "--offline", "--quiet"])
        .current_dir(package)
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("RUSTFLAGS")
        // No debug info: the build is only proof that the lines work, and half the size without it.
        .env("CARGO_PROFILE_DEV_DEBUG", "false")
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "the README's package does not build:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
