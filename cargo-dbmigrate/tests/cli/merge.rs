//! `merge`: the merge revision over the heads, and its refusals.

use snapbox::file;

use crate::support::Sandbox;

#[test]
fn a_merge_joins_the_heads_and_check_passes() {
    let sandbox = Sandbox::with_fixture("fork");
    sandbox
        .cmd(&["merge", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq("migrations/V7__merge_5_and_6.sql\n")
        .stderr_eq("created merge revision 7, revising 5, 6\n");
    sandbox.assert_file(
        "migrations/V7__merge_5_and_6.sql",
        file!["snapshots/merge/V7__merge_5_and_6.sql"],
    );
    sandbox
        .cmd(&["check", "--dir", "migrations"])
        .assert()
        .code(0)
        .stdout_eq("ok: 7 revisions in migrations, no problems\n");
    sandbox
        .cmd(&["heads", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq("5, 6 -> 7 (head, mergepoint), merge 5 and 6\n");
}

#[test]
fn a_merge_can_have_a_message() {
    let sandbox = Sandbox::with_fixture("fork");
    sandbox
        .cmd(&["merge", "join phone and email work", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq("migrations/V7__join_phone_and_email_work.sql\n");
}

#[test]
fn one_head_has_nothing_to_merge() {
    Sandbox::with_fixture("linear")
        .cmd(&["merge", "--dir", "migrations"])
        .assert()
        .code(1)
        .stderr_eq(file!["snapshots/merge/one_head.txt"]);
}

#[test]
fn merging_a_revision_with_its_ancestor_is_refused() {
    Sandbox::with_fixture("fork")
        .cmd(&["merge", "--revises", "3,5", "--dir", "migrations"])
        .assert()
        .code(2)
        .stderr_eq(file!["snapshots/merge/ancestor.txt"]);
}
