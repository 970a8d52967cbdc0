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
fn a_usage_error_exits_with_2() {
    Sandbox::new()
        .cmd(&["check", "--format", "xml"])
        .assert()
        .code(2)
        .stdout_eq("")
        .stderr_eq(snapbox::file!["snapshots/help/usage_error.txt"]);
}
