//! SQLite rolling back a whole transaction by itself: an `OR ROLLBACK` conflict, `RAISE(ROLLBACK)`
//! in a trigger, a full database. Consecutive revisions share one transaction there (each in a
//! savepoint), so such a rollback takes every revision of the group with it: none of them may be
//! recorded, and the error must name the statement that caused it, at every position in the group.

use dbmigrate_runtime::data::{Context, StepFuture};
use dbmigrate_runtime::migrator::{Committed, Error, FailureCause};
use dbmigrate_runtime::{Migrator, RustStep};
use dbmigrate_test_support::Server;

use crate::support::{TestDb, revisions};

/// Revision 1 makes the tables every fault needs; each revision records itself in `marks`, so a
/// history row without its revision's effects (or the reverse) shows.
const SETUP: &str = "CREATE TABLE marks (version INTEGER PRIMARY KEY);\n\
     CREATE TABLE once (id INTEGER PRIMARY KEY);\n\
     INSERT INTO once (id) VALUES (1);\n\
     CREATE TABLE guarded (id INTEGER);\n\
     CREATE TRIGGER refuse BEFORE INSERT ON guarded BEGIN SELECT RAISE(ROLLBACK, 'guarded is read-only'); END;\n\
     CREATE TABLE filler (blob BLOB);\n\
     INSERT INTO marks (version) VALUES (1);\n";

/// A statement that makes SQLite abandon the whole transaction, and what its error says.
struct Fault {
    name: &'static str,
    sql: &'static str,
    message: &'static str,
}

const FAULTS: [Fault; 3] = [
    Fault {
        name: "an OR ROLLBACK conflict",
        sql: "INSERT OR ROLLBACK INTO once (id) VALUES (1)",
        message: "UNIQUE constraint failed",
    },
    Fault {
        name: "RAISE(ROLLBACK) in a trigger",
        sql: "INSERT INTO guarded (id) VALUES (1)",
        message: "guarded is read-only",
    },
    Fault {
        name: "a full database",
        // The page limit applies to this connection only; a megabyte more than that cannot fit.
        sql: "PRAGMA max_page_count = 40;\nINSERT INTO filler (blob) VALUES (zeroblob(1048576))",
        message: "full",
    },
];

/// Revisions 2 to 4, each marking itself; `faulty` (2, 3 or 4) ends with the fault.
fn files(faulty: i64, fault: &Fault) -> Vec<(String, String)> {
    let mut files = vec![("V1__setup.sql".to_string(), SETUP.to_string())];
    for version in 2..=4 {
        let mut sql = format!(
            "-- Revises: {}\nCREATE TABLE t{version} (id INTEGER);\nINSERT INTO marks (version) VALUES ({version});\n",
            version - 1
        );
        if version == faulty {
            sql.push_str(fault.sql);
            sql.push_str(";\n");
        }
        files.push((format!("V{version}__step_{version}.sql"), sql));
    }
    files
}

async fn marks(db: &TestDb) -> Vec<i64> {
    db.texts("SELECT CAST(version AS TEXT) FROM marks ORDER BY version")
        .await
        .into_iter()
        .map(|v| v.unwrap().parse().unwrap())
        .collect()
}

