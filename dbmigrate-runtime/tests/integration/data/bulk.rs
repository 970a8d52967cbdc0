//! Bulk inserts: all rows or none wherever the step runs, any real table name, and errors that name
//! the row.

use std::sync::atomic::{AtomicBool, Ordering};

use dbmigrate_runtime::data::{Context, StepFuture, Value};
use dbmigrate_runtime::{Backend, Migrator, Resolution};
use dbmigrate_test_support::Server;

use super::{quoted_for, run_step, step_after, step_error};
use crate::support::{TestDb, on_every_backend};

const NOT_NULL: &str = "CREATE TABLE b (id INTEGER PRIMARY KEY, v INTEGER NOT NULL);\n";

/// Whether the next run of [`rows_with_a_bad_one`] is the fixed one.
static FIXED: AtomicBool = AtomicBool::new(false);

/// 1,501 rows, the last one breaking `v NOT NULL` unless the step has been fixed.
fn rows(fixed: bool) -> impl Iterator<Item = [Value; 2]> + Send {
    (1..=1501_i64).map(move |id| {
        let v = if id == 1501 && !fixed {
            Value::Null
        } else {
            Value::from(id)
        };
        [Value::from(id), v]
    })
}

fn rows_with_a_bad_one<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        let fixed = FIXED.load(Ordering::SeqCst);
        cx.bulk_insert("b", &["id", "v"], rows(fixed)).await?;
        Ok(())
    })
}

/// Issue 16, item 10: outside a transaction, a bad row at 1,501 left the first 1,000 rows committed,
/// and rerunning the step inserted them again.
#[tokio::test]
async fn a_bulk_insert_outside_a_transaction_is_all_or_nothing() {
    // One test for the three backends: the step's behaviour is switched by a static.
    for server in Server::ALL {
        FIXED.store(false, Ordering::SeqCst);
        let db = TestDb::new(server).await;
        let error = run_step(&db, NOT_NULL, rows_with_a_bad_one, false)
            .await
            .unwrap_err();
        let message = step_error(&error);
        assert!(
            message.contains("the bulk insert into b failed at"),
            "{server:?}: {message}"
        );
        assert!(message.contains("1501"), "{server:?}: {message}");
        assert_eq!(db.integer("SELECT COUNT(*) FROM b").await, 0, "{server:?}");

        // Nothing to undo, so settled as reverted, and rerun with the fix: every row once.
        FIXED.store(true, Ordering::SeqCst);
        let migrations = step_after(NOT_NULL, rows_with_a_bad_one, false);
        let migrator = Migrator::new(&migrations);
        migrator
            .resolve(&db.pool, 2, Resolution::Reverted)
            .await
            .unwrap();
        migrator.upgrade(&db.pool).await.unwrap();
        assert_eq!(
            db.integer("SELECT COUNT(*) FROM b").await,
            1501,
            "{server:?}"
        );
        assert_eq!(db.integer("SELECT COUNT(DISTINCT id) FROM b").await, 1501);
    }
}

fn after_ddl<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        cx.execute(
            "CREATE TABLE later (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)",
            &[],
        )
        .await?;
        cx.bulk_insert("later", &["id", "v"], rows(false)).await?;
        Ok(())
    })
}

/// Issue 16, item 10, on MySQL: once DDL has committed the step's transaction, a bulk insert still
/// leaves none of its rows when one fails.
#[tokio::test]
async fn mysql_a_bulk_insert_after_ddl_is_all_or_nothing() {
    let db = TestDb::new(Server::MySql).await;
    let error = run_step(&db, NOT_NULL, after_ddl, true).await.unwrap_err();
    assert!(step_error(&error).contains("1501"), "{error}");
    assert!(db.has_table("later").await);
    assert_eq!(db.integer("SELECT COUNT(*) FROM later").await, 0);
}

fn twice<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        let error = cx
            .bulk_insert(
                "b",
                &["id", "v", "V"],
                [[Value::from(1), 2.into(), 3.into()]],
            )
            .await
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("names column `V` twice (as `v` and `V`)"),
            "{error}"
        );
        Ok(())
    })
}

on_every_backend! {
    /// Issue 16, item 11: SQLite accepted a repeated column and dropped one of its values.
    async fn bulk_insert_refuses_a_column_named_twice(db) {
        run_step(&db, NOT_NULL, twice, true).await.unwrap();
        assert_eq!(db.integer("SELECT COUNT(*) FROM b").await, 0);
    }
}

fn names_schema(backend: Backend) -> String {
    let schema = match backend {
        Backend::Postgres => "CREATE SCHEMA sales;\n",
        _ => "",
    };
    let qualified = match backend {
        Backend::Postgres => "sales.items",
        _ => "items",
    };
    quoted_for(
        backend,
        &format!(
            "{schema}CREATE TABLE \"order\" (id INTEGER PRIMARY KEY, \"select\" INTEGER);\n\
             CREATE TABLE \"Order Items\" (\"Id\" INTEGER PRIMARY KEY, \"Qty\" INTEGER);\n\
             CREATE TABLE {qualified} (id INTEGER PRIMARY KEY, qty INTEGER);\n"
        ),
    )
}

