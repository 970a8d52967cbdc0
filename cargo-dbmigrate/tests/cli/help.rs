//! `--help` of the top level and of every command: the help text is the documentation.

use crate::support::Sandbox;

fn help(args: &[&str], snapshot: snapbox::Data) {
    let mut args = args.to_vec();
    args.push("--help");
    Sandbox::new()
        .cmd(&args)
        .assert()
        .success()
        .stdout_eq(snapshot)
        .stderr_eq("");
}

#[test]
fn top_level() {
    help(&[], snapbox::file!["snapshots/help/dbmigrate.txt"]);
}

#[test]
fn init() {
    help(&["init"], snapbox::file!["snapshots/help/init.txt"]);
}

#[test]
fn new() {
    help(&["new"], snapbox::file!["snapshots/help/new.txt"]);
}

#[test]
fn merge() {
    help(&["merge"], snapbox::file!["snapshots/help/merge.txt"]);
}

#[test]
fn check() {
    help(&["check"], snapbox::file!["snapshots/help/check.txt"]);
}

#[test]
fn heads() {
    help(&["heads"], snapbox::file!["snapshots/help/heads.txt"]);
}

#[test]
fn history() {
    help(&["history"], snapbox::file!["snapshots/help/history.txt"]);
}

#[test]
fn show() {
    help(&["show"], snapbox::file!["snapshots/help/show.txt"]);
}

#[test]
fn rebase() {
    help(&["rebase"], snapbox::file!["snapshots/help/rebase.txt"]);
}

#[test]
fn upgrade() {
    help(&["upgrade"], snapbox::file!["snapshots/help/upgrade.txt"]);
}

#[test]
fn downgrade() {
    help(
        &["downgrade"],
        snapbox::file!["snapshots/help/downgrade.txt"],
    );
}

#[test]
fn current() {
    help(&["current"], snapbox::file!["snapshots/help/current.txt"]);
}

#[test]
fn status() {
    help(&["status"], snapbox::file!["snapshots/help/status.txt"]);
}

#[test]
fn stamp() {
    help(&["stamp"], snapbox::file!["snapshots/help/stamp.txt"]);
}

#[test]
fn resolve() {
    help(&["resolve"], snapbox::file!["snapshots/help/resolve.txt"]);
}

#[test]
fn repair() {
    help(&["repair"], snapbox::file!["snapshots/help/repair.txt"]);
}

#[test]
fn completions() {
    help(
        &["completions"],
        snapbox::file!["snapshots/help/completions.txt"],
    );
}

#[test]
fn a_usage_error_exits_with_2() {
    Sandbox::new()
        .cmd(&["check", "--format", "xml"])
        .assert()
        .code(2)
        .stdout_eq("")
        .stderr_eq(snapbox::file!["snapshots/help/usage_error.txt"]);
}