/// What every run must leave: the history lists exactly the revisions whose effects are there, and
/// the error lists as completed exactly those this run added (`before` were applied already).
async fn assert_history_matches_effects(db: &TestDb, before: &[i64], error: &Error, context: &str) {
    let applied = db.applied_versions().await;
    assert_eq!(
        applied,
        marks(db).await,
        "{context}: history and effects differ\n{error}"
    );
    if let Error::Revision(failure) = error {
        let completed: Vec<i64> = failure.completed.iter().map(|s| s.version).collect();
        let added: Vec<i64> = applied
            .iter()
            .copied()
            .filter(|v| !before.contains(v))
            .collect();
        assert_eq!(
            completed, added,
            "{context}: the error's completed list\n{error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_sqlite_abandons_is_recorded_nowhere_at_every_position_of_a_group() {
    for fault in &FAULTS {
        for faulty in 2..=4 {
            let context = format!("{} in revision {faulty}", fault.name);
            let db = TestDb::new(Server::Sqlite).await;
            // Revision 1 runs alone first, so 2 to 4 form one group of their own.
            let files = files(faulty, fault);
            let pairs: Vec<(&str, &str)> = files
                .iter()
                .map(|(n, s)| (n.as_str(), s.as_str()))
                .collect();
            let migrations = revisions(&pairs);
            Migrator::new(&migrations)
                .target(dbmigrate_runtime::Target::Version(1))
                .upgrade(&db.pool)
                .await
                .unwrap();

            let error = Migrator::new(&migrations)
                .upgrade(&db.pool)
                .await
                .unwrap_err();
            let Error::Revision(failure) = &error else {
                panic!("{context}: {error}")
            };
            assert_eq!(
                failure.version, faulty,
                "{context}: the revision named\n{error}"
            );
            let FailureCause::Database(cause) = &failure.cause else {
                panic!("{context}: {error}")
            };
            assert!(
                cause.to_string().contains(fault.message),
                "{context}: the real cause\n{error}"
            );
            let statement = failure.statement.as_ref().expect("the statement is named");
            assert!(fault.sql.contains(&statement.text), "{context}: {error}");
            assert_eq!(failure.committed, Committed::Nothing, "{context}");
            let message = error.to_string();
            assert!(
                !message.contains("no transaction is active"),
                "{context}: {message}"
            );
            // The revisions of the group before the faulty one went down with the transaction.
            assert!(
                message.contains("rolled back the whole transaction"),
                "{context}: {message}"
            );
            assert_history_matches_effects(&db, &[1], &error, &context).await;
            assert_eq!(db.applied_versions().await, [1], "{context}");

            // Without the fault, the next run applies all of them.
            let fixed: Vec<(String, String)> = files
                .iter()
                .map(|(n, s)| (n.clone(), s.replace(&format!("{};\n", fault.sql), "")))
                .collect();
            let pairs: Vec<(&str, &str)> = fixed
                .iter()
                .map(|(n, s)| (n.as_str(), s.as_str()))
                .collect();
            let migrations = revisions(&pairs);
            Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
            assert_eq!(marks(&db).await, [1, 2, 3, 4], "{context}");
        }
    }
}

/// A data step that swallows the error of a statement SQLite answered by rolling back everything,
/// then carries on as if its transaction were still open.
fn swallowing_step<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        let _ = cx
            .execute("INSERT OR ROLLBACK INTO once (id) VALUES (1)", &[])
            .await;
        cx.execute("INSERT INTO marks (version) VALUES (3)", &[])
            .await?;
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_that_carries_on_after_sqlite_abandoned_its_transaction_is_not_recorded() {
    let db = TestDb::new(Server::Sqlite).await;
    let migrations = revisions(&[
        ("V1__setup.sql", SETUP),
        (
            "V2__two.sql",
            "-- Revises: 1\nINSERT INTO marks (version) VALUES (2);\n",
        ),
        ("V3__three.rs", "//! Revises: 2\n"),
        (
            "V4__four.sql",
            "-- Revises: 3\nINSERT INTO marks (version) VALUES (4);\n",
        ),
    ])
    .with_rust_steps(&[RustStep {
        version: 3,
        upgrade: swallowing_step,
        downgrade: None,
    }]);
    Migrator::new(&migrations)
        .target(dbmigrate_runtime::Target::Version(1))
        .upgrade(&db.pool)
        .await
        .unwrap();
    let error = Migrator::new(&migrations)
        .upgrade(&db.pool)
        .await
        .unwrap_err();
    let Error::Revision(failure) = &error else {
        panic!("{error}")
    };
    assert_eq!(failure.version, 3, "{error}");
    assert_eq!(failure.committed, Committed::Nothing, "{error}");
    assert!(
        error
            .to_string()
            .contains("rolled back the whole transaction"),
        "{error}"
    );
    // The step's later INSERT ran outside any transaction as far as SQLite knew: it must not have
    // committed on its own, and nothing of 2 to 4 may be recorded.
    assert_history_matches_effects(&db, &[1], &error, "a swallowing step").await;
    assert_eq!(db.applied_versions().await, [1]);
}
