//! Backfills: every row the filter selects updated exactly once, whatever the key, and the report
//! counting exactly those.

use dbmigrate_runtime::Backend;
use dbmigrate_runtime::data::{Context, StepFuture};
use dbmigrate_test_support::Server;

use super::{run_step, step_error};
use crate::support::{TestDb, on_every_backend};

const UNSIGNED_KEYS: &str = "CREATE TABLE p (id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY, done INT NOT NULL DEFAULT 0);\n\
    INSERT INTO p (done) VALUES (0), (0), (0), (0), (0), (0), (0);\n\
    CREATE TABLE q (id BIGINT UNSIGNED PRIMARY KEY, done INT NOT NULL DEFAULT 0);\n\
    INSERT INTO q (id) VALUES (1), (9223372036854775806), (9223372036854775807), (9223372036854775808), \
    (18446744073709551614), (18446744073709551615);\n";

fn unsigned_keys<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        let report = cx
            .backfill("p", "id", "done = done + 1")
            .batch_size(2)
            .run()
            .await?;
        assert_eq!((report.rows, report.batches), (7, 4));
        let report = cx
            .backfill("q", "id", "done = done + 1")
            .batch_size(1)
            .run()
            .await?;
        assert_eq!((report.rows, report.batches), (6, 6));
        Ok(())
    })
}

/// Issue 16, item 2: a backfill on an INT UNSIGNED key (MySQL's usual AUTO_INCREMENT id) never ended
/// and updated 1 row of 7.
#[tokio::test]
async fn mysql_a_backfill_walks_unsigned_keys_to_the_end() {
    let db = TestDb::new(Server::MySql).await;
    run_step(&db, UNSIGNED_KEYS, unsigned_keys, true)
        .await
        .unwrap();
    assert_eq!(db.integer("SELECT COUNT(*) FROM p WHERE done = 1").await, 7);
    assert_eq!(db.integer("SELECT COUNT(*) FROM q WHERE done = 1").await, 6);
}

const NULL_KEYS: &str = "CREATE TABLE n (k INTEGER, done INTEGER NOT NULL DEFAULT 0);\n\
    INSERT INTO n (k) VALUES (NULL), (1), (NULL), (2), (2), (NULL), (5), (NULL), (9), (9), (9), (NULL), (12);\n";

fn null_keys<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        let report = cx
            .backfill("n", "k", "done = done + 1")
            .batch_size(3)
            .run()
            .await?;
        assert_eq!(report.rows, 13);
        // With a filter, only the selected rows, NULL keys included.
        let report = cx
            .backfill("n", "k", "done = done + 10")
            .filter("k IS NULL OR k = 9")
            .batch_size(1)
            .run()
            .await?;
        assert_eq!(report.rows, 8);
        Ok(())
    })
}

on_every_backend! {
    /// Issue 16, item 3: rows whose key is NULL were skipped (on MariaDB and SQLite, where NULLs sort
    /// first, every row was, with success reported).
    async fn a_backfill_updates_rows_whose_key_is_null(db) {
        run_step(&db, NULL_KEYS, null_keys, true).await.unwrap();
        assert_eq!(db.integer("SELECT COUNT(*) FROM n WHERE done = 1").await, 5);
        assert_eq!(db.integer("SELECT COUNT(*) FROM n WHERE done = 11").await, 8);
    }
}

const KEYED: &str = "CREATE TABLE m (id INTEGER PRIMARY KEY, done INTEGER NOT NULL DEFAULT 0);\n\
    INSERT INTO m (id) VALUES (1), (2), (3), (4), (5);\n";

fn moves_the_key<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        for set in ["id = id + 100", "done = 1, ID = id * 2", "m.id = 7"] {
            let error = cx
                .backfill("m", "id", set)
                .batch_size(2)
                .run()
                .await
                .unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("would change its key column `id`"),
                "{set}: {error}"
            );
        }
        Ok(())
    })
}

