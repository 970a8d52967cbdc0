//! Placeholders and parameters: a mismatch is refused before anything runs, on every backend, and
//! a value is always bound where and as the caller meant.

use std::time::{Duration, Instant};

use dbmigrate_runtime::data::{Context, StepFuture, Value};
use dbmigrate_runtime::{Migrator, Resolution};
use dbmigrate_test_support::Server;

use super::{run_step, step_after, step_error};
use crate::support::{TestDb, on_every_backend};

const THREE_ROWS: &str = "CREATE TABLE t (a INTEGER);\nINSERT INTO t (a) VALUES (1), (2), (3);\n";

fn mismatches<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        let missing = cx
            .execute("DELETE FROM t WHERE a = ? OR ? IS NULL", &[1.into()])
            .await
            .unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with("the statement has 2 placeholders but 1 parameter was given"),
            "{missing}"
        );
        let extra = cx
            .execute("UPDATE t SET a = ?", &[7.into(), 8.into()])
            .await
            .unwrap_err();
        assert!(
            extra
                .to_string()
                .starts_with("the statement has 1 placeholder but 2 parameters were given"),
            "{extra}"
        );
        let read = cx
            .fetch_all("SELECT a FROM t WHERE a > ?", &[])
            .await
            .unwrap_err();
        assert!(
            read.to_string().contains("1 placeholder but 0 parameters"),
            "{read}"
        );
        // The connection is still usable: nothing was sent.
        assert_eq!(cx.fetch_all("SELECT a FROM t", &[]).await?.len(), 3);
        Ok(())
    })
}

on_every_backend! {
    /// Issue 16, item 5: SQLite bound NULL for a missing parameter (deleting every row) and dropped
    /// extra ones; MariaDB jammed (item 6).
    async fn a_placeholder_count_mismatch_is_refused_before_anything_runs(db) {
        run_step(&db, THREE_ROWS, mismatches, true).await.unwrap();
        assert_eq!(db.integer("SELECT COUNT(*) FROM t WHERE a IN (1, 2, 3)").await, 3);
    }
}

fn wrong_count_after_a_write<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        cx.execute("INSERT INTO t (a) VALUES (?)", &[4.into()])
            .await?;
        // One parameter too many: what jammed MariaDB's connection.
        cx.execute("INSERT INTO t (a) VALUES (?)", &[5.into(), 6.into()])
            .await?;
        Ok(())
    })
}

fn wrong_count_after_ddl<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        // A DDL statement with a wrong count is refused before it could mark the revision running.
        let early = cx
            .execute("CREATE TABLE early (a INTEGER DEFAULT ?)", &[])
            .await
            .unwrap_err();
        assert!(early.to_string().contains("1 placeholder but 0 parameters"));
        cx.execute("CREATE TABLE made (a INTEGER)", &[]).await?;
        cx.execute("INSERT INTO made (a) VALUES (?)", &[]).await?;
        Ok(())
    })
}

/// Issue 16, item 6: on MariaDB a wrong parameter count jammed the connection, so the runner's
/// rollback hung forever, the error was never reported, and the lock and a "running" marker stayed.
/// Now it fails at once, rolls back, and leaves the lock free and nothing running.
#[tokio::test]
async fn mysql_a_wrong_parameter_count_fails_fast_and_leaves_nothing_behind() {
    let db = TestDb::new(Server::MySql).await;
    let started = Instant::now();
    let error = run_step(&db, THREE_ROWS, wrong_count_after_a_write, true)
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        step_error(&error).starts_with("the statement has 1 placeholder but 2 parameters"),
        "{error}"
    );
    // Rolled back, nothing recorded for revision 2, and the lock is free for another runner.
    assert_eq!(db.integer("SELECT COUNT(*) FROM t").await, 3);
    assert_eq!(db.applied_versions().await, [1]);
    assert_eq!(
        db.integer("SELECT COUNT(*) FROM refinery_schema_history_dbmigrate WHERE version = 2")
            .await,
        0
    );
    let other = db.another_pool(1);
    let status = Migrator::new(&step_after(THREE_ROWS, wrong_count_after_a_write, true))
        .lock_timeout(Duration::from_secs(2))
        .status(&other)
        .await
        .unwrap();
    assert!(status.problems.unfinished.is_empty(), "{status}");

    // After DDL committed implicitly: still prompt, and the revision is recorded as failed (what
    // `status` reports and `resolve` settles), never left "running".
    let db = TestDb::new(Server::MySql).await;
    let started = Instant::now();
    let error = run_step(&db, THREE_ROWS, wrong_count_after_ddl, true)
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        step_error(&error).contains("1 placeholder but 0 parameters"),
        "{error}"
    );
    assert!(!db.has_table("early").await);
    assert_eq!(
        db.texts("SELECT state FROM refinery_schema_history_dbmigrate WHERE version = 2")
            .await,
        [Some("failed".to_string())]
    );
    let migrations = step_after(THREE_ROWS, wrong_count_after_ddl, true);
    Migrator::new(&migrations)
        .lock_timeout(Duration::from_secs(2))
        .resolve(&db.another_pool(1), 2, Resolution::Reverted)
        .await
        .unwrap();
}

