//! Errors name their real cause and the next command that works: a revision is blamed only for what
//! its own SQL did, never for a lock another transaction held, a missing privilege, a damaged
//! history table or a lost connection; the database's own words come through (PostgreSQL's DETAIL
//! and HINT, the file line its error points at) without the server's source line; and `status`,
//! `resolve` and the advice for unfinished revisions offer only what will work.

use std::time::Duration;

use dbmigrate_runtime::data::{Context, StepFuture};
use dbmigrate_runtime::migrator::{Diagnosis, Error, FailureCause};
use dbmigrate_runtime::{Backend, Migrator, Resolution, RustStep};
use dbmigrate_test_support::Server;

use crate::support::{TestDb, on_every_backend, revisions};

const TABLE: (&str, &str) = (
    "V1__accounts.sql",
    "CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner VARCHAR(50));\nINSERT INTO accounts (id, owner) VALUES (1, 'ada');\n",
);

fn failure(error: &Error) -> &dbmigrate_runtime::migrator::RevisionFailure {
    match error {
        Error::Revision(failure) => failure,
        other => panic!("expected a revision failure, got: {other}"),
    }
}

on_every_backend! {
    async fn a_lock_another_transaction_holds_is_not_blamed_on_the_revision(db) {
        let migrations = revisions(&[TABLE]);
        Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        // The revision waits for a row another session keeps locked, with a short wait allowed.
        let wait = match db.backend {
            Backend::Postgres => "SET LOCAL lock_timeout = '200ms';\n",
            Backend::MySql => "SET SESSION innodb_lock_wait_timeout = 1;\n",
            Backend::Sqlite => "",
        };
        let update = format!("-- Revises: 1\n{wait}UPDATE accounts SET owner = 'grace' WHERE id = 1;\n");
        let migrations = revisions(&[TABLE, ("V2__rename.sql", &update)]);
        let held = db.hold("UPDATE accounts SET owner = 'held' WHERE id = 1").await;
        let error = Migrator::new(&migrations)
            .lock_timeout(Duration::from_secs(2))
            .upgrade(&db.pool)
            .await
            .unwrap_err();
        held.release().await;
        let text = error.to_string();
        match db.backend {
            // SQLite's write lock is the whole database's: waiting for it is waiting for the
            // migration lock's peer, and times out as such.
            Backend::Sqlite => {
                assert!(matches!(error, Error::DatabaseLocked { .. }), "{text}");
                assert!(text.contains("could not get SQLite's write lock") && text.contains("within the lock timeout (2.0 s)"), "{text}");
                assert!(text.contains("another connection to the database (the application, or a tool) holds"), "{text}");
                assert_eq!(dbmigrate_runtime::online::ErrorKind::of(&error), dbmigrate_runtime::online::ErrorKind::LockTimeout);
            }
            _ => {
                assert_eq!(failure(&error).cause.diagnosis(), Diagnosis::Conflict, "{text}");
                assert!(!text.contains("Fix the revision"), "{text}");
                assert!(text.contains("the revision is not at fault"), "{text}");
                assert!(text.contains("run `cargo dbmigrate upgrade` again"), "{text}");
            }
        }
        assert_eq!(db.applied_versions().await, [1]);
    }
}

