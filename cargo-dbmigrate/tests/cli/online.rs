//! The online commands against real databases: each test gets its own database on SQLite,
//! PostgreSQL and MariaDB, and drives `cargo dbmigrate` as a user would, through DATABASE_URL.

use dbmigrate_test_support::on_every_backend;
use dbmigrate_test_support::topology::{Component, TopologyDb};
use snapbox::str;

use crate::support::Sandbox;

/// Two SQL revisions with downgrades: users, then a seeded teams table.
pub(crate) fn project() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.write(
        "migrations/V1__create_users.sql",
        "-- Message: create users\n-- Revises:\n\n-- migrate:upgrade\nCREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100));\n\n\
         -- migrate:downgrade\nDROP TABLE users;\n",
    );
    sandbox.write(
        "migrations/V2__add_teams.sql",
        "-- Message: add teams\n-- Revises: 1\n\n-- migrate:upgrade\nCREATE TABLE teams (id INTEGER PRIMARY KEY, name VARCHAR(100));\n\
         INSERT INTO teams (id, name) VALUES (1, 'red');\n\n-- migrate:downgrade\nDROP TABLE teams;\n",
    );
    sandbox
}

on_every_backend! {
    async fn upgrade_status_current_and_downgrade(db) {
        let sandbox = project();
        let run = |args: &[&str]| sandbox.cmd(args).env("DATABASE_URL", &db.url).arg("--dir").arg("migrations");
        run(&["status", "--check"]).assert().code(7).stdout_eq(str![[r#"
database: [..] (history table `refinery_schema_history`)
the history table does not exist yet: nothing is applied
current:  base
head:     2
applied:  0 revision(s)
pending:  2 revision(s)
  1 create_users (sql)
  2 add_teams (sql)
run `cargo dbmigrate upgrade` to apply the pending revisions

"#]]);
        run(&["upgrade"]).assert().success().stdout_eq(str![[r#"
applied 2 revisions in [..] ms:
  1 create_users (sql, [..] ms)
  2 add_teams (sql, [..] ms)
database is now at 2

"#]]);
        assert_eq!(db.integer("SELECT COUNT(*) FROM teams").await, 1);
        run(&["upgrade"]).assert().success().stdout_eq("database is up to date at 2; nothing to apply\n");
        run(&["current"]).assert().success().stdout_eq("2 add_teams (head)\n");
        run(&["status", "--check"]).assert().success();
        run(&["downgrade", "-1"]).assert().success().stdout_eq(str![[r#"
reverted 1 revision in [..] ms:
  2 add_teams (sql, [..] ms)
database is now at 1

"#]]);
        assert!(!db.has_table("teams").await);
        run(&["current", "--format", "json"]).assert().success().stdout_eq(str![[r#"
{
  "current": [
    1
  ],
  "heads": [
    2
  ]
}

"#]]);
        run(&["status", "--check"]).assert().code(7);
    }
}

on_every_backend! {
    async fn stamp_adopts_a_schema_and_dry_run_changes_nothing(db) {
        let sandbox = project();
        let run = |args: &[&str]| sandbox.cmd(args).env("DATABASE_URL", &db.url).arg("--dir").arg("migrations");
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100))").await;
        run(&["stamp", "1"]).assert().success().stdout_eq(str![[r#"
stamped as applied 1 revision:
  1 create_users (sql)
database is now at 1

"#]]);
        run(&["upgrade", "--dry-run"]).assert().success().stdout_eq(str![[r#"
would apply 1 revision:
  2 add_teams (sql)
nothing was changed (dry run)

"#]]);
        assert!(!db.has_table("teams").await);
        assert_eq!(db.applied_versions().await, [1]);
    }
}

on_every_backend! {
    async fn a_changed_file_is_refused_with_exit_code_5(db) {
        let sandbox = project();
        let run = |args: &[&str]| sandbox.cmd(args).env("DATABASE_URL", &db.url).arg("--dir").arg("migrations");
        run(&["upgrade", "1"]).assert().success();
        sandbox.write(
            "migrations/V1__create_users.sql",
            "-- Message: create users\n-- Revises:\n\n-- migrate:upgrade\nCREATE TABLE users (id BIGINT PRIMARY KEY);\n",
        );
        run(&["upgrade"]).assert().code(5).stdout_eq("").stderr_eq(str![[r#"
error: the history table `refinery_schema_history` does not match the revision files; nothing was applied:
  - revision 1 (migrations/V1__create_users.sql) changed after it was applied (checksum [..] recorded, [..] now); restore the applied text and put the change in a new revision

"#]]);
        assert!(!db.has_table("teams").await);
    }
}

on_every_backend! {
    async fn a_failing_revision_exits_4_naming_file_line_and_statement(db) {
        let sandbox = project();
        sandbox.write("migrations/V3__broken.sql", "-- Revises: 2\nINSERT INTO teams (id, name) VALUES (2, 'blue');\nINSERT INTO nowhere VALUES (1);\n");
        let run = |args: &[&str]| sandbox.cmd(args).env("DATABASE_URL", &db.url).arg("--dir").arg("migrations");
        run(&["upgrade"]).assert().code(4).stdout_eq("").stderr_eq(str![[r#"
...
error: upgrade of revision 3 (migrations/V3__broken.sql) failed at line 3, statement 2 of 2:
  INSERT INTO nowhere VALUES (1)
[..]
nothing of revision 3 was applied; 2 applied before it (1, 2) stay applied. Fix the revision and run `cargo dbmigrate upgrade` again

"#]]);
        assert_eq!(db.applied_versions().await, [1, 2]);
        assert_eq!(db.integer("SELECT COUNT(*) FROM teams").await, 1);
    }
}

#[test]
fn sql_prints_the_upgrade_for_each_backend_without_connecting() {
    let sandbox = project();
    for backend in ["postgres", "mysql", "sqlite"] {
        sandbox
            .cmd(&[
                "upgrade",
                "--sql",
                "--backend",
                backend,
                "--dir",
                "migrations",
            ])
            .env_remove("DATABASE_URL")
            .assert()
            .success()
            .stdout_eq(snapbox::Data::read_from(
                &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join(format!("tests/cli/snapshots/online/upgrade_{backend}.sql")),
                None,
            ));
    }
    sandbox
        .cmd(&[
            "downgrade",
            "head:base",
            "--sql",
            "--backend",
            "postgres",
            "--dir",
            "migrations",
        ])
        .assert()
        .success()
        .stdout_eq(snapbox::file!["snapshots/online/downgrade_postgres.sql"]);
}

#[test]
fn sql_refuses_what_it_cannot_print() {
    let sandbox = project();
    sandbox.write(
        "migrations/V3__backfill.rs",
        "//! Revises: 2\npub async fn upgrade() {}\n",
    );
    sandbox
        .cmd(&["upgrade", "--sql", "--backend", "postgres", "--dir", "migrations"])
        .assert()
        .code(1)
        .stderr_eq(str![[r#"
error: revision 3 (migrations/V3__backfill.rs) is a Rust data step, which has no SQL to print; run it online (`cargo dbmigrate upgrade`), or print the revisions before it (`--sql <from>:2`) and after it separately

"#]]);
    sandbox
        .cmd(&[
            "downgrade",
            "base",
            "--sql",
            "--backend",
            "postgres",
            "--dir",
            "migrations",
        ])
        .assert()
        .code(2)
        .stderr_eq(str![[r#"
error: an offline downgrade needs to know where the database is
help: give the range as FROM:TO, e.g. `downgrade head:base --sql`

"#]]);
}

#[test]
fn without_a_database_url_the_online_commands_say_where_to_put_one() {
    project()
        .cmd(&["upgrade", "--dir", "migrations"])
        .env_remove("DATABASE_URL")
        .assert()
        .code(2)
        .stderr_eq(str![[r#"
error: no database to connect to: neither --database-url nor DATABASE_URL (nor a .env file) gives one
help: pass --database-url postgres://... (or mysql://, sqlite://app.db?mode=rwc), or set DATABASE_URL in the environment or in a .env file

"#]]);
}

#[test]
fn connection_and_url_errors_never_print_the_password() {
    let password = "hunter2-never-printed";
    for url in [
        format!("postgres://root:{password}@127.0.0.1:9/test"),
        format!("mysql://root:{password}@127.0.0.1/test?ssl-mode=sometimes"),
        format!("postgres://root:{password}@127.0.0.1:notaport/test"),
        format!("postgres://root:{password}@127.0.0.1/test?sslmode=sometimes"),
    ] {
        let output = project()
            .cmd(&["status", "--dir", "migrations", "--connect-timeout", "0.2"])
            .env("DATABASE_URL", &url)
            .output()
            .unwrap();
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!output.status.success(), "{url}: {printed}");
        assert!(!printed.contains(password), "{url}: {printed}");
    }
}

#[test]
fn the_database_url_comes_from_a_dot_env_file() {
    let sandbox = project();
    sandbox.write(
        ".env",
        &format!(
            "DATABASE_URL=sqlite://{}/app.db?mode=rwc\n",
            sandbox.path().display()
        ),
    );
    sandbox
        .cmd(&["upgrade", "--dir", "migrations"])
        .assert()
        .success();
    sandbox
        .cmd(&["current", "--dir", "migrations"])
        .assert()
        .success()
        .stdout_eq("2 add_teams (head)\n");
}

/// A package named `name` depending on this checkout's runtime, with one SQL revision (`items`);
/// each test adds its Rust revisions. Runner tests name their packages apart: runners share one
/// build directory, where a runner's binary is named after its package.
pub(crate) fn rust_package(name: &str) -> Sandbox {
    let sandbox = Sandbox::new();
    let runtime = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../dbmigrate-runtime")
        .canonicalize()
        .unwrap();
    sandbox.write(
        "Cargo.toml",
        &format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n[workspace]\n\n\
             [package.metadata.dbmigrate]\ndir = \"migrations\"\n\n\
             [dependencies]\ndbmigrate-runtime = {{ path = {runtime:?} }}\n\n\
             [build-dependencies]\ndbmigrate-runtime = {{ path = {runtime:?} }}\n"
        ),
    );
    sandbox.write("src/main.rs", "fn main() {}\n");
    // The workspace's lock file keeps the runner on versions already built (and downloaded).
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock"),
        sandbox.path().join("Cargo.lock"),
    )
    .unwrap();
    sandbox.write(
        "migrations/V1__create_items.sql",
        "-- Revises:\n-- migrate:upgrade\nCREATE TABLE items (id INTEGER PRIMARY KEY, label VARCHAR(50), label_upper VARCHAR(50));\n\
         -- migrate:downgrade\nDROP TABLE items;\n",
    );
    sandbox
}

/// A package with a Rust data step, depending on this checkout's runtime.
fn package_with_a_rust_step() -> Sandbox {
    let sandbox = rust_package("inventory");
    sandbox.write(
        "migrations/V2__stock_items.rs",
        "//! Message: stock items\n//! Revises: 1\n\n\
         use dbmigrate_runtime::BoxError;\nuse dbmigrate_runtime::data::{Context, Value};\n\n\
         pub async fn upgrade(cx: &mut Context<'_>) -> Result<(), BoxError> {\n    \
             let rows = (1..=500_i64).map(|id| [Value::from(id), Value::from(format!(\"item {id}\"))]);\n    \
             cx.bulk_insert(\"items\", &[\"id\", \"label\"], rows).await?;\n    \
             cx.backfill(\"items\", \"id\", \"label_upper = UPPER(label)\").batch_size(100).run().await?;\n    \
             Ok(())\n}\n\n\
         pub async fn downgrade(cx: &mut Context<'_>) -> Result<(), BoxError> {\n    \
             cx.execute(\"DELETE FROM items\", &[]).await?;\n    Ok(())\n}\n",
    );
    sandbox
}

/// The build directory nested builds share (the embedding test uses it too), so the runner's
/// dependencies are compiled once per test run.
fn nested_target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(
            || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
            std::path::PathBuf::from,
        )
        .join("embed-test")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_steps_run_through_the_runner_on_every_backend() {
    let sandbox = package_with_a_rust_step();
    // One backend after the other: the first run builds the runner, the others reuse it.
    for server in dbmigrate_test_support::Server::ALL {
        let db = crate::support::TestDb::new(server).await;
        let run = |args: &[&str]| {
            sandbox
                .cmd(args)
                .env("DATABASE_URL", &db.url)
                .env("DBMIGRATE_RUNNER_TARGET_DIR", nested_target_dir())
                .env("CARGO_NET_OFFLINE", "true")
        };
        run(&["upgrade"]).assert().success().stdout_eq(str![[r#"
applied 2 revisions in [..] ms:
  1 create_items (sql, [..] ms)
  2 stock_items (rust, [..] ms)
database is now at 2

"#]]);
        assert_eq!(
            db.integer("SELECT COUNT(*) FROM items WHERE label_upper = 'ITEM 42'")
                .await,
            1,
            "{server:?}"
        );
        run(&["downgrade", "1"]).assert().success();
        assert_eq!(
            db.integer("SELECT COUNT(*) FROM items").await,
            0,
            "{server:?}"
        );
        run(&["status", "--check"]).assert().code(7);
    }
}

/// `cargo dbmigrate <args>` in a package with Rust revisions, against `url`: the runner is built in
/// the shared build directory, without the network.
pub(crate) fn in_package(sandbox: &Sandbox, url: &str, args: &[&str]) -> snapbox::cmd::Command {
    sandbox
        .cmd(args)
        .env("DATABASE_URL", url)
        .env("DBMIGRATE_RUNNER_TARGET_DIR", nested_target_dir())
        .env("CARGO_NET_OFFLINE", "true")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forked_history_with_rust_steps_is_refused_for_head_and_applied_to_heads() {
    let sandbox = rust_package("forked");
    sandbox.write(
        "migrations/V2__label_items.rs",
        "//! Revises: 1\n\nuse dbmigrate_runtime::BoxError;\nuse dbmigrate_runtime::data::Context;\n\n\
         pub async fn upgrade(cx: &mut Context<'_>) -> Result<(), BoxError> {\n    \
             cx.execute(\"INSERT INTO items (id, label) VALUES (1, 'one')\", &[]).await?;\n    Ok(())\n}\n",
    );
    sandbox.write(
        "migrations/V3__create_tags.sql",
        "-- Revises: 1\n-- migrate:upgrade\nCREATE TABLE tags (id INTEGER PRIMARY KEY);\n-- migrate:downgrade\nDROP TABLE tags;\n",
    );
    // One backend after the other: the first run builds the runner, the others reuse it.
    for server in dbmigrate_test_support::Server::ALL {
        let db = crate::support::TestDb::new(server).await;
        let run = |args: &[&str]| in_package(&sandbox, &db.url, args);
        // The runner embeds the fork, and refuses `head` exactly as the CLI does for SQL revisions.
        run(&["upgrade"]).assert().code(1).stdout_eq("").stderr_eq(str![[r#"
...
error: the history has 2 heads (2, 3); upgrade to one of them, to `heads`, or join them with `cargo dbmigrate merge`

"#]]);
        assert!(!db.has_table("items").await, "{server:?}");
        run(&["upgrade", "heads"])
            .assert()
            .success()
            .stdout_eq(str![[r#"
applied 3 revisions in [..] ms:
  1 create_items (sql, [..] ms)
  2 label_items (rust, [..] ms)
  3 create_tags (sql, [..] ms)
database is now at 2, 3

"#]]);
        assert_eq!(
            db.integer("SELECT COUNT(*) FROM items").await,
            1,
            "{server:?}"
        );
        // `status` reads the files in the CLI's own process: the checksums it computes for the Rust
        // revision agree with those the runner recorded from its embedded copy.
        run(&["status", "--check"]).assert().success();
    }
}

/// A package whose Rust revision has a type error.
fn package_with_a_rust_revision_that_does_not_compile(name: &str) -> Sandbox {
    let sandbox = rust_package(name);
    sandbox.write(
        "migrations/V2__count_items.rs",
        "//! Message: count items\n//! Revises: 1\n\nuse dbmigrate_runtime::BoxError;\nuse dbmigrate_runtime::data::Context;\n\n\
         pub async fn upgrade(_cx: &mut Context<'_>) -> Result<(), BoxError> {\n    \
             let count: i64 = \"not a number\";\n    let _ = count;\n    Ok(())\n}\n",
    );
    sandbox
}

on_every_backend! {
    async fn commands_that_need_no_rust_step_work_while_a_rust_revision_does_not_compile(db) {
        let sandbox = package_with_a_rust_revision_that_does_not_compile("uncompiled");
        let run = |args: &[&str]| in_package(&sandbox, &db.url, args);
        run(&["status"]).assert().success().stdout_eq(str![[r#"
database: [..] (history table `refinery_schema_history`)
the history table does not exist yet: nothing is applied
current:  base
head:     2
applied:  0 revision(s)
pending:  2 revision(s)
  1 create_items (sql)
  2 count_items (rust)
...
"#]]);
        run(&["upgrade", "--dry-run"]).assert().success().stdout_eq(str![[r#"
would apply 2 revisions:
  1 create_items (sql)
  2 count_items (rust)
nothing was changed (dry run)

"#]]);
        run(&["stamp", "1"]).assert().success();
        run(&["current"]).assert().success().stdout_eq("1 create_items\n");
        // The Rust revision's checksum comes from its file, compiled or not.
        run(&["stamp", "2"]).assert().success();
        run(&["status", "--check"]).assert().success();
        run(&["resolve", "2", "--reverted"]).assert().code(2).stderr_eq(str![[r#"
error: revision 2 has nothing to resolve[..]

"#]]);
        run(&["repair"]).assert().success();
        assert_eq!(db.applied_versions().await, [1, 2]);
        assert!(
            !sandbox.path().join("target/dbmigrate").exists(),
            "a command that runs no Rust step wrote the runner"
        );
    }
}

#[test]
fn upgrade_says_the_runner_did_not_build_and_what_works_without_it() {
    let sandbox = package_with_a_rust_revision_that_does_not_compile("uncompiled-upgrade");
    let database = sandbox.path().join("never.db");
    let url = format!("sqlite://{}?mode=rwc", database.display());
    in_package(&sandbox, &url, &["upgrade"])
        .env("NO_COLOR", "1")
        .assert()
        .code(8)
        .stdout_eq("")
        .stderr_eq(str![[r#"
...
error: the runner for the Rust revisions did not build, and `upgrade` runs them through it (cargo's messages are above)
help: cargo reports errors in migrations/V2__count_items.rs: fix them (`cargo build` of the application reports the same); `status`, `current`, `stamp`, `resolve`, `repair` and `upgrade --dry-run` work without the runner

"#]]);
    assert!(!database.exists(), "the database was touched");
}

#[tokio::test]
async fn the_database_password_never_reaches_a_command_line() {
    // The runner's data step records its own command line; PostgreSQL's trust authentication
    // accepts the URL's password without checking it.
    let sandbox = rust_package("argv-probe");
    sandbox.write(
        "migrations/V2__record_argv.rs",
        "//! Revises: 1\n\nuse dbmigrate_runtime::BoxError;\nuse dbmigrate_runtime::data::{Context, Value};\n\n\
         pub async fn upgrade(cx: &mut Context<'_>) -> Result<(), BoxError> {\n    \
             let argv: Vec<String> = std::env::args().collect();\n    \
             cx.execute(\"CREATE TABLE runner_argv (argv TEXT)\", &[]).await?;\n    \
             cx.execute(\"INSERT INTO runner_argv (argv) VALUES (?)\", &[Value::from(argv.join(\" \"))]).await?;\n    \
             Ok(())\n}\n",
    );
    let db = crate::support::TestDb::new(dbmigrate_test_support::Server::Postgres).await;
    let password = "hunter2-never-in-argv";
    let url = db
        .url
        .replacen("://root@", &format!("://root:{password}@"), 1);
    assert!(url.contains(password), "{url}");
    let output = in_package(&sandbox, &url, &["upgrade"]).output().unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{printed}");
    assert!(!printed.contains(password), "{printed}");
    let argv = db.texts("SELECT argv FROM runner_argv").await;
    let [Some(argv)] = argv.as_slice() else {
        panic!("the data step recorded {argv:?}")
    };
    assert!(argv.contains("dbmigrate-runner-argv-probe"), "{argv}");
    assert!(
        !argv.contains(password),
        "the runner's command line holds the password: {argv}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_killed_by_a_signal_or_panicking_is_reported_as_an_unknown_outcome() {
    let sandbox = rust_package("interrupted-runner");
    // The data step kills its own process mid-transaction, as the OOM killer or `kill -9` would, or
    // panics when STEP_ENDS_BY says so (the runner inherits the CLI's environment).
    sandbox.write(
        "migrations/V2__interrupted.rs",
        "//! Revises: 1\n\nuse dbmigrate_runtime::BoxError;\nuse dbmigrate_runtime::data::Context;\n\n\
         pub async fn upgrade(cx: &mut Context<'_>) -> Result<(), BoxError> {\n    \
             cx.execute(\"INSERT INTO items (id, label) VALUES (1, 'half')\", &[]).await?;\n    \
             if std::env::var(\"STEP_ENDS_BY\").as_deref() == Ok(\"panic\") {\n        panic!(\"the data step gave up\");\n    }\n    \
             std::process::Command::new(\"kill\").args([\"-KILL\", &std::process::id().to_string()]).status()?;\n    \
             std::thread::sleep(std::time::Duration::from_secs(60));\n    Ok(())\n}\n",
    );
    for server in dbmigrate_test_support::Server::ALL {
        let db = crate::support::TestDb::new(server).await;
        let run = |args: &[&str]| in_package(&sandbox, &db.url, args);
        run(&["upgrade"]).assert().code(9).stdout_eq("").stderr_eq(str![[r#"
...
error: the runner was killed by signal 9 (SIGKILL) before `upgrade head` finished, so what it changed in the database is unknown here
help: `cargo dbmigrate status` tells where the database stands: what committed is in the history, and a revision cut short part-way is listed as unfinished

"#]]);
        assert!(!db.applied_versions().await.contains(&2), "{server:?}");
        run(&["status"]).assert().success();
        // A panic is one summary line naming the place and the message (the usual panic output
        // only with RUST_BACKTRACE).
        run(&["upgrade", "2"]).env("STEP_ENDS_BY", "panic").env_remove("RUST_BACKTRACE").assert().code(9).stdout_eq("").stderr_eq(str![[r#"
...
error: a Rust data step panicked at migrations/V2__interrupted.rs:9:9: the data step gave up
`upgrade` stopped there, so what it changed in the database is unknown here
help: `cargo dbmigrate status` tells where the database stands: a revision that ran in a transaction was rolled back with it, one cut short part-way is listed as unfinished; RUST_BACKTRACE=1 shows the backtrace

"#]]);
        assert!(!db.applied_versions().await.contains(&2), "{server:?}");
    }
}

#[test]
fn broken_revisions_are_refused_before_the_database_is_touched() {
    // Every case of the hostile corpus with an error in its files: `upgrade` exits 1 and never even
    // creates the SQLite file its URL names. (Problems in the SQL depend on the dialect, and are
    // refused by the migrator once it knows the database and its plan: see
    // `sql_that_would_not_run_as_written_exits_1_before_anything_runs`.)
    let corpus = crate::support::fixtures().join("hostile");
    let mut cases: Vec<std::path::PathBuf> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    let mut refused = 0;
    for case in cases {
        let expected = std::fs::read_to_string(case.join("EXPECTED")).unwrap();
        let has_error = expected.lines().any(|line| {
            ![
                "empty-revision ",
                "unterminated-sql ",
                "delimiter-command ",
                "transaction-control ",
            ]
            .iter()
            .any(|code| line.starts_with(code))
        });
        if !has_error {
            continue;
        }
        let sandbox = Sandbox::new();
        let database = sandbox.path().join("never.db");
        let output = sandbox
            .cmd(&["upgrade", "--dir", case.to_str().unwrap()])
            .env(
                "DATABASE_URL",
                format!("sqlite://{}?mode=rwc", database.display()),
            )
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(1),
            "{}: {}",
            case.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            !database.exists(),
            "{}: the database was created",
            case.display()
        );
        refused += 1;
    }
    assert!(refused >= 50, "only {refused} hostile cases have errors");
}

on_every_backend! {
    async fn a_hostile_table_name_is_a_usage_error_and_touches_nothing(db) {
        db.execute("CREATE TABLE victim (id INT)").await;
        let sandbox = project();
        for name in ["x(a); DROP TABLE victim; --", "victim`--", "victim\"--", &"h".repeat(54)] {
            for command in [&["upgrade"][..], &["status"], &["upgrade", "--sql", "--backend", "sqlite"]] {
                let output = sandbox
                    .cmd(command)
                    .args(["--dir", "migrations", "--table", name])
                    .env("DATABASE_URL", &db.url)
                    .output()
                    .unwrap();
                let stderr = String::from_utf8_lossy(&output.stderr);
                assert_eq!(output.status.code(), Some(2), "{command:?} {name:?}: {stderr}");
                assert!(stderr.contains("invalid value") && stderr.contains("--table <TABLE>"), "{stderr}");
                assert!(output.stdout.is_empty());
            }
        }
        assert!(db.has_table("victim").await);
        assert!(!db.has_table("users").await && !db.has_table("refinery_schema_history").await);
    }
}

#[test]
fn a_configured_table_name_too_long_for_its_side_table_is_a_configuration_error() {
    let sandbox = project();
    sandbox.write(
        "Cargo.toml",
        &format!(
            "[package]\nname = \"x\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n[package.metadata.dbmigrate]\ntable = \"{}\"\n",
            "h".repeat(54)
        ),
    );
    sandbox
        .cmd(&["upgrade", "--sql", "--backend", "postgres", "--dir", "migrations"])
        .assert()
        .code(3)
        .stderr_eq(str![[r#"
error: Cargo.toml: [package.metadata.dbmigrate]: table = "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh" is 54 characters long: `hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh_dbmigrate`, which dbmigrate derives from it, would not fit PostgreSQL's 63-character identifier limit; use at most 53 characters
help: see the Configuration section of the README for the keys and their values

"#]]);
}

#[test]
fn sql_that_would_not_run_as_written_exits_1_before_anything_runs() {
    let sandbox = project();
    sandbox.write(
        "migrations/V3__teams_comment.sql",
        "-- Revises: 2\n-- migrate:upgrade\n/* teams /* and members */\nALTER TABLE teams ADD COLUMN size INT;\n",
    );
    // PostgreSQL nests the comment, so it never closes: `--sql` refuses to print the script.
    sandbox
        .cmd(&["upgrade", "--sql", "--backend", "postgres", "--dir", "migrations"])
        .assert()
        .code(1)
        .stdout_eq("")
        .stderr_eq(str![[r#"
error: 1 problem(s) in the revisions:
  migrations/V3__teams_comment.sql:3: this block comment is never closed (in PostgreSQL), so everything after it to the end of the section is part of it
    help: close it with `*/`; PostgreSQL nests block comments, so every `/*` inside it needs its own `*/`

"#]]);
    // SQLite ends it at the first `*/`: the script prints.
    sandbox
        .cmd(&[
            "upgrade",
            "--sql",
            "--backend",
            "sqlite",
            "--dir",
            "migrations",
        ])
        .assert()
        .success();
    // Transaction control in a transactional revision is refused online, exit 1, nothing created.
    sandbox.write(
        "migrations/V3__teams_comment.sql",
        "-- Revises: 2\n-- migrate:upgrade\nALTER TABLE teams ADD COLUMN size INT;\nCOMMIT;\n",
    );
    let database = sandbox.path().join("app.db");
    let url = format!("sqlite://{}?mode=rwc", database.display());
    sandbox
        .cmd(&["upgrade", "--dir", "migrations"])
        .env("DATABASE_URL", &url)
        .assert()
        .code(1)
        .stderr_eq(str![[r#"
error: 1 problem(s) in the revisions:
  migrations/V3__teams_comment.sql:4: `COMMIT` takes over the transaction of revision 3 (in SQLite): what runs before it could commit without the revision's history row, and a later failure could not undo it
    help: dbmigrate already runs the revision in a transaction: remove `COMMIT`, or write `Transaction: none` in the header to run its statements one by one as written, or split the revision in two

"#]]);
    sandbox
        .cmd(&["status", "--dir", "migrations"])
        .env("DATABASE_URL", &url)
        .assert()
        .success()
        .stdout_eq(str![[r#"
database: SQLite (history table `refinery_schema_history`)
the history table does not exist yet: nothing is applied
...
"#]]);
}

/// On a PostgreSQL standby and a read-only MariaDB replica: `upgrade` (even with nothing to do),
/// `downgrade` and `stamp` exit 10 naming the server's role, before the lock, and `status` and
/// `current` read the history the primary wrote.
async fn a_read_only_server_refuses_upgrade_and_answers_status(component: Component) {
    let db = TopologyDb::new(component).await;
    let sandbox = project();
    let run = |url: &str, args: &[&str]| {
        sandbox
            .cmd(args)
            .env("DATABASE_URL", url)
            .arg("--dir")
            .arg("migrations")
    };
    let role = match component {
        Component::PostgresStandby => {
            "a PostgreSQL standby (in recovery: pg_is_in_recovery() is true)"
        }
        _ => "a read-only MariaDB/MySQL server (`read_only` is ON, as on a replica)",
    };
    run(db.second_url(), &["upgrade"])
        .assert()
        .code(10)
        .stdout_eq("")
        .stderr_eq(format!(
            "error: cannot upgrade here: this server is {role}; migrations run on the primary: point the URL at it. \
             Nothing was locked or written. `status` and `current` work here, read-only; an application replica \
             that starts before the primary's migration has replicated waits for it with `Migrator::wait_for`\n"
        ));
    run(db.first_url(), &["upgrade", "1"]).assert().success();
    // The standby catches up by itself; `current` reads it there.
    let started = std::time::Instant::now();
    while run(db.second_url(), &["current"])
        .output()
        .expect("run")
        .stdout
        != b"1 create_users\n"
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the history never reached the standby"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    run(db.second_url(), &["status", "--check"])
        .assert()
        .code(7)
        .stdout_eq(str![[r#"
database: [..] (history table `refinery_schema_history`)
current:  1
head:     2
applied:  1 revision(s)
pending:  1 revision(s)
  2 add_teams (sql)
run `cargo dbmigrate upgrade` to apply the pending revisions

"#]]);
    // Refused even with nothing to write: the standby is the wrong server whether or not it has
    // caught up. A dry run only looks.
    run(db.second_url(), &["upgrade", "1"]).assert().code(10);
    run(db.second_url(), &["upgrade", "--dry-run"])
        .assert()
        .success();
    run(db.second_url(), &["downgrade", "base"])
        .assert()
        .code(10);
    run(db.second_url(), &["stamp", "2"]).assert().code(10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_standby_refuses_upgrade_and_answers_status() {
    a_read_only_server_refuses_upgrade_and_answers_status(Component::PostgresStandby).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mariadb_replica_refuses_upgrade_and_answers_status() {
    a_read_only_server_refuses_upgrade_and_answers_status(Component::MariaDbReplica).await;
}

on_every_backend! {
    async fn json_reports_have_integer_milliseconds_and_a_dry_run_says_so(db) {
        let sandbox = project();
        let run = |args: &[&str]| sandbox.cmd(args).env("DATABASE_URL", &db.url).arg("--dir").arg("migrations");
        run(&["upgrade", "1", "--format", "json"]).assert().success().stdout_eq(str![[r#"
{
  "direction": "upgrade",
  "kind": "applied",
  "steps": [
    {
      "version": 1,
      "name": "create_users",
      "kind": "sql",
      "duration_ms": [..]
    }
  ],
  "elapsed_ms": [..],
  "current": [
    1
  ]
}

"#]]);
        let output = run(&["upgrade", "--format", "json"]).output().unwrap();
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert!(report["elapsed_ms"].is_u64(), "{report}");
        assert!(report["steps"][0]["duration_ms"].is_u64(), "{report}");
        // Nothing pending: a dry run still says it ran nothing.
        run(&["upgrade", "--dry-run", "--format", "json"]).assert().success().stdout_eq(str![[r#"
{
  "direction": "upgrade",
  "kind": "dry-run",
  "steps": [],
  "elapsed_ms": [..],
  "current": [
    2
  ]
}

"#]]);
        run(&["upgrade", "--dry-run"]).assert().success().stdout_eq("database is up to date at 2; nothing would be applied (dry run)\n");
    }
}
