//! The history is verified before anything is applied: divergent files, missing files, revisions
//! out of order, rows edited or deleted by hand. Each is reported precisely and nothing runs.

use dbmigrate_runtime::Migrator;
use dbmigrate_runtime::migrator::Error;

use crate::support::{on_every_backend, revisions};

const ONE: (&str, &str) = (
    "V1__one.sql",
    "CREATE TABLE one (id INTEGER PRIMARY KEY);\n",
);
const TWO: (&str, &str) = (
    "V2__two.sql",
    "CREATE TABLE two (id INTEGER PRIMARY KEY);\n",
);
const THREE: (&str, &str) = (
    "V3__three.sql",
    "CREATE TABLE three (id INTEGER PRIMARY KEY);\n",
);
const FOUR: (&str, &str) = (
    "V4__four.sql",
    "CREATE TABLE four (id INTEGER PRIMARY KEY);\n",
);

fn mismatch(error: &Error) -> &dbmigrate_runtime::migrator::HistoryMismatch {
    match error {
        Error::History(mismatch) => mismatch,
        other => panic!("expected a history mismatch, got: {other}"),
    }
}

on_every_backend! {
    async fn an_edited_file_is_divergent_and_nothing_runs(db) {
        Migrator::new(&revisions(&[ONE, TWO])).upgrade(&db.pool).await.unwrap();
        let edited = ("V2__two.sql", "CREATE TABLE two (id INTEGER PRIMARY KEY, extra INTEGER);\n");
        let error = Migrator::new(&revisions(&[ONE, edited, THREE])).upgrade(&db.pool).await.unwrap_err();
        let divergent = &mismatch(&error).verification.divergent;
        assert_eq!(divergent.len(), 1);
        assert_eq!((divergent[0].version, divergent[0].line_endings_only), (2, false));
        assert!(error.to_string().contains("revision 2 (migrations/V2__two.sql) changed after it was applied"), "{error}");
        assert!(!db.has_table("three").await);

        // refinery's abort_divergent off: the edit is tolerated and the rest applies.
        Migrator::new(&revisions(&[ONE, edited, THREE])).abort_divergent(false).upgrade(&db.pool).await.unwrap();
        assert!(db.has_table("three").await);
    }
}

on_every_backend! {
    async fn a_crlf_checkout_is_told_apart_and_repair_records_it(db) {
        Migrator::new(&revisions(&[ONE, TWO])).upgrade(&db.pool).await.unwrap();
        let crlf = ("V2__two.sql", "CREATE TABLE two (id INTEGER PRIMARY KEY);\r\n");
        let checked_out = revisions(&[ONE, crlf]);
        let error = Migrator::new(&checked_out).upgrade(&db.pool).await.unwrap_err();
        assert!(mismatch(&error).verification.divergent[0].line_endings_only);
        assert!(error.to_string().contains("only in its line endings (CRLF/LF); run `cargo dbmigrate repair`"), "{error}");

        let repaired = Migrator::new(&checked_out).repair(&db.pool).await.unwrap();
        assert_eq!(repaired, [2]);
        let status = Migrator::new(&checked_out).status(&db.pool).await.unwrap();
        assert!(status.at_head, "{status}");
        // The schema was not touched, only the recorded checksum.
        assert_eq!(db.applied_versions().await, [1, 2]);
    }
}

on_every_backend! {
    async fn an_applied_revision_without_its_file_is_missing(db) {
        Migrator::new(&revisions(&[ONE, TWO])).upgrade(&db.pool).await.unwrap();
        let without_two = revisions(&[ONE]);
        let error = Migrator::new(&without_two).upgrade(&db.pool).await.unwrap_err();
        assert_eq!(mismatch(&error).verification.missing_files[0].version, 2);
        assert!(error.to_string().contains("revision 2 (`two`) is applied but no file defines it"), "{error}");
    }
}

on_every_backend! {
    async fn an_older_unapplied_revision_is_refused_unless_out_of_order_is_allowed(db) {
        let three = ("V3__three.sql", "-- Revises: 1\nCREATE TABLE three (id INTEGER PRIMARY KEY);\n");
        Migrator::new(&revisions(&[ONE, three])).upgrade(&db.pool).await.unwrap();
        // Revision 2 arrives later (a parallel branch merged after 3 was deployed).
        let two = ("V2__two.sql", "-- Revises: 1\nCREATE TABLE two (id INTEGER PRIMARY KEY);\n");
        let three = ("V3__three.sql", "-- Revises: 1\nCREATE TABLE three (id INTEGER PRIMARY KEY);\n");
        let four = ("V4__four.sql", "-- Revises: 3, 2\nCREATE TABLE four (id INTEGER PRIMARY KEY);\n");
        let late = revisions(&[ONE, two, three, four]);
        let error = Migrator::new(&late).upgrade(&db.pool).await.unwrap_err();
        assert_eq!(mismatch(&error).verification.out_of_order, [2]);
        assert!(!db.has_table("two").await && !db.has_table("four").await);

        let report = Migrator::new(&late).allow_out_of_order(true).upgrade(&db.pool).await.unwrap();
        assert_eq!(report.steps.iter().map(|s| s.version).collect::<Vec<_>>(), [2, 4]);
    }
}

