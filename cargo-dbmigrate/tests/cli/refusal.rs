//! Commands refuse broken revisions before doing anything, and the refusal names the command as typed.

use snapbox::file;

use crate::support::Sandbox;

#[test]
fn the_refusal_names_the_database_command() {
    // Refused before any connection: no DATABASE_URL is needed to see it.
    let sandbox = Sandbox::with_fixture("missing_parent");
    sandbox
        .cmd(&["upgrade", "--dir", "migrations"])
        .assert()
        .code(1)
        .stdout_eq("")
        .stderr_eq(file!["snapshots/refusal/upgrade.txt"]);
    sandbox
        .cmd(&["status", "--dir", "migrations"])
        .assert()
        .code(1)
        .stderr_eq(file!["snapshots/refusal/status.txt"]);
}

#[test]
fn the_refusal_names_the_script_command() {
    Sandbox::with_fixture("missing_parent")
        .cmd(&[
            "downgrade",
            "3:base",
            "--sql",
            "--backend",
            "sqlite",
            "--dir",
            "migrations",
        ])
        .assert()
        .code(1)
        .stdout_eq("")
        .stderr_eq(file!["snapshots/refusal/downgrade_sql.txt"]);
}
