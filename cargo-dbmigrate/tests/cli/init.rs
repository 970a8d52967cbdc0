//! `init` in a fresh package: what it creates and edits, what it prints, and that a second run
//! changes nothing.

use snapbox::file;

use crate::support::Sandbox;

const MANIFEST: &str = "\
# The application.
[package]
name = \"app\"   # keep this comment
version = \"0.1.0\"
edition = \"2024\"

[dependencies]
serde = \"1\"
";

fn package() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.write("Cargo.toml", MANIFEST);
    sandbox.write("src/main.rs", "fn main() {}\n");
    sandbox
}

#[test]
fn init_sets_up_a_package_and_is_idempotent() {
    let sandbox = package();
    sandbox
        .cmd(&["init"])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/init/first_run.txt"])
        .stderr_eq("");
    sandbox.assert_file("Cargo.toml", file!["snapshots/init/Cargo.toml"]);
    sandbox.assert_file("build.rs", file!["snapshots/init/build.rs"]);
    assert_eq!(sandbox.listing("migrations"), ".gitattributes\n");

    let manifest = sandbox.read("Cargo.toml");
    sandbox
        .cmd(&["init"])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/init/second_run.txt"]);
    assert_eq!(sandbox.read("Cargo.toml"), manifest);

    // The directory it configured is the one the other commands use.
    sandbox
        .cmd(&["new", "create users"])
        .assert()
        .success()
        .stdout_eq("migrations/V1__create_users.sql\n");
}

#[test]
fn an_existing_build_script_is_not_edited() {
    let sandbox = package();
    let script = "fn main() {\n    println!(\"cargo::rerun-if-changed=assets\");\n}\n";
    sandbox.write("build.rs", script);
    sandbox
        .cmd(&["init", "--dir", "db/revisions"])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/init/existing_build_script.txt"]);
    assert_eq!(sandbox.read("build.rs"), script);
    assert!(
        sandbox
            .read("Cargo.toml")
            .contains("[package.metadata.dbmigrate]\ndir = \"db/revisions\"\n")
    );
    assert!(sandbox.path().join("db/revisions").is_dir());
}

#[test]
fn a_workspace_needs_a_package_choice() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"api\", \"worker\"]\nresolver = \"3\"\n",
    );
    for member in ["api", "worker"] {
        sandbox.write(
            &format!("{member}/Cargo.toml"),
            &MANIFEST.replace("\"app\"", &format!("\"{member}\"")),
        );
        sandbox.write(&format!("{member}/src/main.rs"), "fn main() {}\n");
    }
    sandbox
        .cmd(&["init"])
        .assert()
        .code(3)
        .stderr_eq(file!["snapshots/init/ambiguous.txt"]);
    sandbox
        .cmd(&["init", "-p", "nope"])
        .assert()
        .code(3)
        .stderr_eq(file!["snapshots/init/unknown_package.txt"]);
    sandbox.cmd(&["init", "-p", "worker"]).assert().success();
    assert!(sandbox.path().join("worker/migrations").is_dir());
    assert!(
        sandbox
            .read("worker/Cargo.toml")
            .contains("[package.metadata.dbmigrate]")
    );
    // Inside a member's directory, that member is the package.
    sandbox
        .cmd(&["new", "create jobs"])
        .current_dir(sandbox.path().join("worker/src"))
        .assert()
        .success()
        .stdout_eq("../migrations/V1__create_jobs.sql\n");
}

#[test]
fn a_dir_that_disagrees_with_the_settings_is_pointed_out() {
    let sandbox = package();
    sandbox.cmd(&["init"]).assert().success();
    let manifest = sandbox.read("Cargo.toml");
    sandbox
        .cmd(&["init", "--dir", "db"])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/init/disagreeing_dir.txt"]);
    assert_eq!(
        sandbox.read("Cargo.toml"),
        manifest,
        "the settings are the user's to change"
    );
    // Naming the configured directory explicitly is no disagreement.
    let again = sandbox
        .cmd(&["init", "--dir", "./migrations"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&again.stdout).contains("configures dir"));
}

