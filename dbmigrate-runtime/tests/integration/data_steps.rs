//! Rust data steps: the portable helpers work the same on every backend, inside the revision's
//! transaction (a failing step undoes everything it did), or batch by batch with `Transaction: none`.

use std::sync::{Arc, Mutex};

use dbmigrate_runtime::data::{Context, StepFuture, Value};
use dbmigrate_runtime::migrator::{Error, FailureCause};
use dbmigrate_runtime::{Migrator, RustStep};

use crate::support::{on_every_backend, revisions};

const PEOPLE: (&str, &str) = (
    "V1__people.sql",
    "CREATE TABLE people (id INTEGER PRIMARY KEY, name VARCHAR(100), email VARCHAR(200), email_lower VARCHAR(200), \
     score INTEGER, ratio DOUBLE PRECISION, active BOOLEAN, note TEXT);\n",
);

fn fill<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        let rows = (1..=5000_i64).map(|i| {
            [
                Value::from(i),
                Value::from(format!("person {i}")),
                Value::from(format!("Person.{i}@Example.COM")),
                Value::Null,
                Value::from(i % 7),
                Value::from(i as f64 / 4.0),
                Value::from(i % 2 == 0),
                // Text COPY must escape: tabs, newlines, backslashes.
                Value::from(if i == 1 {
                    "tab\there\nnewline \\ backslash"
                } else {
                    ""
                }),
            ]
        });
        let inserted = cx
            .bulk_insert(
                "people",
                &[
                    "id",
                    "name",
                    "email",
                    "email_lower",
                    "score",
                    "ratio",
                    "active",
                    "note",
                ],
                rows,
            )
            .await?;
        assert_eq!(inserted, 5000);
        let updated = cx
            .execute(
                "UPDATE people SET score = score + ? WHERE id <= ?",
                &[100.into(), 10.into()],
            )
            .await?;
        assert_eq!(updated, 10);
        Ok(())
    })
}

fn backfill<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        let report = cx
            .backfill("people", "id", "email_lower = LOWER(email)")
            .filter("email_lower IS NULL")
            .batch_size(1000)
            .run()
            .await?;
        // Five full batches; the walk ends at the last key instead of running an empty sixth.
        assert_eq!((report.rows, report.batches), (5000, 5));
        Ok(())
    })
}

fn fails_half_way<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        cx.execute("DELETE FROM people WHERE id > ?", &[100.into()])
            .await?;
        Err("the data does not look as expected".into())
    })
}

fn steps(backfill_step: dbmigrate_runtime::data::StepFn) -> [RustStep; 2] {
    [
        RustStep {
            version: 2,
            upgrade: fill,
            downgrade: None,
        },
        RustStep {
            version: 3,
            upgrade: backfill_step,
            downgrade: None,
        },
    ]
}

on_every_backend! {
    async fn helpers_insert_update_backfill_and_read_back_portably(db) {
        let migrations = revisions(&[
            PEOPLE,
            ("V2__fill.rs", "//! Revises: 1\n"),
            ("V3__backfill.rs", "//! Revises: 2\n"),
        ])
        .with_rust_steps(&steps(backfill));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorder = seen.clone();
        Migrator::new(&migrations)
            .on_progress(move |p| recorder.lock().unwrap().push((p.version, p.task.clone(), p.rows)))
            .upgrade(&db.pool)
            .await
            .unwrap();
        assert_eq!(db.integer("SELECT COUNT(*) FROM people").await, 5000);
        assert_eq!(db.integer("SELECT COUNT(*) FROM people WHERE email_lower = 'person.42@example.com'").await, 1);
        assert_eq!(db.integer("SELECT COUNT(*) FROM people WHERE score >= 100").await, 10);
        let note = db.texts("SELECT note FROM people WHERE id = 1").await;
        assert_eq!(note, [Some("tab\there\nnewline \\ backslash".to_string())]);
        let progress = seen.lock().unwrap().clone();
        assert_eq!(progress.last(), Some(&(3, "backfill people".to_string(), 5000)), "{progress:?}");
    }
}

