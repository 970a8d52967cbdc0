//! Workload 4: filling a new column on N rows with the batched backfill helper, against one `UPDATE`.

use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, ensure};
use dbmigrate_runtime::data::{BackfillReport, Context, StepFuture};
use dbmigrate_runtime::{Migrator, RustStep, Target};
use tokio::runtime::Runtime;

use super::corpus::migrations_from;
use super::databases::{Scratch, Server, with_connected_pool, with_fresh_database};
use super::measure::{Bound, Contender, Role, Sample, Table, Targets, alternate};

pub const DESCRIPTION: &str = "\
A table `accounts (id BIGINT PRIMARY KEY, email VARCHAR(100) NOT NULL, email_lower VARCHAR(100))` \
with N rows and `email_lower` empty; the work is `email_lower = LOWER(email)` on every row. Every run \
gets a fresh database with the filled table (and, on PostgreSQL, `ANALYZE`d, as a live table is), \
made outside the timing.

- **ours**: a Rust revision with `Transaction: none` whose step runs \
`cx.backfill(\"accounts\", \"id\", \"email_lower = LOWER(email)\").run()` with the helper's default \
batch of 10,000 rows, each batch committed on its own; timed: the whole `Migrator::upgrade(&pool)` \
call. The longest transaction is the helper's `BackfillReport::longest_batch`.
- **limit**: one `UPDATE accounts SET email_lower = LOWER(email)` on an open connection, which is \
also its longest transaction.
";

/// The report of the last backfill, for the results table.
static LAST_REPORT: Mutex<Option<BackfillReport>> = Mutex::new(None);

const CREATE_ACCOUNTS: &str = "CREATE TABLE accounts (id BIGINT PRIMARY KEY, email VARCHAR(100) NOT NULL, email_lower VARCHAR(100))";
const UPDATE: &str = "email_lower = LOWER(email)";

fn backfill_emails<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        let report = cx.backfill("accounts", "id", UPDATE).run().await?;
        *LAST_REPORT.lock().expect("report lock") = Some(report);
        Ok(())
    })
}

/// Creates and fills the table, in the server's SQL.
fn fill_sql(server: Server, rows: u64) -> anyhow::Result<String> {
    Ok(match server {
        Server::Postgres => format!(
            "{CREATE_ACCOUNTS};\nINSERT INTO accounts (id, email) \
             SELECT g, 'User.' || g || '@Example.COM' FROM generate_series(1, {rows}) AS g;\n"
        ),
        Server::Sqlite => format!(
            "{CREATE_ACCOUNTS};\nWITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {rows}) \
             INSERT INTO accounts (id, email) SELECT i, 'User.' || i || '@Example.COM' FROM g;\n"
        ),
        Server::MariaDb => bail!("the backfill workload runs on PostgreSQL and SQLite"),
    })
}

pub fn run(
    runtime: &Runtime,
    servers: &[Server],
    rows: u64,
    rounds: usize,
) -> anyhow::Result<Vec<Table>> {
    let mut tables = Vec::new();
    for &server in servers {
        eprintln!("backfill: {}", server.label());
        let fill = fill_sql(server, rows)?;
        let files = vec![
            (
                "V1__accounts.sql".to_string(),
                format!("-- Message: accounts\n-- Revises:\n\n{fill}"),
            ),
            (
                "V2__backfill_emails.rs".to_string(),
                "//! Message: backfill lower-case emails\n//! Revises: 1\n//! Transaction: none\n"
                    .to_string(),
            ),
        ];
        let migrations = migrations_from(&files)?.with_rust_steps(&[RustStep {
            version: 2,
            upgrade: backfill_emails,
            downgrade: None,
        }]);
        let (migrations, fill) = (&migrations, &fill);
        let mut contenders = vec![
            Contender::new("ours: batched backfill helper", Role::Ours, || {
                with_fresh_database(runtime, server, async |scratch| {
                    let elapsed = with_connected_pool!(server, &scratch.url, pool => {
                        Migrator::new(migrations).target(Target::Version(1)).upgrade(&pool).await?;
                        if server == Server::Postgres {
                            sqlx::raw_sql("ANALYZE accounts").execute(&pool).await?;
                        }
                        let started = Instant::now();
                        let report = Migrator::new(migrations).upgrade(&pool).await?;
                        let elapsed = started.elapsed();
                        ensure!(report.steps.len() == 1, "ours applied {} revisions", report.steps.len());
                        elapsed
                    });
                    let report = LAST_REPORT
                        .lock()
                        .expect("report lock")
                        .take()
                        .ok_or_else(|| anyhow::anyhow!("the backfill step did not run"))?;
                    ensure!(
                        report.rows == rows,
                        "the backfill updated {} rows",
                        report.rows
                    );
                    check_done(scratch).await?;
                    Ok(Sample::of(elapsed)
                        .with_rows(report.rows)
                        .with_longest_transaction(report.longest_batch))
                })
            }),
            Contender::new("one UPDATE statement", Role::Limit, || {
                with_fresh_database(runtime, server, async |scratch| {
                    let elapsed = with_connected_pool!(server, &scratch.url, pool => {
                        sqlx::raw_sql(sqlx::AssertSqlSafe(fill.clone())).execute(&pool).await?;
                        if server == Server::Postgres {
                            sqlx::raw_sql("ANALYZE accounts").execute(&pool).await?;
                        }
                        let started = Instant::now();
                        let updated = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("UPDATE accounts SET {UPDATE}")))
                            .execute(&pool)
                            .await?
                            .rows_affected();
                        let elapsed = started.elapsed();
                        ensure!(updated == rows, "the UPDATE changed {updated} rows");
                        elapsed
                    });
                    check_done(scratch).await?;
                    Ok(Sample::of(elapsed)
                        .with_rows(rows)
                        .with_longest_transaction(elapsed))
                })
            }),
        ];
        let results = alternate(&mut contenders, rounds)?;
        tables.push(Table::new(
            format!(
                "Backfill, {}, {} rows",
                server.label(),
                super::measure::thousands(rows)
            ),
            results,
            Targets {
                vs_best_peer: None,
                vs_limit: Some(Bound::AtMost(2.0)),
            },
        ));
    }
    Ok(tables)
}

/// No row may be left without its lower-case email.
async fn check_done(scratch: &Scratch) -> anyhow::Result<()> {
    use sqlx::Connection as _;
    const LEFT: &str =
        "SELECT COUNT(*) FROM accounts WHERE email_lower IS NULL OR email_lower <> LOWER(email)";
    let left: i64 = match scratch.server {
        Server::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&scratch.url).await?;
            sqlx::query_scalar(LEFT).fetch_one(&mut conn).await?
        }
        _ => {
            let mut conn = sqlx::SqliteConnection::connect(&scratch.url).await?;
            sqlx::query_scalar(LEFT).fetch_one(&mut conn).await?
        }
    };
    ensure!(left == 0, "{left} rows were not backfilled");
    Ok(())
}
