//! Build-time embedding: a small application crate is built repeatedly while its revision directory
//! changes, and must pick up every change without any source file being touched.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const RUNTIME_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// A throwaway application that embeds `migrations/` and prints the revisions it sees.
struct App {
    dir: tempfile::TempDir,
    /// The package's name, its own in the shared target directory: tests run at once, and one
    /// must never run the binary another just built.
    name: String,
}

static APPS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl App {
    fn new() -> Self {
        Self::with_features(&[])
    }

    /// An application whose runtime has `features` (the backends Rust revisions need).
    fn with_features(features: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let runtime = Path::new(RUNTIME_DIR);
        let name = format!(
            "embed-app-{}",
            APPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        std::fs::write(
            root.join("Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n[workspace]\n\n\
                 [dependencies]\ndbmigrate-runtime = {{ path = {runtime:?}, features = {features:?} }}\n\n\
                 [build-dependencies]\ndbmigrate-runtime = {{ path = {runtime:?} }}\n"
            ),
        )
        .unwrap();
        // The workspace's lock file pins the same versions, so the shared target directory is reused.
        std::fs::copy(runtime.join("../Cargo.lock"), root.join("Cargo.lock")).unwrap();
        std::fs::write(
            root.join("build.rs"),
            "fn main() {\n    dbmigrate_runtime::build::embed();\n}\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(
            root.join("src/main.rs"),
            "static MIGRATIONS: dbmigrate_runtime::Embedded = dbmigrate_runtime::include_migrations!();\n\n\
             fn main() {\n    let graph = MIGRATIONS.graph().unwrap();\n    \
             for r in graph.topological_order() {\n        \
             println!(\"{} {} {}\", r.version, r.name, r.checksum(MIGRATIONS.version_width()));\n    }\n}\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.join("migrations")).unwrap();
        Self { dir, name }
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join("migrations").join(name), text).unwrap();
    }

    fn remove(&self, name: &str) {
        std::fs::remove_file(self.dir.path().join("migrations").join(name)).unwrap();
    }

    fn cargo(&self, command: &str) -> Output {
        Command::new(env!("CARGO"))
            .args([command, "--quiet", "--offline"])
            .current_dir(self.dir.path())
            .env("CARGO_TARGET_DIR", target_dir())
            .output()
            .unwrap()
    }

    /// Builds and runs the application, returning the `version name` lines it prints.
    fn revisions(&self) -> Vec<String> {
        let output = self.cargo("run");
        assert!(
            output.status.success(),
            "build failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// A target directory of its own: the one running this test is locked by the outer cargo.
fn target_dir() -> PathBuf {
    let outer = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| Path::new(RUNTIME_DIR).join("../target"), PathBuf::from);
    outer.join("embed-test")
}

fn names(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l.rsplit_once(' ').unwrap().0.to_string())
        .collect()
}

#[test]
fn adding_editing_and_removing_a_revision_rebuilds_without_touching_code() {
    let app = App::new();
    app.write("V1__create_users.sql", "CREATE TABLE users(id int);\n");
    app.write(
        "V2__add_email.sql",
        "ALTER TABLE users ADD COLUMN email text;\n",
    );
    let first = app.revisions();
    assert_eq!(names(&first), ["1 create_users", "2 add_email"]);

    app.write(
        "V3__add_teams.sql",
        "-- Revises: 2\n-- migrate:upgrade\nCREATE TABLE teams(id int);\n",
    );
    assert_eq!(
        names(&app.revisions()),
        ["1 create_users", "2 add_email", "3 add_teams"]
    );

    app.write("V1__create_users.sql", "CREATE TABLE users(id bigint);\n");
    let edited = app.revisions();
    assert_ne!(
        edited[0], first[0],
        "the checksum must follow the edited text"
    );

    app.remove("V3__add_teams.sql");
    assert_eq!(names(&app.revisions()), ["1 create_users", "2 add_email"]);
}

#[test]
fn a_broken_chain_fails_the_build_with_the_check_diagnostics() {
    let app = App::new();
    app.write("V1__create_users.sql", "CREATE TABLE users(id int);\n");
    app.write("V2__orphan.sql", "-- Revises: 7\nSELECT 1;\n");
    let output = app.cargo("build");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("V2__orphan.sql:1: revision 2 revises 7, but no file defines version 7"),
        "{stderr}"
    );
}

#[test]
fn a_fork_fails_the_build_and_a_warning_does_not() {
    let app = App::new();
    app.write("V1__create_users.sql", "CREATE TABLE users(id int);\n");
    app.write(
        "V2__add_email.sql",
        "-- Revises: 1\nALTER TABLE users ADD COLUMN email text;\n",
    );
    app.write(
        "V3__add_teams.sql",
        "-- Revises: 1\nCREATE TABLE teams(id int);\n",
    );
    let output = app.cargo("build");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "a fork must fail the application's build"
    );
    assert!(stderr.contains("the history has 2 heads"), "{stderr}");

    // `check` passes with a warning for an empty revision, and so does the build, with cargo's warning.
    app.write("V3__add_teams.sql", "-- Revises: 2\n-- migrate:upgrade\n");
    // Not `--quiet`, which hides build scripts' warnings.
    let output = Command::new(env!("CARGO"))
        .args(["build", "--offline"])
        .current_dir(app.dir.path())
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("warning: {}@0.0.0: dbmigrate: ", app.name)),
        "{stderr}"
    );
    assert!(stderr.contains("V3__add_teams.sql"), "{stderr}");
    assert_eq!(
        names(&app.revisions()),
        ["1 create_users", "2 add_email", "3 add_teams"]
    );
}