fn read_back<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        let rows = cx
            .fetch_all(
                "SELECT id, name, score, ratio, note FROM people WHERE id IN (?, ?) ORDER BY id",
                &[1.into(), 2.into()],
            )
            .await?;
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].columns(), ["id", "name", "score", "ratio", "note"]);
        assert_eq!(rows[1].get(0).as_i64(), Some(2));
        assert_eq!(
            rows[1].column("name").and_then(Value::as_str),
            Some("person 2")
        );
        assert_eq!(
            rows[1].get(2).as_i64(),
            Some(102),
            "2 % 7, plus the 100 the fill step added"
        );
        assert_eq!(rows[1].get(3).as_f64(), Some(0.5));
        assert_eq!(rows[1].get(4), &Value::Text(String::new()));
        let none = cx
            .fetch_all("SELECT id FROM people WHERE id < ?", &[0.into()])
            .await?;
        assert!(none.is_empty());
        // A NULL parameter takes the column's type, as a literal NULL would.
        cx.execute(
            "UPDATE people SET note = ? WHERE id = ?",
            &[Value::Null, 2.into()],
        )
        .await?;
        Ok(())
    })
}

on_every_backend! {
    async fn fetch_all_reads_columns_as_portable_values(db) {
        let migrations = revisions(&[
            PEOPLE,
            ("V2__fill.rs", "//! Revises: 1\n"),
            ("V3__read.rs", "//! Revises: 2\n"),
        ])
        .with_rust_steps(&steps(read_back));
        Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        assert_eq!(db.texts("SELECT note FROM people WHERE id = 2").await, [None]);
    }
}

on_every_backend! {
    async fn a_failing_step_undoes_everything_it_did(db) {
        let migrations = revisions(&[
            PEOPLE,
            ("V2__fill.rs", "//! Revises: 1\n"),
            ("V3__prune.rs", "//! Revises: 2\n"),
        ])
        .with_rust_steps(&steps(fails_half_way));
        let error = Migrator::new(&migrations).upgrade(&db.pool).await.unwrap_err();
        let Error::Revision(failure) = &error else { panic!("{error}") };
        assert_eq!(failure.version, 3);
        assert!(matches!(&failure.cause, FailureCause::Step(e) if e.to_string() == "the data does not look as expected"));
        assert!(error.to_string().contains("upgrade of revision 3 (migrations/V3__prune.rs) failed:"), "{error}");
        // The DELETE inside the failed step was rolled back with it.
        assert_eq!(db.integer("SELECT COUNT(*) FROM people").await, 5000);
        assert_eq!(db.applied_versions().await, [1, 2]);
    }
}

fn batched<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        assert!(!cx.in_transaction());
        let report = cx
            .backfill("people", "id", "email_lower = LOWER(email)")
            .batch_size(2000)
            .run()
            .await?;
        assert_eq!(report.batches, 3);
        assert!(report.longest_batch <= report.elapsed);
        Ok(())
    })
}

on_every_backend! {
    async fn without_a_transaction_each_backfill_batch_commits_alone(db) {
        let migrations = revisions(&[
            PEOPLE,
            ("V2__fill.rs", "//! Revises: 1\n"),
            ("V3__batched.rs", "//! Revises: 2\n//! Transaction: none\n"),
        ])
        .with_rust_steps(&steps(batched));
        Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        assert_eq!(db.integer("SELECT COUNT(*) FROM people WHERE email_lower IS NULL").await, 0);
        let status = Migrator::new(&migrations).status(&db.pool).await.unwrap();
        assert!(status.at_head, "{status}");
    }
}

fn quotes_needed<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        cx.bulk_insert("people; DROP TABLE people", &["id"], [[Value::from(1)]])
            .await?;
        Ok(())
    })
}

#[tokio::test]
async fn helpers_refuse_names_they_would_have_to_quote() {
    let db = crate::support::TestDb::new(dbmigrate_test_support::Server::Sqlite).await;
    let migrations =
        revisions(&[PEOPLE, ("V2__bad.rs", "//! Revises: 1\n")]).with_rust_steps(&[RustStep {
            version: 2,
            upgrade: quotes_needed,
            downgrade: None,
        }]);
    let error = Migrator::new(&migrations)
        .upgrade(&db.pool)
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("`people; DROP TABLE people` needs quotes"),
        "{error}"
    );
    // Refused before anything was sent: the table the name tried to drop is there.
    assert!(db.has_table("people").await);
}