on_every_backend! {
    async fn a_history_table_that_refuses_its_row_is_not_blamed_on_the_revision(db) {
        let migrations = revisions(&[TABLE]);
        Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        // Someone added a column refinery's rows cannot fill.
        db.execute("ALTER TABLE refinery_schema_history ADD COLUMN approved_by VARCHAR(20) NOT NULL DEFAULT 'x'").await;
        let strict = match db.backend {
            Backend::Postgres => "ALTER TABLE refinery_schema_history ALTER COLUMN approved_by DROP DEFAULT",
            Backend::MySql => "ALTER TABLE refinery_schema_history ALTER COLUMN approved_by DROP DEFAULT",
            // SQLite cannot drop a default: refuse inserts with a trigger instead.
            Backend::Sqlite => "CREATE TRIGGER no_more BEFORE INSERT ON refinery_schema_history BEGIN SELECT RAISE(ABORT, 'history is frozen'); END",
        };
        db.execute(strict).await;
        if db.backend == Backend::MySql {
            db.execute("SET GLOBAL sql_mode = @@GLOBAL.sql_mode").await;
        }
        let migrations = revisions(&[TABLE, ("V2__more.sql", "-- Revises: 1\nINSERT INTO accounts (id, owner) VALUES (2, 'alan');\n")]);
        let error = Migrator::new(&migrations).upgrade(&db.pool).await.unwrap_err();
        let failure = failure(&error);
        let text = error.to_string();
        assert!(matches!(failure.cause, FailureCause::Recording(_)), "{text}");
        assert!(text.contains("writing its history failed"), "{text}");
        assert!(!text.contains("Fix the revision"), "{text}");
        assert!(text.contains("refinery_schema_history"), "{text}");
        // Nothing of it stays where DDL and data are transactional; its row never landed anywhere.
        assert_eq!(db.applied_versions().await, [1]);
        if db.backend != Backend::MySql {
            assert_eq!(db.integer("SELECT COUNT(*) FROM accounts").await, 1);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_errors_keep_detail_and_hint_point_at_the_file_line_and_drop_the_server_source() {
    let db = TestDb::new(Server::Postgres).await;
    let migrations = revisions(&[
        TABLE,
        (
            "V2__copy.sql",
            "-- Revises: 1\nINSERT INTO accounts (id, owner) VALUES (3, 'x');\n\
             INSERT INTO accounts (id, owner)\n  SELECT id,\n         no_such_function(owner)\n  FROM accounts;\n",
        ),
    ]);
    let error = Migrator::new(&migrations)
        .upgrade(&db.pool)
        .await
        .unwrap_err();
    let text = error.to_string();
    let statement = failure(&error).statement.clone().unwrap();
    assert_eq!(
        (statement.index, statement.line, statement.error_line),
        (2, 3, Some(5)),
        "{text}"
    );
    assert!(
        text.contains("failed at line 5 (statement 2 of 2, from line 3)"),
        "{text}"
    );
    assert!(
        text.contains("PostgreSQL error 42883: function no_such_function"),
        "{text}"
    );
    assert!(text.contains("HINT: No function matches"), "{text}");
    assert!(
        !text.contains(" at line 1") || text.contains("at line 5"),
        "{text}"
    );
    assert!(!text.contains("error returned from database"), "{text}");

    let duplicate = revisions(&[
        TABLE,
        (
            "V2__again.sql",
            "-- Revises: 1\nINSERT INTO accounts (id, owner) VALUES (1, 'again');\n",
        ),
    ]);
    let error = Migrator::new(&duplicate)
        .upgrade(&db.pool)
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("DETAIL: Key (id)=(1) already exists."),
        "{text}"
    );
    // The server's own source file line ("at line 1188" of nbtinsert.c) is not ours to show.
    assert!(!regex_like_server_line(&text), "{text}");
}

/// Whether the text ends a line with sqlx's " at line N" of the server's C source.
fn regex_like_server_line(text: &str) -> bool {
    text.lines().any(|line| {
        line.rsplit_once(" at line ").is_some_and(|(before, n)| {
            n.chars().all(|c| c.is_ascii_digit()) && before.contains("PostgreSQL error")
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_syntax_errors_point_at_the_file_line() {
    let db = TestDb::new(Server::MySql).await;
    let migrations = revisions(&[
        TABLE,
        (
            "V2__bad.sql",
            "-- Revises: 1\nUPDATE accounts\n   SET owner = 'a'\n WHERE id = = 1;\n",
        ),
    ]);
    let error = Migrator::new(&migrations)
        .upgrade(&db.pool)
        .await
        .unwrap_err();
    let statement = failure(&error).statement.clone().unwrap();
    assert_eq!(
        (statement.line, statement.error_line),
        (2, Some(4)),
        "{error}"
    );
    assert!(
        error.to_string().contains("MySQL/MariaDB error 1064"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_concurrent_index_names_the_invalid_index_to_drop() {
    let db = TestDb::new(Server::Postgres).await;
    let migrations = revisions(&[
        TABLE,
        (
            "V2__dup.sql",
            "-- Revises: 1\nINSERT INTO accounts (id, owner) VALUES (2, 'ada');\n",
        ),
        (
            "V3__unique_owner.sql",
            "-- Revises: 2\n-- Transaction: none\nCREATE TABLE audit (id INTEGER);\nCREATE UNIQUE INDEX CONCURRENTLY accounts_owner ON accounts (owner);\n",
        ),
    ]);
    let error = Migrator::new(&migrations)
        .upgrade(&db.pool)
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("PostgreSQL leaves the index `accounts_owner` behind, marked INVALID"),
        "{text}"
    );
    assert!(
        text.contains("DROP INDEX CONCURRENTLY accounts_owner;"),
        "{text}"
    );
    assert_eq!(
        db.integer("SELECT COUNT(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'accounts_owner' AND NOT i.indisvalid").await,
        1,
        "the advice is about an index that is really there"
    );
}

on_every_backend! {
    async fn status_does_not_advise_an_upgrade_that_will_refuse(db) {
        let migrations = revisions(&[TABLE]);
        Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        let edited = (TABLE.0, "CREATE TABLE accounts (id BIGINT PRIMARY KEY, owner VARCHAR(50));\nINSERT INTO accounts (id, owner) VALUES (1, 'ada');\n");
        let changed = revisions(&[edited, ("V2__next.sql", "-- Revises: 1\nCREATE TABLE next_one (id INTEGER);\n")]);
        let status = Migrator::new(&changed).status(&db.pool).await.unwrap();
        let text = status.to_string();
        assert!(!text.contains("run `cargo dbmigrate upgrade` to apply"), "{text}");
        assert!(text.contains("`cargo dbmigrate upgrade` refuses"), "{text}");
        // And it is right: upgrade refuses.
        assert!(matches!(Migrator::new(&changed).upgrade(&db.pool).await, Err(Error::History(_))));
    }
}

fn failing_step<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        cx.execute("INSERT INTO accounts (id, owner) VALUES (5, 'step')", &[])
            .await?;
        Err("the step gave up".into())
    })
}

on_every_backend! {
    async fn a_rust_step_left_unfinished_is_never_offered_a_resume(db) {
        let migrations = revisions(&[TABLE, ("V2__step.rs", "//! Revises: 1\n//! Transaction: none\n")])
            .with_rust_steps(&[RustStep { version: 2, upgrade: failing_step, downgrade: None }]);
        Migrator::new(&migrations).upgrade(&db.pool).await.unwrap_err();
        let status = Migrator::new(&migrations).status(&db.pool).await.unwrap();
        let text = status.to_string();
        assert!(text.contains("revision 2"), "{text}");
        assert!(!text.contains("--resume"), "{text}");
        assert!(text.contains("resolve 2 --applied") && text.contains("resolve 2 --reverted"), "{text}");

        // The way out it offers works, and says what it did.
        db.execute("DELETE FROM accounts WHERE id = 5").await;
        let report = Migrator::new(&migrations).resolve(&db.pool, 2, Resolution::Reverted).await.unwrap();
        let said = report.to_string();
        assert!(!said.contains("nothing to apply"), "{said}");
        assert!(said.contains("recorded revision 2") && said.contains("as not applied"), "{said}");
        let report = Migrator::new(&migrations).resolve(&db.pool, 2, Resolution::Reverted).await;
        assert!(report.is_err(), "nothing is left to resolve");
    }
}

on_every_backend! {
    async fn resolving_as_applied_says_so(db) {
        let migrations = revisions(&[TABLE, ("V2__step.rs", "//! Revises: 1\n//! Transaction: none\n")])
            .with_rust_steps(&[RustStep { version: 2, upgrade: failing_step, downgrade: None }]);
        Migrator::new(&migrations).upgrade(&db.pool).await.unwrap_err();
        let report = Migrator::new(&migrations).resolve(&db.pool, 2, Resolution::Applied).await.unwrap();
        let said = report.to_string();
        assert!(said.contains("recorded revision 2 (step) as applied"), "{said}");
        assert_eq!(db.applied_versions().await, [1, 2]);
    }
}

/// A data step that writes enough to make SQLite take its exclusive lock before committing, then
/// holds it a while, as a long backfill does.
fn long_writer<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        let first = cx.version() * 100_000;
        cx.execute(
            "INSERT INTO accounts (id, owner) WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 60000) \
             SELECT ? + i, printf('%0200d', i) FROM n",
            &[first.into()],
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(6500)).await;
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_status_waits_for_a_long_revision_instead_of_failing_after_five_seconds() {
    let db = TestDb::new(Server::Sqlite).await;
    let migrations: &'static dbmigrate_runtime::Migrations = Box::leak(Box::new(
        revisions(&[TABLE, ("V2__long.rs", "//! Revises: 1\n")]).with_rust_steps(&[RustStep {
            version: 2,
            upgrade: long_writer,
            downgrade: None,
        }]),
    ));
    let pool = db.another_pool(1);
    let upgrading = tokio::spawn(async move { Migrator::new(migrations).upgrade(&pool).await });
    // Once the step is writing, status from another connection has to wait for SQLite's lock.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let started = std::time::Instant::now();
    let status = Migrator::new(migrations).status(&db.pool).await;
    let waited = started.elapsed();
    upgrading.await.unwrap().unwrap();
    let status = status.unwrap_or_else(|e| panic!("status failed after {waited:?}: {e}"));
    assert!(status.at_head || !status.pending.is_empty(), "{status}");

    // With a lock timeout shorter than the wait, it says so, with the lock's holder and exit code 6.
    let pool = db.another_pool(1);
    let again: &'static dbmigrate_runtime::Migrations = Box::leak(Box::new(
        revisions(&[
            TABLE,
            ("V2__long.rs", "//! Revises: 1\n"),
            ("V3__longer.rs", "//! Revises: 2\n"),
        ])
        .with_rust_steps(&[
            RustStep {
                version: 2,
                upgrade: long_writer,
                downgrade: None,
            },
            RustStep {
                version: 3,
                upgrade: long_writer,
                downgrade: None,
            },
        ]),
    ));
    let upgrading = tokio::spawn(async move { Migrator::new(again).upgrade(&pool).await });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let error = Migrator::new(again)
        .lock_timeout(Duration::from_secs(1))
        .status(&db.pool)
        .await
        .unwrap_err();
    upgrading.await.unwrap().unwrap();
    let text = error.to_string();
    assert!(matches!(error, Error::DatabaseLocked { .. }), "{text}");
    assert!(text.contains("could not get SQLite's write lock"), "{text}");
    assert!(
        text.contains("lock file"),
        "the holder is the migrating process: {text}"
    );
    assert_eq!(
        dbmigrate_runtime::online::ErrorKind::of(&error),
        dbmigrate_runtime::online::ErrorKind::LockTimeout
    );
}

fn slow_step<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        cx.execute("INSERT INTO accounts (id, owner) VALUES (9, 'slow')", &[])
            .await?;
        tokio::time::sleep(Duration::from_millis(2500)).await;
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_statement_timeout_does_not_cut_the_wait_for_the_migration_lock() {
    let db = TestDb::new(Server::Postgres).await;
    let migrations: &'static dbmigrate_runtime::Migrations = Box::leak(Box::new(
        revisions(&[TABLE, ("V2__slow.rs", "//! Revises: 1\n")]).with_rust_steps(&[RustStep {
            version: 2,
            upgrade: slow_step,
            downgrade: None,
        }]),
    ));
    let holder = db.another_pool(1);
    let first = tokio::spawn(async move { Migrator::new(migrations).upgrade(&holder).await });
    db.wait_for_table("accounts").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A statement timeout set in the URL (or on the role) applies to every statement of the
    // session; the wait for the migration lock is not a statement of the migration.
    let url = format!("{}?options=-c%20statement_timeout%3D300", db.url);
    let impatient = dbmigrate_runtime::BackendPool::connect_lazy(&url, 1).unwrap();
    let report = Migrator::new(migrations)
        .lock_timeout(Duration::from_secs(20))
        .upgrade(&impatient)
        .await
        .unwrap_or_else(|e| panic!("the wait was cut short: {e}"));
    assert!(
        report.steps.is_empty(),
        "the first runner applied everything: {report}"
    );
    first.await.unwrap().unwrap();

    // And past the lock timeout it is a lock timeout (exit 6), not a database error.
    let migrations: &'static dbmigrate_runtime::Migrations = Box::leak(Box::new(
        revisions(&[
            TABLE,
            ("V2__slow.rs", "//! Revises: 1\n"),
            ("V3__slower.rs", "//! Revises: 2\n"),
        ])
        .with_rust_steps(&[
            RustStep {
                version: 2,
                upgrade: slow_step,
                downgrade: None,
            },
            RustStep {
                version: 3,
                upgrade: slow_step_again,
                downgrade: None,
            },
        ]),
    ));
    let holder = db.another_pool(1);
    let first = tokio::spawn(async move { Migrator::new(migrations).upgrade(&holder).await });
    tokio::time::sleep(Duration::from_millis(800)).await;
    let error = Migrator::new(migrations)
        .lock_timeout(Duration::from_secs(1))
        .upgrade(&impatient)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::LockTimeout { .. }), "{error}");
    first.await.unwrap().unwrap();
}

fn slow_step_again<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        cx.execute(
            "INSERT INTO accounts (id, owner) VALUES (10, 'slower')",
            &[],
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(2500)).await;
        Ok(())
    })
}