/// An application whose revisions include a Rust data step.
fn app_with_rust_revision(step: &str) -> App {
    let app = App::with_features(&["sqlite", "postgres", "mysql"]);
    std::fs::write(
        app.dir.path().join("src/main.rs"),
        "static MIGRATIONS: dbmigrate_runtime::Embedded = dbmigrate_runtime::include_migrations!();\n\n\
         fn main() {\n    let migrations = MIGRATIONS.migrations().unwrap();\n    \
         for r in migrations.graph().topological_order() {\n        \
         let step = migrations.rust_step(r.version).map(|s| if s.downgrade.is_some() { \" (rust, with downgrade)\" } else { \" (rust)\" });\n        \
         println!(\"{} {}{} 0\", r.version, r.name, step.unwrap_or(\"\"));\n    }\n}\n",
    )
    .unwrap();
    app.write(
        "V1__create_items.sql",
        "CREATE TABLE items (id INTEGER PRIMARY KEY);\n",
    );
    app.write("V2__stock_items.rs", step);
    app
}

#[test]
fn a_rust_revision_is_compiled_in_and_registered() {
    let app = app_with_rust_revision(
        "//! Revises: 1\n\nuse dbmigrate_runtime::BoxError;\nuse dbmigrate_runtime::data::Context;\n\n\
         pub async fn upgrade(cx: &mut Context<'_>) -> Result<(), BoxError> {\n    cx.execute(\"INSERT INTO items (id) VALUES (1)\", &[]).await?;\n    Ok(())\n}\n\n\
         pub async fn downgrade(cx: &mut Context<'_>) -> Result<(), BoxError> {\n    cx.execute(\"DELETE FROM items\", &[]).await?;\n    Ok(())\n}\n",
    );
    assert_eq!(
        names(&app.revisions()),
        ["1 create_items", "2 stock_items (rust, with downgrade)"]
    );
}

#[test]
fn a_type_error_in_a_rust_revision_fails_the_build_at_its_line() {
    let app = app_with_rust_revision(
        "//! Revises: 1\n\nuse dbmigrate_runtime::BoxError;\nuse dbmigrate_runtime::data::Context;\n\n\
         pub async fn upgrade(cx: &mut Context<'_>) -> Result<(), BoxError> {\n    let rows: u64 = cx.execute(\"DELETE FROM items\", &[]);\n    let _ = rows;\n    Ok(())\n}\n",
    );
    let output = app.cargo("build");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("V2__stock_items.rs:7"), "{stderr}");
    assert!(stderr.contains("mismatched types"), "{stderr}");
}
