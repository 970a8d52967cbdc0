//! `check` with a database: the advice on a fork or a shared version moves what that database has
//! not applied, and following it gives a history the database upgrades along.

use dbmigrate_test_support::on_every_backend;

use crate::support::Sandbox;

on_every_backend! {
    async fn a_fork_moves_the_branch_the_database_has_not_applied(db) {
        let sandbox = Sandbox::with_fixture("fork");
        let run = |args: &[&str]| sandbox.cmd(args).env("DATABASE_URL", &db.url).arg("--dir").arg("migrations");
        // The database follows the 4 -> 6 branch, which the offline advice would have moved.
        run(&["upgrade", "6"]).assert().success();
        run(&["check"])
            .assert()
            .code(1)
            .stdout_eq(snapbox::file!["snapshots/fork/applied_one_branch.txt"])
            .stderr_eq("");
        // Following the advice: the applied revisions keep their files, and the rest applies.
        run(&["rebase", "5", "--onto", "6"]).assert().success();
        run(&["check"]).assert().success();
        run(&["upgrade"]).assert().success();
        assert_eq!(db.applied_versions().await, [1, 2, 4, 6, 7, 8]);
        run(&["status", "--check"]).assert().success();
    }
}

on_every_backend! {
    async fn a_fork_applied_on_both_branches_is_merged(db) {
        let sandbox = Sandbox::with_fixture("fork");
        let run = |args: &[&str]| sandbox.cmd(args).env("DATABASE_URL", &db.url).arg("--dir").arg("migrations");
        run(&["upgrade", "heads"]).assert().success();
        run(&["check"])
            .assert()
            .code(1)
            .stdout_eq(snapbox::file!["snapshots/fork/applied_both_branches.txt"]);
    }
}

on_every_backend! {
    async fn a_shared_version_renumbers_the_file_the_database_has_not_applied(db) {
        let sandbox = Sandbox::with_fixture("duplicate");
        // The database applied the file the graph sets aside (from a checkout that had only it).
        for file in ["V1__create_users.sql", "V2__add_teams.sql", "V3__add_nickname.sql"] {
            let text = sandbox.read(&format!("migrations/{file}"));
            sandbox.write(&format!("applied/{file}"), &text);
        }
        sandbox.cmd(&["upgrade", "--dir", "applied"]).env("DATABASE_URL", &db.url).assert().success();
        let run = |args: &[&str]| sandbox.cmd(args).env("DATABASE_URL", &db.url).arg("--dir").arg("migrations");
        run(&["check"])
            .assert()
            .code(1)
            .stdout_eq(snapbox::file!["snapshots/fork/applied_duplicate.txt"]);
        run(&["rebase", "migrations/V3__add_avatar.sql", "--onto", "3"]).assert().success();
        run(&["upgrade"]).assert().success();
        assert_eq!(db.applied_versions().await, [1, 2, 3, 4]);
        assert!(db.columns("users").await.contains(&"avatar".to_string()));
    }
}

on_every_backend! {
    async fn a_fork_nobody_applied_can_move_either_way(db) {
        // The database exists (a SQLite file too), without a history table.
        db.execute("CREATE TABLE unrelated (id INTEGER)").await;
        Sandbox::with_fixture("fork")
            .cmd(&["check", "--dir", "migrations", "--database-url", &db.url])
            .assert()
            .code(1)
            .stdout_eq(snapbox::file!["snapshots/fork/applied_neither.txt"])
            .stderr_eq("");
        assert!(!db.has_table("refinery_schema_history").await, "check wrote nothing");
    }
}

#[test]
fn an_unreachable_database_leaves_the_offline_advice() {
    let sandbox = Sandbox::with_fixture("fork");
    // Opened read-only: a missing SQLite file is reported, never created.
    sandbox
        .cmd(&["check", "--dir", "migrations"])
        .env("DATABASE_URL", "sqlite://missing.db?mode=rwc")
        .assert()
        .code(1)
        .stdout_eq(snapbox::file!["snapshots/check/fork.txt"])
        .stderr_eq(snapbox::file!["snapshots/fork/unreachable.txt"]);
    assert!(!sandbox.path().join("missing.db").exists());
}

#[test]
fn without_a_fork_the_database_is_not_read() {
    // Nothing listens on port 1: reading would fail with a warning, and it is never tried.
    Sandbox::with_fixture("linear")
        .cmd(&["check", "--dir", "migrations"])
        .env("DATABASE_URL", "postgres://root@127.0.0.1:1/none")
        .assert()
        .success()
        .stderr_eq("");
}