#[test]
fn the_sqlite_lock_file_is_ignored_and_an_existing_gitignore_kept() {
    let sandbox = package();
    sandbox.write(".gitignore", "/target");
    sandbox.cmd(&["init"]).assert().success();
    sandbox.assert_file(".gitignore", file!["snapshots/init/gitignore"]);
    // Already there: left alone.
    sandbox.cmd(&["init"]).assert().success();
    sandbox.assert_file(".gitignore", file!["snapshots/init/gitignore"]);
}

#[test]
fn timestamp_versions_are_configured_and_used() {
    let sandbox = package();
    sandbox
        .cmd(&["init", "--timestamp"])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/init/timestamp.txt"]);
    sandbox.assert_file("Cargo.toml", file!["snapshots/init/Cargo.timestamp.toml"]);
    sandbox
        .cmd(&["new", "create users"])
        .assert()
        .success()
        .stdout_eq("migrations/V20261125100000__create_users.sql\n");
}

#[test]
fn timestamp_versions_are_not_forced_on_existing_revisions() {
    // 32-bit revisions exist: widening them would change their checksums, so it is left to the user.
    let sandbox = package();
    sandbox.write(
        "migrations/V1__create_users.sql",
        "-- Revises:\nCREATE TABLE users (id INTEGER);\n",
    );
    sandbox
        .cmd(&["init", "--timestamp"])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/init/timestamp_refused.txt"]);
    let manifest = sandbox.read("Cargo.toml");
    assert!(!manifest.contains("version-width"), "{manifest}");
    assert!(!manifest.contains("versioning"), "{manifest}");
}

#[test]
fn an_old_sqlx_is_pointed_out() {
    let sandbox = package();
    sandbox.write(
        "Cargo.toml",
        &format!(
            "{MANIFEST}sqlx = {{ version = \"0.8\", features = [\"postgres\"] }}\ntokio = \"1\"\n"
        ),
    );
    sandbox
        .cmd(&["init"])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/init/old_sqlx.txt"]);
}

#[test]
fn without_a_package_dir_mode_starts_from_nothing() {
    // `new --dir` on a missing directory advises `init --dir`, which works without a Cargo.toml.
    let sandbox = Sandbox::new();
    sandbox
        .cmd(&["new", "create users", "--dir", "db"])
        .assert()
        .code(3)
        .stderr_eq(file!["snapshots/init/new_without_directory.txt"]);
    sandbox
        .cmd(&["init", "--dir", "db"])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/init/directory_alone.txt"]);
    assert_eq!(sandbox.listing("db"), ".gitattributes\n");
    assert!(sandbox.read(".gitignore").contains("\n*-dbmigrate.lock\n"));
    sandbox
        .cmd(&["new", "create users", "--dir", "db"])
        .assert()
        .success()
        .stdout_eq("db/V1__create_users.sql\n");
    // Without --dir there is still nothing to set up.
    sandbox
        .cmd(&["init"])
        .assert()
        .code(3)
        .stderr_eq(file!["snapshots/init/no_package.txt"]);
}

#[test]
fn dependency_lines_follow_how_the_cli_was_installed() {
    use cargo_dbmigrate::commands::init::{RuntimeSource, dependency_lines};
    // This test binary's CLI was built from this repository: path dependencies on it.
    let repository = crate::support::repository();
    assert_eq!(
        RuntimeSource::of_this_build(),
        RuntimeSource::Path(repository.join("dbmigrate-runtime"))
    );
    // From crates.io: version lines.
    let lines = dependency_lines(&RuntimeSource::Registry("0.1".into()));
    assert!(
        lines.contains("\ndbmigrate-runtime = { version = \"0.1\", features = [\"postgres\"] }"),
        "{lines}"
    );
    assert!(
        lines.contains("\n[build-dependencies]\ndbmigrate-runtime = { version = \"0.1\" }"),
        "{lines}"
    );
    assert!(lines.contains("\nsqlx = { version = \"0.9\""), "{lines}");
}
