//! Each kind of value read back exactly (or refused by name), by the type the database reports.

use dbmigrate_runtime::Backend;
use dbmigrate_runtime::data::{Context, StepFuture, Value};
use dbmigrate_test_support::Server;
use time::macros::{date, datetime, time};

use super::{run_step, step_error};
use crate::support::{TestDb, on_every_backend};

const UNSIGNED: &str = "CREATE TABLE u (id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY, tiny TINYINT UNSIGNED, \
    small SMALLINT UNSIGNED, medium MEDIUMINT UNSIGNED, big BIGINT UNSIGNED, flag BOOLEAN, tiny_signed TINYINT, \
    year_column YEAR);\n\
    INSERT INTO u (tiny, small, medium, big, flag, tiny_signed, year_column) VALUES \
    (255, 65535, 16777215, 18446744073709551615, 1, -128, 2024), \
    (200, 5, 0, 9223372036854775807, 0, 127, 1901), \
    (0, 0, 5, 9223372036854775808, 5, 0, 2155);\n";

fn read_unsigned<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        let rows = cx
            .fetch_all(
                "SELECT id, tiny, small, medium, big, flag, tiny_signed, year_column FROM u ORDER BY id",
                &[],
            )
            .await?;
        let values: Vec<Vec<Value>> = rows.into_iter().map(|r| r.into_values()).collect();
        use Value::{Bool, Int, UInt};
        assert_eq!(
            values,
            [
                vec![
                    Int(1),
                    Int(255),
                    Int(65535),
                    Int(16777215),
                    UInt(u64::MAX),
                    Bool(true),
                    Int(-128),
                    Int(2024)
                ],
                vec![
                    Int(2),
                    Int(200),
                    Int(5),
                    Int(0),
                    Int(i64::MAX),
                    Bool(false),
                    Int(127),
                    Int(1901)
                ],
                // A TINYINT(1) holding 5 is not a boolean: it reads back as the integer it is.
                vec![
                    Int(3),
                    Int(0),
                    Int(0),
                    Int(5),
                    UInt(i64::MAX as u64 + 1),
                    Int(5),
                    Int(0),
                    Int(2155)
                ],
            ]
        );
        cx.execute(
            "INSERT INTO u (big) VALUES (?)",
            &[Value::from(u64::MAX - 1)],
        )
        .await?;
        let last = cx.fetch_all("SELECT LAST_INSERT_ID()", &[]).await?;
        assert_eq!(last[0].get(0), &Int(4));
        let found = cx
            .fetch_all(
                "SELECT id FROM u WHERE big = ?",
                &[Value::from(u64::MAX - 1)],
            )
            .await?;
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].get(0).as_i64(), Some(4));
        Ok(())
    })
}

/// Issue 16, item 1: every UNSIGNED integer read as `Bool`, and INT UNSIGNED 200 refused.
#[tokio::test]
async fn mysql_unsigned_integers_and_booleans_read_back_exactly() {
    let db = TestDb::new(Server::MySql).await;
    run_step(&db, UNSIGNED, read_unsigned, true).await.unwrap();
}

fn kinds_schema(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => {
            "CREATE TABLE kinds (id INTEGER PRIMARY KEY, amount NUMERIC, big BIGINT, doc JSONB, plain_doc JSON, \
             tag UUID, day DATE, at TIME, local TIMESTAMP, instant TIMESTAMPTZ);\n"
        }
        Backend::MySql => {
            "CREATE TABLE kinds (id INTEGER PRIMARY KEY, amount DECIMAL(20, 2), big BIGINT, doc JSON, plain_doc TEXT, \
             tag CHAR(36), day DATE, at TIME(6), local DATETIME(6), instant TIMESTAMP(6) NULL);\n"
        }
        Backend::Sqlite => {
            "CREATE TABLE kinds (id INTEGER PRIMARY KEY, amount TEXT, big INTEGER, doc TEXT, plain_doc TEXT, \
             tag TEXT, day DATE, at TIME, local DATETIME, instant TIMESTAMP);\n"
        }
    }
}

