//! Revisions that cannot be one transaction (MySQL DDL, `Transaction: none`): a failure part-way or
//! an interrupted run is recorded in the side table, blocks further upgrades, and is settled with
//! `resolve` (applied, reverted, or resumed from the statement that failed).

use std::time::Duration;

use dbmigrate_runtime::data::{Context, StepFuture};
use dbmigrate_runtime::migrator::{Committed, Error};
use dbmigrate_runtime::{Migrations, Migrator, Resolution, RustStep};

use crate::support::{on_every_backend, revisions};

const BASE: (&str, &str) = (
    "V1__base.sql",
    "CREATE TABLE base (id INTEGER PRIMARY KEY);\n",
);

fn no_transaction(second_statement: &str) -> String {
    format!(
        "-- Revises: 1\n-- Transaction: none\nCREATE TABLE alpha (id INTEGER PRIMARY KEY);\n{second_statement};\n\
         CREATE TABLE beta (id INTEGER PRIMARY KEY);\n"
    )
}

on_every_backend! {
    async fn a_failure_part_way_is_recorded_and_resumed_after_the_fix(db) {
        let broken_text = no_transaction("INSERT INTO alpha (id, nope) VALUES (1, 2)");
        let broken = revisions(&[BASE, ("V2__split.sql", &broken_text)]);
        let error = Migrator::new(&broken).upgrade(&db.pool).await.unwrap_err();
        let Error::Revision(failure) = &error else { panic!("{error}") };
        assert_eq!(failure.committed, Committed::Statements(1));
        assert!(error.to_string().contains("statements 1 to 1 committed before the failure"), "{error}");
        assert!(db.has_table("alpha").await && !db.has_table("beta").await);

        let status = Migrator::new(&broken).status(&db.pool).await.unwrap();
        let unfinished = &status.problems.unfinished;
        assert_eq!(unfinished.len(), 1);
        assert_eq!((unfinished[0].version, unfinished[0].statement_index, unfinished[0].statement_line), (2, Some(2), Some(4)));
        let text = status.to_string();
        assert!(text.contains("revision 2 is partially applied"), "{text}");
        assert!(text.contains("cargo dbmigrate resolve 2 --resume"), "{text}");

        // Nothing else runs while it is unsettled.
        let error = Migrator::new(&broken).upgrade(&db.pool).await.unwrap_err();
        assert!(matches!(error, Error::History(_)), "{error}");

        // An edit to a statement that already ran is refused: resuming would skip it.
        let rewritten_text = no_transaction("INSERT INTO alpha (id) VALUES (1)").replace("alpha (id INTEGER PRIMARY KEY)", "alpha (id BIGINT PRIMARY KEY)");
        let rewritten = revisions(&[BASE, ("V2__split.sql", &rewritten_text)]);
        let error = Migrator::new(&rewritten).abort_divergent(false).resolve(&db.pool, 2, Resolution::Resume).await.unwrap_err();
        assert!(error.to_string().contains("statements 1 to 1, which completed, are not the same"), "{error}");

        let fixed_text = no_transaction("INSERT INTO alpha (id) VALUES (1)");
        let fixed = revisions(&[BASE, ("V2__split.sql", &fixed_text)]);
        let report = Migrator::new(&fixed).resolve(&db.pool, 2, Resolution::Resume).await.unwrap();
        assert_eq!(report.steps.len(), 1);
        assert!(db.has_table("beta").await);
        assert_eq!(db.integer("SELECT COUNT(*) FROM alpha").await, 1);
        assert!(Migrator::new(&fixed).status(&db.pool).await.unwrap().at_head);
    }
}

on_every_backend! {
    async fn a_partial_revision_undone_by_hand_runs_again(db) {
        let broken_text = no_transaction("INSERT INTO alpha (id, nope) VALUES (1, 2)");
        let broken = revisions(&[BASE, ("V2__split.sql", &broken_text)]);
        Migrator::new(&broken).upgrade(&db.pool).await.unwrap_err();
        db.execute("DROP TABLE alpha").await;
        Migrator::new(&broken).resolve(&db.pool, 2, Resolution::Reverted).await.unwrap();
        assert_eq!(db.applied_versions().await, [1]);

        let fixed_text = no_transaction("INSERT INTO alpha (id) VALUES (1)");
        let fixed = revisions(&[BASE, ("V2__split.sql", &fixed_text)]);
        let report = Migrator::new(&fixed).upgrade(&db.pool).await.unwrap();
        assert_eq!(report.steps.iter().map(|s| s.version).collect::<Vec<_>>(), [2]);
    }
}