fn postgres_styles<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        let mixed = cx
            .fetch_all(
                "SELECT CAST($1 AS INTEGER), CAST(? AS INTEGER)",
                &[1.into(), 2.into()],
            )
            .await
            .unwrap_err();
        assert!(mixed.to_string().contains("mixes `?` and `$1`"), "{mixed}");
        let extra = cx
            .fetch_all("SELECT CAST(? AS INTEGER)", &[1.into(), 2.into()])
            .await
            .unwrap_err();
        assert!(
            extra.to_string().contains("1 placeholder but 2 parameters"),
            "{extra}"
        );
        let numbered = cx
            .fetch_all(
                "SELECT CAST($2 AS INTEGER), CAST($1 AS INTEGER)",
                &[1.into(), 2.into()],
            )
            .await?;
        assert_eq!(numbered[0].values(), [Value::Int(2), Value::Int(1)]);
        // The parameter types dbmigrate appends (as a comment) leave a trailing semicolon alone.
        let terminated = cx
            .fetch_all("SELECT CAST(? AS INTEGER); -- the end", &[7.into()])
            .await?;
        assert_eq!(terminated[0].values(), [Value::Int(7)]);
        // `??` is a literal `?`: the jsonb operators.
        let json = cx
            .fetch_all(
                "SELECT CAST(? AS JSONB) ?? 'a', CAST(? AS JSONB) ??| ARRAY['x', 'b'], CAST(? AS JSONB) ??& ARRAY['a', 'b']",
                &[
                    Value::from(r#"{"a": 1}"#),
                    Value::from(r#"{"b": 1}"#),
                    Value::from(r#"{"a": 1, "b": 2}"#),
                ],
            )
            .await?;
        assert_eq!(
            json[0].values(),
            [Value::Bool(true), Value::Bool(true), Value::Bool(true)]
        );
        Ok(())
    })
}

/// Issue 16, item 7: extra parameters ignored, `$1` mixed with `?` bound the wrong value, and no way
/// to write the jsonb operators.
#[tokio::test]
async fn postgres_placeholders_never_bind_the_wrong_value() {
    let db = TestDb::new(Server::Postgres).await;
    run_step(&db, "CREATE TABLE t (a INTEGER);\n", postgres_styles, true)
        .await
        .unwrap();
}

fn retyped<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        let insert = "INSERT INTO t (id, x, label) VALUES (?, ?, ?)";
        cx.execute(insert, &[1.into(), Value::Int(2), Value::Null])
            .await?;
        cx.execute(insert, &[2.into(), Value::Float(2.5), "b".into()])
            .await?;
        cx.execute(insert, &[3.into(), Value::Null, Value::Null])
            .await?;
        cx.execute(insert, &[4.into(), Value::Float(-1.25), "d".into()])
            .await?;
        let rows = cx
            .fetch_all("SELECT x, label FROM t ORDER BY id", &[])
            .await?;
        let xs: Vec<Option<f64>> = rows.iter().map(|r| r.get(0).as_f64()).collect();
        assert_eq!(xs, [Some(2.0), Some(2.5), None, Some(-1.25)]);
        let labels: Vec<&Value> = rows.iter().map(|r| r.get(1)).collect();
        assert_eq!(
            labels,
            [
                &Value::Null,
                &Value::from("b"),
                &Value::Null,
                &Value::from("d")
            ]
        );
        Ok(())
    })
}

on_every_backend! {
    /// PostgreSQL prepared a statement with its first parameters' types and sqlx reused it by text:
    /// 2.5 bound after an integer was read as the integer 4612811918334230528.
    async fn a_statement_reused_with_other_parameter_types_binds_each_exactly(db) {
        run_step(
            &db,
            "CREATE TABLE t (id INTEGER PRIMARY KEY, x DOUBLE PRECISION, label VARCHAR(10));\n",
            retyped,
            true,
        )
        .await
        .unwrap();
    }
}