on_every_backend! {
    async fn rows_edited_by_hand_are_reported_precisely(db) {
        let migrations = revisions(&[ONE, TWO, THREE]);
        Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        db.execute("UPDATE refinery_schema_history SET checksum = 'abc' WHERE version = 1").await;
        db.execute("UPDATE refinery_schema_history SET applied_on = 'yesterday' WHERE version = 2").await;
        db.execute("DELETE FROM refinery_schema_history WHERE version = 3").await;
        db.execute("INSERT INTO refinery_schema_history (version, name, applied_on, checksum) VALUES (9, 'ghost', '2026-01-01T00:00:00Z', '1')").await;
        let with_four = revisions(&[ONE, TWO, THREE, FOUR]);
        let error = Migrator::new(&with_four).upgrade(&db.pool).await.unwrap_err();
        let v = &mismatch(&error).verification;
        assert_eq!(v.bad_rows.iter().map(|r| r.version).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(v.missing_files.iter().map(|r| r.version).collect::<Vec<_>>(), [9]);
        assert_eq!(v.rows_deleted, [3]);
        let message = error.to_string();
        assert!(message.contains("row 1: checksum \"abc\" is not a decimal u64"), "{message}");
        assert!(message.contains("row 2: applied_on \"yesterday\" is not an RFC 3339 time"), "{message}");
        assert!(message.contains("revision 3 was applied"), "{message}");
        assert!(message.contains("revision 9 (`ghost`) is applied but no file defines it"), "{message}");
        assert!(!db.has_table("four").await, "nothing may run while the history is wrong");
    }
}

on_every_backend! {
    async fn an_upgrade_with_nothing_to_do_still_sees_the_side_rows_that_matter(db) {
        // The no-op upgrade reads the side table only when a row there changes the verdict.
        let migrations = revisions(&[ONE, TWO]);
        Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        // Only the side table says revision 2 is not finished, in a spelling MySQL's collation would
        // take for `applied`.
        db.execute("UPDATE refinery_schema_history_dbmigrate SET state = 'APPLIED' WHERE version = 2").await;
        let error = Migrator::new(&migrations).upgrade(&db.pool).await.unwrap_err();
        let unfinished = &mismatch(&error).verification.unfinished;
        assert_eq!(unfinished.iter().map(|s| s.version).collect::<Vec<_>>(), [2]);
        // A side row recording revision 7 as applied, with no refinery row: it was deleted by hand.
        db.execute("UPDATE refinery_schema_history_dbmigrate SET state = 'applied' WHERE version = 2").await;
        db.execute("INSERT INTO refinery_schema_history_dbmigrate (version, state, updated_on) VALUES (7, 'applied', '2026-01-01T00:00:00Z')").await;
        let error = Migrator::new(&migrations).upgrade(&db.pool).await.unwrap_err();
        assert_eq!(mismatch(&error).verification.rows_deleted, [7]);
        db.execute("DELETE FROM refinery_schema_history_dbmigrate WHERE version = 7").await;
        assert!(Migrator::new(&migrations).upgrade(&db.pool).await.unwrap().steps.is_empty());
    }
}

on_every_backend! {
    async fn a_deleted_row_is_resolved_without_running_the_revision_again(db) {
        let migrations = revisions(&[ONE, TWO]);
        Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        db.execute("DELETE FROM refinery_schema_history WHERE version = 2").await;
        Migrator::new(&migrations).resolve(&db.pool, 2, dbmigrate_runtime::Resolution::Applied).await.unwrap();
        assert_eq!(db.applied_versions().await, [1, 2]);
        assert!(Migrator::new(&migrations).status(&db.pool).await.unwrap().at_head);
    }
}

on_every_backend! {
    async fn a_database_migrated_by_refinery_alone_is_adopted(db) {
        // refinery's table without dbmigrate's side table, with rows written the way refinery does.
        // refinery's own DDL, the same text on every database, with the name unquoted.
        db.execute(
            "CREATE TABLE IF NOT EXISTS refinery_schema_history(version INT4 PRIMARY KEY, name VARCHAR(255), \
             applied_on VARCHAR(255), checksum VARCHAR(255))",
        )
        .await;
        db.execute("CREATE TABLE one (id INTEGER PRIMARY KEY)").await;
        let checksum = refinery_core::Migration::unapplied("V1__one", ONE.1).unwrap().checksum();
        db.execute(&format!(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) VALUES (1, 'one', '2026-11-24T21:08:43.210944268Z', '{checksum}')"
        ))
        .await;
        let report = Migrator::new(&revisions(&[ONE, TWO])).upgrade(&db.pool).await.unwrap();
        assert_eq!(report.steps.iter().map(|s| s.version).collect::<Vec<_>>(), [2]);
    }
}
