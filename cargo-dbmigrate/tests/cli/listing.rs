//! `heads`, `history` and `show`.

use snapbox::file;

use crate::support::Sandbox;

#[test]
fn heads_of_a_fork() {
    Sandbox::with_fixture("fork")
        .cmd(&["heads", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq("3 -> 5 (head), index verified\n4 -> 6 (head), normalise phone\n")
        .stderr_eq("");
}

#[test]
fn heads_of_an_empty_directory() {
    let sandbox = Sandbox::new();
    std::fs::create_dir(sandbox.path().join("migrations")).unwrap();
    sandbox
        .cmd(&["heads", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq("")
        .stderr_eq("warning: there are no revisions yet; create one with `cargo dbmigrate new <message>`\n");
}

#[test]
fn history_newest_first() {
    Sandbox::with_fixture("merge")
        .cmd(&["history", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/listing/history_merge.txt"]);
}

#[test]
fn history_verbose_of_adopted_files() {
    Sandbox::with_fixture("adopted_refinery")
        .cmd(&["history", "-v", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/listing/history_adopted_verbose.txt"]);
}

#[test]
fn history_ranges() {
    let sandbox = Sandbox::with_fixture("fork");
    let range = |range: &str| {
        sandbox
            .cmd(&["history", "-r", range, "--dir", "migrations"])
            .assert()
            .success()
    };
    range("4:").stdout_eq("4 -> 6 (head), normalise phone\n2 -> 4, add phone\n");
    range(":3").stdout_eq(
        "2 -> 3, add email verified\n1 -> 2 (branchpoint), add teams\n<base> -> 1, create users\n",
    );
    range("2:5").stdout_eq("3 -> 5 (head), index verified\n2 -> 3, add email verified\n1 -> 2 (branchpoint), add teams\n");
    range("heads:").stdout_eq("4 -> 6 (head), normalise phone\n3 -> 5 (head), index verified\n");
    sandbox
        .cmd(&["history", "-r", "3", "--dir", "migrations"])
        .assert()
        .code(2)
        .stderr_eq("error: `3` is not a range\nhelp: write it as A:B, for example 3:head, base:7, 3: or :7\n");
    sandbox
        .cmd(&["history", "-r", "3:head", "--dir", "migrations"])
        .assert()
        .code(1)
        .stderr_eq(file!["snapshots/listing/history_head_of_fork.txt"]);
}

#[test]
fn history_as_json() {
    Sandbox::with_fixture("linear")
        .cmd(&["history", "--format", "json", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/listing/history_linear.json"]);
}

#[test]
fn history_of_broken_revisions_warns() {
    Sandbox::with_fixture("missing_parent")
        .cmd(&["history", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq("7 -> 3 (head), add avatar\n1 -> 2 (head), add teams\n<base> -> 1, create users\n")
        .stderr_eq(
            "warning: the revisions have 1 error(s), so this listing may be incomplete; `cargo dbmigrate check` lists them\n",
        );
}

#[test]
fn show_a_sql_revision() {
    Sandbox::with_fixture("linear")
        .cmd(&["show", "V4", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/listing/show_sql.txt"]);
}

#[test]
fn show_a_rust_revision() {
    Sandbox::with_fixture("linear")
        .cmd(&["show", "3", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/listing/show_rust.txt"]);
}

#[test]
fn show_an_adopted_revision_and_the_head() {
    let sandbox = Sandbox::with_fixture("adopted_refinery");
    sandbox
        .cmd(&["show", "2", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/listing/show_adopted.txt"]);
    sandbox
        .cmd(&["show", "head", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/listing/show_head.txt"]);
}

#[test]
fn show_both_files_of_a_duplicate() {
    Sandbox::with_fixture("duplicate")
        .cmd(&["show", "3", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/listing/show_duplicate.txt"])
        .stderr_eq(file!["snapshots/listing/show_duplicate.stderr.txt"]);
}

#[test]
fn show_an_unknown_revision() {
    Sandbox::with_fixture("linear")
        .cmd(&["show", "42", "--dir", "migrations"])
        .assert()
        .code(2)
        .stdout_eq("")
        .stderr_eq("error: no revision matches `42`\n");
}

#[test]
fn heads_as_json() {
    Sandbox::with_fixture("fork")
        .cmd(&["heads", "--format", "json", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/listing/heads_fork.json"])
        .stderr_eq("");
    // No revisions: an empty array, which a program can read, and the warning for people.
    let sandbox = Sandbox::new();
    std::fs::create_dir(sandbox.path().join("migrations")).unwrap();
    sandbox
        .cmd(&["heads", "--format", "json", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq("[]\n");
}

#[test]
fn show_as_json() {
    let sandbox = Sandbox::with_fixture("linear");
    sandbox
        .cmd(&["show", "V4", "--format", "json", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/listing/show_sql.json"])
        .stderr_eq("");
    // A Rust revision has no SQL sections.
    sandbox
        .cmd(&["show", "3", "--format", "json", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/listing/show_rust.json"]);
}

#[test]
fn show_both_files_of_a_duplicate_as_json() {
    Sandbox::with_fixture("duplicate")
        .cmd(&["show", "3", "--format", "json", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/listing/show_duplicate.json"]);
}
