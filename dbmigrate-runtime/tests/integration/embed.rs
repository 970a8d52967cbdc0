//! Build-time embedding: a small application crate is built repeatedly while its revision directory
//! changes, and must pick up every change without any source file being touched.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const RUNTIME_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// A throwaway application that embeds `migrations/` and prints the revisions it sees.
struct App {
    dir: tempfile::TempDir,
}

impl App {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let runtime = Path::new(RUNTIME_DIR);
        std::fs::write(
            root.join("Cargo.toml"),
            format!(
                "[package]\nname = \"embed-app\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n[workspace]\n\n\
                 [dependencies]\ndbmigrate-runtime = {{ path = {runtime:?} }}\n\n\
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
        Self { dir }
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