on_every_backend! {
    async fn a_partial_revision_finished_by_hand_is_recorded_as_applied(db) {
        let broken_text = no_transaction("INSERT INTO alpha (id, nope) VALUES (1, 2)");
        let broken = revisions(&[BASE, ("V2__split.sql", &broken_text)]);
        Migrator::new(&broken).upgrade(&db.pool).await.unwrap_err();
        db.execute("CREATE TABLE beta (id INTEGER PRIMARY KEY)").await;
        let fixed_text = no_transaction("INSERT INTO alpha (id) VALUES (1)");
        let fixed = revisions(&[BASE, ("V2__split.sql", &fixed_text)]);
        Migrator::new(&fixed).resolve(&db.pool, 2, Resolution::Applied).await.unwrap();
        assert_eq!(db.applied_versions().await, [1, 2]);
        assert!(Migrator::new(&fixed).status(&db.pool).await.unwrap().at_head);
        let error = Migrator::new(&fixed).resolve(&db.pool, 2, Resolution::Applied).await.unwrap_err();
        assert!(error.to_string().contains("revision 2 has nothing to resolve"), "{error}");
    }
}

/// A data step outside a transaction that takes its time, so the run can be cut short inside it.
fn long_step<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        cx.execute("INSERT INTO base (id) VALUES (?)", &[7.into()])
            .await?;
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok(())
    })
}

on_every_backend! {
    async fn an_interrupted_run_is_reported_with_what_to_do(db) {
        let migrations: &'static Migrations = Box::leak(Box::new(
            revisions(&[BASE, ("V2__long.rs", "//! Revises: 1\n//! Transaction: none\n")])
                .with_rust_steps(&[RustStep { version: 2, upgrade: long_step, downgrade: None }]),
        ));
        let pool = db.another_pool(1);
        let run = tokio::spawn(async move { Migrator::new(migrations).upgrade(&pool).await });
        db.wait_for_table("base").await;
        let started = std::time::Instant::now();
        while db.integer("SELECT COUNT(*) FROM base").await == 0 {
            assert!(started.elapsed() < Duration::from_secs(20), "the step never started");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        run.abort();
        let _ = run.await;

        let status = Migrator::new(migrations).status(&db.pool).await.unwrap();
        assert_eq!(status.problems.unfinished.iter().map(|s| s.version).collect::<Vec<_>>(), [2]);
        let text = status.to_string();
        assert!(text.contains("revision 2 was started (upgrade"), "{text}");
        assert!(text.contains("never finished"), "{text}");
        // The insert committed on its own (no transaction): what it did is there, and the revision is not recorded.
        assert_eq!(db.integer("SELECT COUNT(*) FROM base").await, 1);
        assert_eq!(db.applied_versions().await, [1]);

        Migrator::new(migrations).lock_timeout(Duration::from_secs(10)).resolve(&db.pool, 2, Resolution::Applied).await.unwrap();
        assert!(Migrator::new(migrations).status(&db.pool).await.unwrap().at_head);
    }
}

/// Schema and data in one Rust step, as Alembic data migrations often are; it fails at the end.
fn ddl_then_failure<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        cx.execute("CREATE TABLE gamma (id INTEGER PRIMARY KEY)", &[])
            .await?;
        cx.execute("INSERT INTO gamma (id) VALUES (?)", &[1.into()])
            .await?;
        Err("something is off".into())
    })
}

on_every_backend! {
    async fn ddl_in_a_failing_data_step_is_reported_honestly(db) {
        let migrations = revisions(&[BASE, ("V2__gamma.rs", "//! Revises: 1\n")])
            .with_rust_steps(&[RustStep { version: 2, upgrade: ddl_then_failure, downgrade: None }]);
        let error = Migrator::new(&migrations).upgrade(&db.pool).await.unwrap_err();
        let Error::Revision(failure) = &error else { panic!("{error}") };
        let status = Migrator::new(&migrations).status(&db.pool).await.unwrap();
        if db.backend == dbmigrate_runtime::Backend::MySql {
            // MySQL committed the CREATE TABLE: the failure and the side table say so.
            assert_eq!(failure.committed, Committed::Unknown);
            assert!(error.to_string().contains("MySQL committed its DDL implicitly"), "{error}");
            assert!(db.has_table("gamma").await);
            assert_eq!(status.problems.unfinished.iter().map(|s| s.version).collect::<Vec<_>>(), [2]);
        } else {
            assert_eq!(failure.committed, Committed::Nothing);
            assert!(!db.has_table("gamma").await);
            assert!(status.problems.unfinished.is_empty(), "{status}");
        }
        assert_eq!(db.applied_versions().await, [1]);
    }
}

on_every_backend! {
    async fn on_mysql_the_statements_after_the_last_ddl_commit_with_the_revision(db) {
        let broken = revisions(&[
            BASE,
            ("V2__delta.sql", "-- Revises: 1\nCREATE TABLE delta (id INTEGER PRIMARY KEY);\nINSERT INTO delta (id) VALUES (1);\nINSERT INTO nowhere (id) VALUES (1);\n"),
        ]);
        let error = Migrator::new(&broken).upgrade(&db.pool).await.unwrap_err();
        let Error::Revision(failure) = &error else { panic!("{error}") };
        assert_eq!(failure.statement.as_ref().unwrap().index, 3);
        if db.backend == dbmigrate_runtime::Backend::MySql {
            // The CREATE TABLE committed; the INSERT before the failing one rolled back with it.
            assert_eq!(failure.committed, Committed::Statements(1));
            assert!(db.has_table("delta").await);
            assert_eq!(db.integer("SELECT COUNT(*) FROM delta").await, 0);
            let fixed = revisions(&[
                BASE,
                ("V2__delta.sql", "-- Revises: 1\nCREATE TABLE delta (id INTEGER PRIMARY KEY);\nINSERT INTO delta (id) VALUES (1);\nINSERT INTO delta (id) VALUES (2);\n"),
            ]);
            // Resuming runs the whole tail again: both inserts, not only the one that failed.
            Migrator::new(&fixed).abort_divergent(false).resolve(&db.pool, 2, Resolution::Resume).await.unwrap();
            assert_eq!(db.integer("SELECT COUNT(*) FROM delta").await, 2);
        } else {
            assert_eq!(failure.committed, Committed::Nothing);
            assert!(!db.has_table("delta").await);
        }
    }
}

