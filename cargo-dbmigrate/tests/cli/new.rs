//! `new`: the files it writes (pinned by snapshots), the parent it picks, and when it refuses.

use cargo_dbmigrate::directory::Revisions;
use dbmigrate_runtime::VersionWidth;
use dbmigrate_runtime::data::{Context, StepFn, StepFuture};
use snapbox::file;

use crate::support::{Sandbox, copy_tree, fixtures};

/// The Rust revision `new --rust` writes, compiled here against the runtime's data-step API: the
/// snapshot test below proves the written file equals this one.
#[path = "snapshots/new/V5__backfill_emails.rs"]
mod written_rust_revision;

fn upgrade<'a, 'c>(cx: &'a mut Context<'c>) -> StepFuture<'a> {
    Box::pin(written_rust_revision::upgrade(cx))
}

fn downgrade<'a, 'c>(cx: &'a mut Context<'c>) -> StepFuture<'a> {
    Box::pin(written_rust_revision::downgrade(cx))
}

#[test]
fn the_rust_template_has_the_step_signatures_the_embedding_registers() {
    let steps: [StepFn; 2] = [upgrade, downgrade];
    assert_eq!(steps.len(), 2);
}

#[test]
fn the_first_revision_is_a_base() {
    let sandbox = Sandbox::new();
    std::fs::create_dir(sandbox.path().join("migrations")).unwrap();
    sandbox
        .cmd(&["new", "Create users", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq("migrations/V1__create_users.sql\n")
        .stderr_eq("created revision 1, a first revision (a base)\n");
    sandbox.assert_file(
        "migrations/V1__create_users.sql",
        file!["snapshots/new/V1__create_users.sql"],
    );
}

#[test]
fn a_sql_revision_revises_the_head_and_parses_back() {
    let sandbox = Sandbox::with_fixture("linear");
    sandbox
        .cmd(&["new", "add teams' colours", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq("migrations/V5__add_teams_colours.sql\n")
        .stderr_eq("created revision 5, revising 4\n");
    sandbox.assert_file(
        "migrations/V5__add_teams_colours.sql",
        file!["snapshots/new/V5__add_teams_colours.sql"],
    );
    let read = Revisions::read(&sandbox.path().join("migrations"), VersionWidth::I32);
    assert_eq!(read.errors().count(), 0, "{:?}", read.problems);
    let written = read.graph.get(5).unwrap();
    assert_eq!(written.parents, [4]);
    assert_eq!(written.message(), "add teams' colours");
    assert!(written.has_downgrade());
    // A new revision is an empty one until written: check says so, as a warning.
    sandbox
        .cmd(&["check", "--dir", "migrations"])
        .assert()
        .code(0);
}

#[test]
fn a_rust_revision_is_a_data_step() {
    let sandbox = Sandbox::with_fixture("linear");
    sandbox
        .cmd(&["new", "backfill emails", "--rust", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq("migrations/V5__backfill_emails.rs\n");
    sandbox.assert_file(
        "migrations/V5__backfill_emails.rs",
        file!["snapshots/new/V5__backfill_emails.rs"],
    );
    let read = Revisions::read(&sandbox.path().join("migrations"), VersionWidth::I32);
    assert_eq!(read.errors().count(), 0, "{:?}", read.problems);
    let written = read.graph.get(5).unwrap();
    assert_eq!(
        (written.parents.as_slice(), written.has_downgrade()),
        (&[4][..], true)
    );
}

#[test]
fn a_forked_history_needs_a_merge_or_an_explicit_parent() {
    let sandbox = Sandbox::with_fixture("fork");
    sandbox
        .cmd(&["new", "add avatar", "--dir", "migrations"])
        .assert()
        .code(1)
        .stdout_eq("")
        .stderr_eq(file!["snapshots/new/refused_fork.txt"]);
    sandbox
        .cmd(&["new", "add avatar", "--revises", "5", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq("migrations/V7__add_avatar.sql\n");
    assert!(
        sandbox
            .read("migrations/V7__add_avatar.sql")
            .contains("\n-- Revises: 5\n")
    );
}

#[test]
fn broken_revisions_are_listed_and_nothing_is_written() {
    let sandbox = Sandbox::with_fixture("bad_header");
    let before = sandbox.listing("migrations");
    sandbox
        .cmd(&["new", "more", "--dir", "migrations"])
        .assert()
        .code(1)
        .stderr_eq(file!["snapshots/new/refused_broken.txt"]);
    assert_eq!(sandbox.listing("migrations"), before);
}

#[test]
fn revises_must_name_existing_revisions() {
    let sandbox = Sandbox::with_fixture("linear");
    sandbox
        .cmd(&["new", "x", "--revises", "9", "--dir", "migrations"])
        .assert()
        .code(2)
        .stderr_eq("error: no revision matches `9`\n");
}

#[test]
fn a_message_needs_a_letter_or_digit() {
    let sandbox = Sandbox::with_fixture("linear");
    sandbox
        .cmd(&["new", "!!!", "--dir", "migrations"])
        .assert()
        .code(2)
        .stderr_eq(file!["snapshots/new/empty_slug.txt"]);
}

#[test]
fn timestamps_need_64_bit_versions() {
    let sandbox = Sandbox::with_fixture("linear");
    sandbox
        .cmd(&["new", "x", "--timestamp", "--dir", "migrations"])
        .assert()
        .code(3)
        .stderr_eq(file!["snapshots/new/timestamp_i32.txt"]);
    sandbox.write(
        "Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[package.metadata.dbmigrate]\nversion-width = \"i64\"\nversioning = \"timestamp\"\n",
    );
    sandbox
        .cmd(&["new", "add teams", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq("migrations/V20261125100000__add_teams.sql\n");
    // The same second again still gets a later version.
    sandbox
        .cmd(&["new", "add more", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq("migrations/V20261125100001__add_more.sql\n");
}

#[test]
fn a_bad_clock_override_is_reported() {
    let sandbox = Sandbox::with_fixture("linear");
    sandbox
        .cmd(&["new", "x", "--dir", "migrations"])
        .env("DBMIGRATE_NOW", "tomorrow")
        .assert()
        .code(3)
        .stderr_eq(file!["snapshots/new/bad_clock.txt"]);
}

/// Every sound directory of the hostile corpus (BOMs, CRLF, nested directories, `U` files, leading
/// zeros, unicode names...) takes a new revision that becomes its single head and keeps it sound.
#[test]
fn new_works_on_every_sound_hostile_case() {
    let corpus = fixtures().join("hostile");
    let mut checked = 0;
    for case in std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
    {
        let sound = std::fs::read_to_string(case.join("EXPECTED"))
            .unwrap()
            .trim()
            .is_empty();
        if !sound {
            continue;
        }
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let sandbox = Sandbox::new();
        copy_tree(&case, &sandbox.path().join("migrations"));
        std::fs::remove_file(sandbox.path().join("migrations/EXPECTED")).unwrap();
        let written = sandbox
            .cmd(&["new", "next step", "--dir", "migrations"])
            .output()
            .unwrap();
        assert_eq!(
            written.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&written.stderr)
        );
        let path = String::from_utf8(written.stdout).unwrap();
        let read = Revisions::read(&sandbox.path().join("migrations"), VersionWidth::I32);
        assert_eq!(read.errors().count(), 0, "{name}: {:?}", read.problems);
        let heads = read.graph.heads();
        assert_eq!(heads.len(), 1, "{name}");
        assert!(
            heads[0].path.ends_with(path.trim_end()),
            "{name}: head {:?}, wrote {path}",
            heads[0].path
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} sound cases");
}
