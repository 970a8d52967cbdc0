//! `rebase`: linearising forks and renumbering duplicates, then `check` is clean with one head.

use snapbox::file;

use cargo_dbmigrate::directory::Revisions;
use dbmigrate_runtime::VersionWidth;

use crate::support::{Sandbox, copy_tree, fixtures};

const WARNING: &str = "warning: rebase rewrites revision files, which changes their checksums: use it only on revisions that no database has applied yet (it works offline and cannot check)\n";

fn assert_linear(sandbox: &Sandbox, revisions: usize, head: i64) {
    sandbox
        .cmd(&["check", "--dir", "migrations"])
        .assert()
        .code(0)
        .stdout_eq(format!(
            "ok: {revisions} revisions in migrations, no problems\n"
        ));
    let heads = sandbox
        .cmd(&["heads", "--dir", "migrations"])
        .output()
        .unwrap();
    let heads = String::from_utf8(heads.stdout).unwrap();
    assert_eq!(heads.lines().count(), 1, "{heads}");
    assert!(heads.contains(&format!(" -> {head} (head)")), "{heads}");
}

#[test]
fn a_fork_becomes_linear_by_moving_the_other_branch() {
    let sandbox = Sandbox::with_fixture("fork");
    sandbox
        .cmd(&["rebase", "6", "--onto", "5", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/rebase/fork.txt"])
        .stderr_eq(WARNING);
    sandbox.assert().eq(
        sandbox.listing("migrations"),
        file!["snapshots/rebase/fork_files.txt"],
    );
    sandbox.assert_file(
        "migrations/V7__add_phone.sql",
        file!["snapshots/rebase/V7__add_phone.sql"],
    );
    sandbox.assert_file(
        "migrations/V8__normalise_phone.sql",
        file!["snapshots/rebase/V8__normalise_phone.sql"],
    );
    assert_linear(&sandbox, 6, 8);
}

#[test]
fn the_first_revision_of_a_branch_takes_its_descendants_along() {
    let sandbox = Sandbox::with_fixture("fork");
    sandbox
        .cmd(&["rebase", "4", "--onto", "5", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/rebase/fork.txt"]);
    assert_linear(&sandbox, 6, 8);
}

#[test]
fn a_branch_above_the_new_parent_keeps_its_versions() {
    let sandbox = Sandbox::with_fixture("fork");
    // Main has only 3; the other branch (4, 6) is already numbered above it.
    std::fs::remove_file(sandbox.path().join("migrations/V5__index_verified.sql")).unwrap();
    sandbox
        .cmd(&["rebase", "6", "--onto", "3", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/rebase/keeps_versions.txt"]);
    assert_linear(&sandbox, 5, 6);
    sandbox
        .cmd(&["history", "--dir", "migrations"])
        .assert()
        .stdout_eq(file!["snapshots/rebase/keeps_versions.history.txt"]);
}

#[test]
fn a_version_two_files_share_must_be_named_by_file() {
    let sandbox = Sandbox::with_fixture("duplicate");
    let before = sandbox.listing("migrations");
    sandbox
        .cmd(&["rebase", "3", "--onto", "3", "--dir", "migrations"])
        .assert()
        .code(2)
        .stdout_eq("")
        .stderr_eq(file!["snapshots/rebase/ambiguous_duplicate.txt"]);
    assert_eq!(sandbox.listing("migrations"), before, "nothing moved");
}

#[test]
fn either_file_of_a_shared_version_can_be_the_one_that_moves() {
    // The file the graph kept can move too: the other one then stays version 3.
    let sandbox = Sandbox::with_fixture("duplicate");
    sandbox
        .cmd(&[
            "rebase",
            "migrations/V3__add_avatar.sql",
            "--onto",
            "3",
            "--dir",
            "migrations",
        ])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/rebase/duplicate_kept_moves.txt"]);
    assert!(
        sandbox
            .read("migrations/V4__add_avatar.sql")
            .contains("\n-- Revises: 3\n")
    );
    assert!(
        sandbox
            .path()
            .join("migrations/V3__add_nickname.sql")
            .is_file()
    );
    assert_linear(&sandbox, 4, 4);
}

#[test]
fn a_duplicate_version_gets_the_next_one() {
    let sandbox = Sandbox::with_fixture("duplicate");
    sandbox
        .cmd(&[
            "rebase",
            "migrations/V3__add_nickname.sql",
            "--onto",
            "3",
            "--dir",
            "migrations",
        ])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/rebase/duplicate.txt"]);
    assert!(
        sandbox
            .read("migrations/V4__add_nickname.sql")
            .contains("\n-- Revises: 3\n")
    );
    assert_linear(&sandbox, 4, 4);
}

#[test]
fn an_adopted_file_gets_a_header_when_it_moves() {
    let sandbox = Sandbox::with_fixture("adopted_refinery");
    // A second refinery-style V2, written on another branch: a duplicate with no header.
    sandbox.write(
        "migrations/V2__add_wheels.sql",
        "ALTER TABLE cars ADD COLUMN wheels INTEGER;\r\n",
    );
    sandbox
        .cmd(&[
            "rebase",
            "migrations/V2__add_wheels.sql",
            "--onto",
            "4",
            "--dir",
            "migrations",
        ])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/rebase/adopted.txt"]);
    assert_eq!(
        sandbox.read("migrations/V5__add_wheels.sql"),
        "-- Revises: 4\r\n\r\nALTER TABLE cars ADD COLUMN wheels INTEGER;\r\n"
    );
    assert_linear(&sandbox, 5, 5);
}

#[test]
fn a_dry_run_changes_nothing() {
    let sandbox = Sandbox::with_fixture("fork");
    let before = sandbox.listing("migrations");
    sandbox
        .cmd(&[
            "rebase",
            "6",
            "--onto",
            "5",
            "--dry-run",
            "--dir",
            "migrations",
        ])
        .assert()
        .success()
        .stdout_eq(file!["snapshots/rebase/dry_run.txt"]);
    assert_eq!(sandbox.listing("migrations"), before);
}

#[test]
fn nothing_to_do_when_already_on_top() {
    let sandbox = Sandbox::with_fixture("linear");
    sandbox
        .cmd(&["rebase", "4", "--onto", "3", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq("nothing to do: the branch of revision 4 already builds on 3\n");
    sandbox
        .cmd(&["rebase", "2", "--onto", "4", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq("nothing to do: revision 2 is already in the history of 4\n");
}

#[test]
fn bad_arguments_are_usage_errors() {
    let sandbox = Sandbox::with_fixture("fork");
    sandbox
        .cmd(&["rebase", "4", "--onto", "4", "--dir", "migrations"])
        .assert()
        .code(2)
        .stderr_eq(format!("{WARNING}error: cannot rebase revision 4 onto itself\nhelp: `--onto` takes the head of the other branch\n"));
    sandbox
        .cmd(&["rebase", "9", "--onto", "5", "--dir", "migrations"])
        .assert()
        .code(2)
        .stderr_eq(format!("{WARNING}error: no revision matches `9`\n"));
}

#[test]
fn broken_revisions_are_refused() {
    Sandbox::with_fixture("missing_parent")
        .cmd(&["rebase", "3", "--onto", "2", "--dir", "migrations"])
        .assert()
        .code(1)
        .stderr_eq(file!["snapshots/rebase/refused.txt"]);
}

/// The forks and duplicates of the hostile corpus are repaired by following `check`'s own advice
/// (`rebase <the set-aside file> --onto <version>` for a duplicate, `rebase <last head> --onto
/// <first head>` for a fork) until `check` is clean with one head.
#[test]
fn the_advice_in_check_repairs_every_hostile_fork_and_duplicate() {
    for name in [
        "fork_two_heads",
        "fork_three_heads",
        "two_unrelated_chains",
        "duplicate_version",
        "duplicate_adopted",
        "duplicate_sql_and_rs",
        "duplicate_leading_zeros",
    ] {
        let sandbox = Sandbox::new();
        let dir = sandbox.path().join("migrations");
        copy_tree(&fixtures().join("hostile").join(name), &dir);
        std::fs::remove_file(dir.join("EXPECTED")).unwrap();
        for _ in 0..5 {
            let read = Revisions::read(&dir, VersionWidth::I32);
            let heads: Vec<String> = read
                .graph
                .heads()
                .iter()
                .map(|h| h.version.to_string())
                .collect();
            let (moving, onto) = match (read.duplicates.first(), heads.as_slice()) {
                (Some(duplicate), _) => (
                    duplicate.path.to_string_lossy().into_owned(),
                    duplicate.version.to_string(),
                ),
                (None, [first, .., last]) => (last.clone(), first.clone()),
                (None, _) => break,
            };
            let output = sandbox
                .cmd(&["rebase", &moving, "--onto", &onto, "--dir", "migrations"])
                .output()
                .unwrap();
            assert_eq!(
                output.status.code(),
                Some(0),
                "{name}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let read = Revisions::read(&dir, VersionWidth::I32);
        assert_eq!(read.errors().count(), 0, "{name}: {:?}", read.problems);
        assert_eq!(read.graph.heads().len(), 1, "{name}");
    }
}
