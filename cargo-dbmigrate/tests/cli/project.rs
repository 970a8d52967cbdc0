//! Finding the package and its settings: `--manifest-path`, `[package.metadata.dbmigrate]`, and the
//! errors (with exit code 3) when there is nothing to find.

use snapbox::file;

use crate::support::Sandbox;

#[test]
fn without_a_package_or_dir_the_error_says_what_to_pass() {
    Sandbox::new()
        .cmd(&["check"])
        .assert()
        .code(3)
        .stdout_eq("")
        .stderr_eq(file!["snapshots/project/no_package.txt"]);
}

#[test]
fn the_configured_directory_is_used() {
    let sandbox = Sandbox::with_fixture("linear");
    sandbox.write(
        "app/Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[package.metadata.dbmigrate]\ndir = \"../migrations\"\n",
    );
    sandbox.write("app/src/main.rs", "fn main() {}\n");
    sandbox
        .cmd(&["check", "--manifest-path", "app/Cargo.toml"])
        .assert()
        .success()
        .stdout_eq("ok: 4 revisions in migrations, no problems\n");
}

#[test]
fn bad_settings_are_a_configuration_error() {
    let sandbox = Sandbox::with_fixture("linear");
    sandbox.write("Cargo.toml", "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[package.metadata.dbmigrate]\nversion-width = \"i16\"\n");
    sandbox
        .cmd(&["check", "--dir", "migrations"])
        .assert()
        .code(3)
        .stderr_eq(file!["snapshots/project/bad_settings.txt"]);
}

#[test]
fn settings_apply_with_dir_too() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "migrations/V20261124191500__first.sql",
        "-- Revises:\n\n-- migrate:upgrade\nSELECT 1;\n",
    );
    sandbox
        .cmd(&["check", "--dir", "migrations", "--format", "json"])
        .assert()
        .code(1)
        .stdout_eq(file!["snapshots/project/i32_overflow.json"]);
    sandbox.write("Cargo.toml", "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[package.metadata.dbmigrate]\nversion-width = \"i64\"\n");
    sandbox
        .cmd(&["check", "--dir", "migrations"])
        .assert()
        .code(0);
}

#[test]
fn a_file_is_not_a_revision_directory() {
    let sandbox = Sandbox::new();
    sandbox.write("migrations", "not a directory\n");
    sandbox
        .cmd(&["check", "--dir", "migrations"])
        .assert()
        .code(3)
        .stderr_eq("error: migrations is not a directory\n");
}

#[test]
fn a_path_that_cannot_be_created_is_a_file_error() {
    let sandbox = Sandbox::with_fixture("linear");
    // `new` never overwrites: an existing file at the new path is reported as a write failure.
    sandbox.write("migrations/V5__add_teams.sql/keep", "");
    sandbox
        .cmd(&["new", "add teams", "--dir", "migrations"])
        .assert()
        .code(3)
        .stderr_eq(file!["snapshots/project/cannot_create.txt"]);
}