on_every_backend! {
    async fn every_applied_revision_records_its_name_and_execution_time(db) {
        // MySQL writes plain values in one batch with the revision; others go through bound parameters.
        let migrations = revisions(&[
            BASE,
            ("V2__plain.sql", "-- Revises: 1\nCREATE TABLE plain (id INTEGER PRIMARY KEY);\nINSERT INTO plain (id) VALUES (1);\n"),
            ("V3__café_tables.sql", "-- Revises: 2\nCREATE TABLE cafe (id INTEGER PRIMARY KEY);\nINSERT INTO cafe (id) VALUES (1);\n"),
        ]);
        Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        assert_eq!(db.applied_versions().await, [1, 2, 3]);
        assert_eq!(db.integer("SELECT COUNT(*) FROM refinery_schema_history WHERE name = 'café_tables'").await, 1);
        assert_eq!(db.integer("SELECT COUNT(*) FROM refinery_schema_history_dbmigrate WHERE state = 'applied' AND execution_ms >= 0").await, 3);
        assert_eq!(db.integer("SELECT COUNT(*) FROM refinery_schema_history_dbmigrate").await, 3);
        assert_eq!(db.integer("SELECT COUNT(*) FROM plain").await + db.integer("SELECT COUNT(*) FROM cafe").await, 2);
        // What refinery reads matches the files, so a second run has nothing to do.
        assert!(Migrator::new(&migrations).status(&db.pool).await.unwrap().at_head);
    }
}

on_every_backend! {
    async fn a_failing_run_still_records_the_times_of_the_revisions_before_it(db) {
        let migrations = revisions(&[
            BASE,
            ("V2__second.sql", "-- Revises: 1\nCREATE TABLE second (id INTEGER PRIMARY KEY);\n"),
            ("V3__broken.sql", "-- Revises: 2\nINSERT INTO nowhere (id) VALUES (1);\n"),
        ]);
        Migrator::new(&migrations).upgrade(&db.pool).await.unwrap_err();
        assert_eq!(db.applied_versions().await, [1, 2]);
        assert_eq!(db.integer("SELECT COUNT(*) FROM refinery_schema_history_dbmigrate WHERE state = 'applied' AND execution_ms >= 0 AND version IN (1, 2)").await, 2);
        // Nothing of the failed revision is left to resolve: fixing the file is enough.
        assert_eq!(db.integer("SELECT COUNT(*) FROM refinery_schema_history_dbmigrate WHERE version = 3").await, 0);
    }
}

on_every_backend! {
    async fn a_query_returning_rows_does_not_shift_which_statement_failed(db) {
        // Statements go to the server in batches; one that returns rows must still count as one.
        let broken = revisions(&[
            BASE,
            ("V2__rows.sql", "-- Revises: 1\nCREATE TABLE rows_here (id INTEGER PRIMARY KEY);\nINSERT INTO rows_here (id) VALUES (1), (2);\nSELECT id FROM rows_here;\nINSERT INTO nowhere (id) VALUES (1);\n"),
        ]);
        let error = Migrator::new(&broken).upgrade(&db.pool).await.unwrap_err();
        let Error::Revision(failure) = &error else { panic!("{error}") };
        let statement = failure.statement.as_ref().unwrap();
        assert_eq!((statement.index, statement.line), (4, 5), "{error}");

        let fixed = revisions(&[
            BASE,
            ("V2__rows.sql", "-- Revises: 1\nCREATE TABLE rows_here (id INTEGER PRIMARY KEY);\nINSERT INTO rows_here (id) VALUES (1), (2);\nSELECT id FROM rows_here;\nINSERT INTO rows_here (id) VALUES (3);\n"),
        ]);
        let migrator = Migrator::new(&fixed).abort_divergent(false);
        if db.backend == dbmigrate_runtime::Backend::MySql {
            // The CREATE TABLE committed; resuming runs the rest again.
            migrator.resolve(&db.pool, 2, Resolution::Resume).await.unwrap();
        } else {
            migrator.upgrade(&db.pool).await.unwrap();
        }
        assert_eq!(db.integer("SELECT COUNT(*) FROM rows_here").await, 3);
        assert_eq!(db.applied_versions().await, [1, 2]);
    }
}