fn the_kinds() -> Vec<Value> {
    vec![
        Value::Int(1),
        Value::decimal("12345678901234567.50").unwrap(),
        Value::Int(i64::MAX),
        Value::Json(serde_json::json!({"name": "Ada", "tags": ["a", "b"], "n": 3})),
        Value::Json(serde_json::json!([1, "two", null])),
        Value::Uuid(uuid::Uuid::from_u128(
            0x0123_4567_89ab_cdef_0123_4567_89ab_cdef,
        )),
        Value::Date(date!(2024 - 02 - 29)),
        Value::Time(time!(13:05:09.25)),
        Value::DateTime(datetime!(2024-02-29 13:05:09.000001)),
        Value::Timestamp(datetime!(2024-02-29 13:05:09 +01:00)),
    ]
}

fn read_kinds<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        let written = the_kinds();
        cx.execute(
            "INSERT INTO kinds (id, amount, big, doc, plain_doc, tag, day, at, local, instant) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            &written,
        )
        .await?;
        cx.bulk_insert(
            "kinds",
            &[
                "id",
                "amount",
                "big",
                "doc",
                "plain_doc",
                "tag",
                "day",
                "at",
                "local",
                "instant",
            ],
            [{
                let mut second = the_kinds();
                second[0] = Value::Int(2);
                second
            }],
        )
        .await?;
        let rows = cx
            .fetch_all(
                "SELECT id, amount, big, doc, plain_doc, tag, day, at, local, instant FROM kinds ORDER BY id",
                &[],
            )
            .await?;
        let uuid_text = Value::Text("01234567-89ab-cdef-0123-456789abcdef".into());
        let json_text = |v: &Value| Value::Text(v.to_json().unwrap().to_string());
        let expected: Vec<Value> = match cx.backend() {
            Backend::Postgres => written.clone(),
            // MariaDB's JSON is text; UUIDs are stored as text.
            Backend::MySql => {
                let mut expected = written.clone();
                expected[5] = uuid_text.clone();
                expected
            }
            Backend::Sqlite => {
                let mut expected = written.clone();
                expected[1] = Value::Text("12345678901234567.50".into());
                expected[3] = json_text(&written[3]);
                expected[4] = json_text(&written[4]);
                expected[5] = uuid_text.clone();
                expected
            }
        };
        for row in &rows {
            for (index, (got, want)) in row.values().iter().zip(&expected).enumerate().skip(1) {
                match (got, want) {
                    // MariaDB keeps JSON as the text it was given.
                    (Value::Text(text), Value::Json(json)) if cx.backend() == Backend::MySql => {
                        assert_eq!(
                            &serde_json::from_str::<serde_json::Value>(text).unwrap(),
                            json
                        )
                    }
                    _ => assert_eq!(got, want, "column {}", row.columns()[index]),
                }
            }
            assert_eq!(row.get(5).as_uuid(), written[5].as_uuid());
        }
        // SUM of a BIGINT is an exact decimal where the database widens it (SQLite's SUM stays an
        // integer, and refuses to overflow).
        if cx.backend() != Backend::Sqlite {
            let sum = cx.fetch_all("SELECT SUM(big) FROM kinds", &[]).await?;
            assert_eq!(
                sum[0].get(0),
                &Value::Decimal("18446744073709551614".into())
            );
            let small = cx.fetch_all("SELECT SUM(id) FROM kinds", &[]).await?;
            assert_eq!(small[0].get(0).as_i64(), Some(3));
        }
        Ok(())
    })
}

on_every_backend! {
    /// Issue 16, item 12: NUMERIC/DECIMAL, SUM(bigint), JSON, UUID, dates and timestamps.
    async fn decimals_json_uuids_dates_and_times_read_back_as_written(db) {
        run_step(&db, kinds_schema(db.backend), read_kinds, true).await.unwrap();
    }
}

