//! Replicas starting at once: the migration lock makes each revision run exactly once, everyone
//! succeeds, and a runner that cannot get the lock in time says who holds it.

use std::time::Duration;

use dbmigrate_runtime::data::{Context, StepFuture};
use dbmigrate_runtime::migrator::Error;
use dbmigrate_runtime::{Backend, Migrations, Migrator, RustStep};

use crate::support::{on_every_backend, revisions};

/// Records each run of revision 2 in `runs`: a revision applied twice would leave two rows.
fn count_run<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        cx.execute("INSERT INTO runs (revision) VALUES (?)", &[2.into()])
            .await?;
        Ok(())
    })
}

/// Holds the lock for a while, as a long data step does.
fn slow<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        cx.execute("INSERT INTO runs (revision) VALUES (?)", &[2.into()])
            .await?;
        tokio::time::sleep(Duration::from_millis(2500)).await;
        Ok(())
    })
}

fn replicated_revisions(step: dbmigrate_runtime::data::StepFn) -> Migrations {
    revisions(&[
        // Committed on its own (on SQLite the others share one transaction), so a test can see that
        // the run has started.
        ("V1__runs.sql", "-- Revises:\n-- Transaction: none\nCREATE TABLE runs (revision INTEGER NOT NULL);\n"),
        ("V2__count.rs", "//! Revises: 1\npub async fn upgrade() {}\n"),
        ("V3__more.sql", "-- Revises: 2\nCREATE TABLE more_things (id INTEGER PRIMARY KEY);\nINSERT INTO runs (revision) VALUES (3);\n"),
    ])
    .with_rust_steps(&[RustStep { version: 2, upgrade: step, downgrade: None }])
}

on_every_backend! {
    async fn sixteen_replicas_apply_each_revision_exactly_once(db) {
        let migrations = replicated_revisions(count_run);
        let migrations: &'static Migrations = Box::leak(Box::new(migrations));
        let mut replicas = Vec::new();
        for _ in 0..16 {
            let pool = db.another_pool(2);
            replicas.push(tokio::spawn(async move {
                let result = Migrator::new(migrations).upgrade(&pool).await;
                pool.close().await;
                result
            }));
        }
        let mut applied_by = Vec::new();
        for replica in replicas {
            let report = replica.await.unwrap().unwrap_or_else(|e| panic!("a replica failed: {e}"));
            applied_by.extend(report.steps.iter().map(|s| s.version));
        }
        applied_by.sort();
        assert_eq!(applied_by, [1, 2, 3], "each revision applied by exactly one replica");
        assert_eq!(db.integer("SELECT COUNT(*) FROM runs WHERE revision = 2").await, 1);
        assert_eq!(db.integer("SELECT COUNT(*) FROM runs WHERE revision = 3").await, 1);
        assert_eq!(db.applied_versions().await, [1, 2, 3]);
    }
}

on_every_backend! {
    async fn a_runner_that_waits_too_long_names_the_holder_and_a_retry_succeeds(db) {
        let migrations: &'static Migrations = Box::leak(Box::new(replicated_revisions(slow)));
        let holder_pool = db.another_pool(1);
        let holder = tokio::spawn(async move { Migrator::new(migrations).upgrade(&holder_pool).await });
        // Revision 1 committed: the holder has the lock and starts the 2.5-second step right after.
        db.wait_for_table("runs").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let waiter = db.another_pool(1);
        let error = Migrator::new(migrations).lock_timeout(Duration::from_millis(400)).upgrade(&waiter).await.unwrap_err();
        let Error::LockTimeout { holder: who, waited, .. } = &error else { panic!("{error}") };
        assert!(*waited >= Duration::from_millis(400), "{waited:?}");
        let who = who.as_deref().unwrap_or_else(|| panic!("the holder is named on {}: {error}", db.backend));
        match db.backend {
            Backend::Postgres => assert!(who.starts_with("PostgreSQL backend pid "), "{who}"),
            Backend::MySql => assert!(who.starts_with("MySQL connection "), "{who}"),
            Backend::Sqlite => assert!(who.starts_with(&format!("process {}", std::process::id())), "{who}"),
        }
        assert!(error.to_string().contains("another process is migrating this database"), "{error}");

        holder.await.unwrap().unwrap();
        // The lock is free again and everything is applied: the retry has nothing to do.
        let retry = Migrator::new(migrations).lock_timeout(Duration::from_millis(400)).upgrade(&waiter).await.unwrap();
        assert!(retry.is_empty());
        assert_eq!(db.integer("SELECT COUNT(*) FROM runs WHERE revision = 2").await, 1);
    }
}

on_every_backend! {
    async fn a_failed_run_releases_the_lock(db) {
        let broken = revisions(&[("V1__broken.sql", "CREATE TABLE broken (id INTEGER PRIMARY KEY;\n")]);
        Migrator::new(&broken).upgrade(&db.pool).await.unwrap_err();
        // Another pool gets the lock at once: the failed run left no session lock behind.
        let other = db.another_pool(1);
        let fixed = revisions(&[("V1__broken.sql", "CREATE TABLE broken (id INTEGER PRIMARY KEY);\n")]);
        Migrator::new(&fixed).lock_timeout(Duration::from_millis(200)).upgrade(&other).await.unwrap();
        assert!(db.has_table("broken").await);
    }
}

on_every_backend! {
    async fn a_dropped_run_frees_the_lock_with_its_connection(db) {
        let migrations: &'static Migrations = Box::leak(Box::new(replicated_revisions(slow)));
        let pool = db.another_pool(1);
        let run = tokio::spawn(async move { Migrator::new(migrations).upgrade(&pool).await });
        db.wait_for_table("runs").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The application gives up on the startup future (a timeout, a shutdown): it is dropped while
        // it holds the lock, mid-revision.
        run.abort();
        let _ = run.await;
        let other = db.another_pool(1);
        let report = Migrator::new(migrations).lock_timeout(Duration::from_secs(5)).upgrade(&other).await.unwrap();
        assert_eq!(report.steps.iter().map(|s| s.version).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(db.integer("SELECT COUNT(*) FROM runs WHERE revision = 2").await, 1, "the dropped run rolled back");
    }
}