fn any_names<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        let backend = cx.backend();
        let qualified = match backend {
            Backend::Postgres => "Sales.Items".to_string(),
            Backend::Sqlite => "main.items".to_string(),
            Backend::MySql => {
                let database = cx.fetch_all("SELECT DATABASE()", &[]).await?;
                format!("{}.items", database[0].get(0).as_str().unwrap())
            }
        };
        let rows = || (1..=5_i64).map(|i| [Value::from(i), Value::from(i * 10)]);
        assert_eq!(cx.bulk_insert("order", &["id", "select"], rows()).await?, 5);
        assert_eq!(
            cx.bulk_insert("\"Order Items\"", &["\"Id\"", "\"Qty\""], rows())
                .await?,
            5
        );
        assert_eq!(cx.bulk_insert(&qualified, &["id", "qty"], rows()).await?, 5);
        let set = quoted_for(backend, "\"select\" = \"select\" + 1");
        let report = cx.backfill("order", "id", &set).batch_size(2).run().await?;
        assert_eq!(report.rows, 5);
        let set = quoted_for(backend, "\"Qty\" = \"Qty\" + 1");
        let report = cx
            .backfill("\"Order Items\"", "\"Id\"", &set)
            .batch_size(2)
            .run()
            .await?;
        assert_eq!(report.rows, 5);
        let report = cx
            .backfill(&qualified, "id", "qty = qty + 1")
            .batch_size(2)
            .run()
            .await?;
        assert_eq!(report.rows, 5);
        // A name that needs quotes and has none is still refused before anything is sent.
        let error = cx
            .bulk_insert("b; DROP TABLE b", &["id"], [[Value::from(1)]])
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("`b; DROP TABLE b` needs quotes"),
            "{error}"
        );
        Ok(())
    })
}

on_every_backend! {
    /// Issue 16, item 11: reserved words passed the name check and failed in the database, and a
    /// quoted or mixed-case PostgreSQL table could not be targeted at all.
    async fn helpers_accept_any_real_table_name(db) {
        let schema = names_schema(db.backend);
        run_step(&db, &schema, any_names, true).await.unwrap();
        // MySQL's SUM is a DECIMAL; the others' an integer.
        let sum = |column: &str, table: &str| {
            let sum = match db.backend {
                Backend::MySql => format!("CAST(SUM({column}) AS SIGNED)"),
                _ => format!("SUM({column})"),
            };
            quoted_for(db.backend, &format!("SELECT {sum} FROM {table}"))
        };
        assert_eq!(db.integer(&sum("\"select\"", "\"order\"")).await, 155);
        assert_eq!(db.integer(&sum("\"Qty\"", "\"Order Items\"")).await, 155);
    }
}

fn bad_row<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        let rows = (1..=5_i64).map(|i| {
            let score = if i == 3 {
                Value::from("abc")
            } else {
                Value::from(i)
            };
            [Value::from(i), score]
        });
        cx.bulk_insert("scores", &["id", "score"], rows).await?;
        Ok(())
    })
}

/// Issue 16, item 11: COPY errors cited PostgreSQL's source line instead of the bad row.
#[tokio::test]
async fn a_refused_row_is_named_by_its_number() {
    for (server, expected) in [
        (Server::Postgres, "failed at row 3, column score: "),
        (Server::MySql, "failed at row 3"),
    ] {
        let db = TestDb::new(server).await;
        let error = run_step(
            &db,
            "CREATE TABLE scores (id INTEGER PRIMARY KEY, score INTEGER);\n",
            bad_row,
            true,
        )
        .await
        .unwrap_err();
        let message = step_error(&error);
        assert!(message.contains(expected), "{server:?}: {message}");
    }
}

fn handles_the_error<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        let error = cx
            .bulk_insert("b", &["id", "v"], rows(false))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("1501"), "{error}");
        // None of its rows is left in the step's transaction, which is still usable.
        let left = cx.fetch_all("SELECT COUNT(*) FROM b", &[]).await?;
        assert_eq!(left[0].get(0).as_i64(), Some(0));
        cx.bulk_insert("b", &["id", "v"], [[Value::from(1), Value::from(1)]])
            .await?;
        Ok(())
    })
}

on_every_backend! {
    /// Inside the step's transaction, a failed bulk insert leaves none of its rows even when the
    /// step handles the error and goes on (the first batch was sent on MySQL and SQLite, and a
    /// failed COPY aborts PostgreSQL's transaction).
    async fn a_failed_bulk_insert_inside_a_transaction_leaves_nothing_and_the_step_goes_on(db) {
        run_step(&db, NOT_NULL, handles_the_error, true).await.unwrap();
        assert_eq!(db.integer("SELECT COUNT(*) FROM b").await, 1);
    }
}