fn floats<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        let backend = cx.backend();
        let specials = [
            (1, -0.0_f64),
            (2, f64::INFINITY),
            (3, f64::NEG_INFINITY),
            (4, f64::NAN),
            (5, f64::MIN_POSITIVE),
            (6, 5e-324),
            (7, f64::MAX),
        ];
        let mut refused = Vec::new();
        for (id, x) in specials {
            match cx
                .execute(
                    "INSERT INTO f (id, x) VALUES (?, ?)",
                    &[id.into(), x.into()],
                )
                .await
            {
                Ok(_) => {}
                Err(error) => {
                    let message = error.to_string();
                    assert!(message.starts_with("parameter 2: "), "{message}");
                    refused.push(id);
                }
            }
        }
        let expected_refusals: &[i32] = match backend {
            Backend::Postgres => &[],
            Backend::Sqlite => &[4],
            Backend::MySql => &[2, 3, 4],
        };
        assert_eq!(refused, expected_refusals, "{backend}");
        let rows = cx.fetch_all("SELECT id, x FROM f ORDER BY id", &[]).await?;
        for row in rows {
            let id = row.get(0).as_i64().unwrap();
            let got = row.get(1).as_f64().unwrap();
            let written = specials[usize::try_from(id).unwrap() - 1].1;
            if written.is_nan() {
                assert!(got.is_nan());
            } else if id == 1 && backend != Backend::Postgres {
                // MySQL and SQLite store -0.0 as 0.0 (documented).
                assert_eq!(got.to_bits(), 0.0_f64.to_bits());
            } else {
                assert_eq!(got.to_bits(), written.to_bits(), "id {id} on {backend}");
            }
        }
        // In a bulk insert, the refusal names the row and the column.
        let result = cx
            .bulk_insert(
                "f",
                &["id", "x"],
                [
                    [Value::from(10), Value::from(1.0)],
                    [Value::from(11), Value::from(f64::NAN)],
                ],
            )
            .await;
        match backend {
            Backend::Postgres => assert_eq!(result?, 2),
            _ => {
                let message = result.unwrap_err().to_string();
                assert!(
                    message
                        .starts_with("row 2, column x, of the bulk insert: NaN cannot be stored"),
                    "{message}"
                );
            }
        }
        Ok(())
    })
}

on_every_backend! {
    /// Issue 16, item 9: SQLite stored NaN as NULL without an error; -0.0 is documented.
    async fn floats_are_stored_exactly_or_refused_by_name(db) {
        run_step(&db, "CREATE TABLE f (id INTEGER PRIMARY KEY, x DOUBLE PRECISION);\n", floats, true)
            .await
            .unwrap();
        if db.backend != Backend::Postgres {
            assert_eq!(db.integer("SELECT COUNT(*) FROM f WHERE x IS NULL").await, 0);
        }
    }
}

fn unsupported<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        let sql = match cx.backend() {
            Backend::MySql => "SELECT POINT(1, 2) AS spot",
            _ => "SELECT INTERVAL '1 day' AS spot",
        };
        cx.fetch_all(sql, &[]).await?;
        Ok(())
    })
}

/// Issue 16, item 11: the hint for a type Value cannot hold is a cast the database accepts.
#[tokio::test]
async fn an_unsupported_type_is_refused_with_a_cast_the_database_accepts() {
    for (server, cast) in [
        (Server::MySql, "CAST(spot AS CHAR)"),
        (Server::Postgres, "CAST(spot AS TEXT)"),
    ] {
        let db = TestDb::new(server).await;
        let error = run_step(&db, "CREATE TABLE t (id INTEGER);\n", unsupported, true)
            .await
            .unwrap_err();
        let message = step_error(&error);
        assert!(message.contains(cast), "{server:?}: {message}");
    }
}