on_every_backend! {
    /// Issue 16, item 4: a SET that changes the key (`id = id + 100`) never ended.
    async fn a_backfill_refuses_a_set_that_moves_the_key(db) {
        run_step(&db, KEYED, moves_the_key, true).await.unwrap();
        assert_eq!(db.integer("SELECT COUNT(*) FROM m WHERE id <= 5 AND done = 0").await, 5);
    }
}

fn keys_schema(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => {
            "CREATE TABLE by_time (at TIMESTAMP, done INTEGER NOT NULL DEFAULT 0);\n\
             CREATE TABLE by_amount (amount NUMERIC(40, 20), done INTEGER NOT NULL DEFAULT 0);\n\
             CREATE TABLE by_name (name VARCHAR(20), done INTEGER NOT NULL DEFAULT 0);\n"
        }
        Backend::MySql => {
            "CREATE TABLE by_time (at DATETIME(6), done INTEGER NOT NULL DEFAULT 0);\n\
             CREATE TABLE by_amount (amount DECIMAL(40, 20), done INTEGER NOT NULL DEFAULT 0);\n\
             CREATE TABLE by_name (name VARCHAR(20), done INTEGER NOT NULL DEFAULT 0);\n"
        }
        Backend::Sqlite => {
            "CREATE TABLE by_time (at DATETIME, done INTEGER NOT NULL DEFAULT 0);\n\
             CREATE TABLE by_amount (amount TEXT, done INTEGER NOT NULL DEFAULT 0);\n\
             CREATE TABLE by_name (name VARCHAR(20), done INTEGER NOT NULL DEFAULT 0);\n"
        }
    }
}

const KEY_ROWS: &str = "INSERT INTO by_time (at) VALUES ('2024-01-01 00:00:00'), ('2024-01-01 00:00:00.5'), \
    ('2024-01-01 00:00:00.5'), ('2023-12-31 23:59:59.999999'), ('2030-06-01 12:00:00'), (NULL);\n\
    INSERT INTO by_amount (amount) VALUES ('0.10000000000000000001'), ('0.10000000000000000002'), \
    ('0.10000000000000000003'), ('10000000000000000000.5'), ('-3'), (NULL);\n\
    INSERT INTO by_name (name) VALUES ('b'), ('a'), ('B'), ('a '), ('é'), ('');\n";

fn other_keys<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        for (table, key) in [
            ("by_time", "at"),
            ("by_amount", "amount"),
            ("by_name", "name"),
        ] {
            for batch in [1, 2, 4] {
                let report = cx
                    .backfill(table, key, "done = done + 1")
                    .batch_size(batch)
                    .run()
                    .await?;
                assert_eq!(report.rows, 6, "{table} in batches of {batch}");
            }
        }
        Ok(())
    })
}

on_every_backend! {
    /// Issue 16, items 11 and 12: TIMESTAMP and DECIMAL keys were refused without the docs saying so;
    /// decimals MySQL would compare as floating point, and text keys in any collation, are walked
    /// exactly.
    async fn a_backfill_walks_time_decimal_and_text_keys(db) {
        let schema = format!("{}{KEY_ROWS}", keys_schema(db.backend));
        run_step(&db, &schema, other_keys, true).await.unwrap();
        for table in ["by_time", "by_amount", "by_name"] {
            assert_eq!(db.integer(&format!("SELECT COUNT(*) FROM {table} WHERE done = 3")).await, 6, "{table}");
        }
    }
}

fn usage_errors<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        cx.backfill("m", "id", "done = 1")
            .batch_size(2)
            .run()
            .await?;
        cx.backfill("m", "id, done", "done = 1").run().await?;
        Ok(())
    })
}

on_every_backend! {
    /// A composite key is refused by name (the docs say to walk by one column).
    async fn a_backfill_refuses_a_composite_key(db) {
        let error = run_step(&db, KEYED, usage_errors, true).await.unwrap_err();
        assert!(step_error(&error).contains("`id, done` is not a column name"), "{error}");
        assert_eq!(db.integer("SELECT COUNT(*) FROM m WHERE done = 0").await, 5);
    }
}
