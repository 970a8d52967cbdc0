//! Workload 1: a self-migrating binary starting against a PostgreSQL database already at head, with
//! nothing to apply. Each tool has its own database, brought to head by the tool itself beforehand.

use std::time::Instant;

use anyhow::{Context as _, ensure};
use dbmigrate_runtime::Migrator;
use tokio::runtime::Runtime;

use super::corpus::{HISTORY_TABLE, SmallRevisions, migrations_from};
use super::databases::{Scratch, Server};
use super::measure::{Bound, Contender, Role, Sample, Table, Targets, alternate};

pub const DESCRIPTION: &str = "\
A PostgreSQL database already at head with N revisions; the time of the call a self-migrating \
binary makes at startup when nothing is pending, on a pool or client that is already connected and \
with the revisions already loaded. Each tool has its own database, brought to head by that tool \
before timing.

- **ours**: `Migrator::new(&migrations).upgrade(&pool)` on a connected `PgPool`, the `Migrations` \
built before timing (an `Embedded` set parses its files once, on first use). With nothing pending it \
reads the history without taking the lock (rows are written in the same transaction as their \
revision, so a lock-free read never sees a half-applied one) and verifies every checksum. The context \
row *first call* adds parsing the N embedded files, which a process pays once.
- **refinery**: `Runner::new(&migrations).run_async(&mut client)` on a connected \
`tokio_postgres::Client`, the migrations built before timing. `embed_migrations!`'s `runner()` \
rebuilds them on every call; the context row *every call* includes that.
- **sqlx**: `Migrator::run(&pool)` on a connected `PgPool`. The `Migrator` is built before timing with \
`Migrator::new(dir)`: `sqlx::migrate!` builds the same value at compile time and its `run` is this \
code. It takes its advisory lock, reads `_sqlx_migrations` and compares checksums.
- **limit**: one `SELECT` of the whole history table on an open connection.

Each call takes milliseconds, so this workload runs ten times as many rounds as the others.
";

/// How many more rounds this workload runs than the others.
pub const ROUNDS_FACTOR: usize = 10;

pub fn run(runtime: &Runtime, count: usize, rounds: usize) -> anyhow::Result<Vec<Table>> {
    let revisions = SmallRevisions::new(count);
    let ours_files = revisions.ours_sources();
    let sqlx_dir = tempfile::tempdir()?;
    revisions.write_sqlx_directory(sqlx_dir.path())?;

    let (ours_db, refinery_db, sqlx_db) = runtime.block_on(async {
        let ours = Scratch::create(Server::Postgres).await?;
        let refinery = Scratch::create(Server::Postgres).await?;
        let sqlx = Scratch::create(Server::Postgres).await?;
        anyhow::Ok((ours, refinery, sqlx))
    })?;
    let result = measure(
        runtime,
        &revisions,
        &ours_files,
        sqlx_dir.path(),
        [&ours_db, &refinery_db, &sqlx_db],
        rounds,
    );
    runtime.block_on(async {
        ours_db.drop_database().await?;
        refinery_db.drop_database().await?;
        sqlx_db.drop_database().await
    })?;
    let results = result?;
    Ok(vec![Table::new(
        format!("No-op startup, PostgreSQL, {count} revisions at head"),
        results,
        Targets {
            vs_best_peer: Some(Bound::Below(1.0)),
            vs_limit: None,
        },
    )])
}

fn measure(
    runtime: &Runtime,
    revisions: &SmallRevisions,
    ours_files: &[(String, String)],
    sqlx_dir: &std::path::Path,
    [ours_db, refinery_db, sqlx_db]: [&Scratch; 3],
    rounds: usize,
) -> anyhow::Result<Vec<super::measure::Measured>> {
    // Connections, opened once and kept, as a running application has them.
    let (ours_pool, sqlx_pool, mut refinery_client, sqlx_migrator) = runtime.block_on(async {
        let ours_pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&ours_db.url)
            .await?;
        let sqlx_pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&sqlx_db.url)
            .await?;
        let (client, connection) = refinery_core::tokio_postgres::connect(
            &refinery_db.url,
            refinery_core::tokio_postgres::NoTls,
        )
        .await?;
        tokio::spawn(connection);
        let sqlx_migrator = sqlx::migrate::Migrator::new(sqlx_dir).await?;
        anyhow::Ok((ours_pool, sqlx_pool, client, sqlx_migrator))
    })?;

    // Every database to head, each by its own tool.
    let parsed = migrations_from(ours_files)?;
    runtime.block_on(async {
        let report = Migrator::new(&parsed).upgrade(&ours_pool).await?;
        ensure!(
            report.steps.len() == revisions.count,
            "ours applied {} revisions",
            report.steps.len()
        );
        refinery::Runner::new(&revisions.refinery()?)
            .run_async(&mut refinery_client)
            .await
            .context("refinery bringing its database to head")?;
        sqlx_migrator
            .run(&sqlx_pool)
            .await
            .context("sqlx bringing its database to head")?;
        anyhow::Ok(())
    })?;

    let select = format!("SELECT version, name, applied_on, checksum FROM {HISTORY_TABLE}");
    let mut limit_conn = runtime.block_on(ours_pool.acquire())?;
    let refinery_migrations = revisions.refinery()?;
    // Two contenders use refinery's one client, never at once.
    let refinery_client = std::cell::RefCell::new(refinery_client);
    let mut contenders = vec![
        Contender::new("ours: Migrator::upgrade", Role::Ours, || {
            runtime.block_on(async {
                let started = Instant::now();
                let report = Migrator::new(&parsed).upgrade(&ours_pool).await?;
                let elapsed = started.elapsed();
                ensure!(report.steps.is_empty(), "ours applied something");
                Ok(Sample::of(elapsed))
            })
        }),
        Contender::new(
            "ours, first call: parse files + upgrade",
            Role::Context,
            || {
                runtime.block_on(async {
                    let started = Instant::now();
                    let migrations = migrations_from(ours_files)?;
                    let report = Migrator::new(&migrations).upgrade(&ours_pool).await?;
                    let elapsed = started.elapsed();
                    ensure!(report.steps.is_empty(), "ours applied something");
                    Ok(Sample::of(elapsed))
                })
            },
        ),
        Contender::new("refinery 0.10: Runner::run_async", Role::Peer, || {
            let mut client = refinery_client.borrow_mut();
            let client = &mut *client;
            runtime.block_on(async {
                let started = Instant::now();
                let report = refinery::Runner::new(&refinery_migrations)
                    .run_async(client)
                    .await?;
                let elapsed = started.elapsed();
                ensure!(
                    report.applied_migrations().is_empty(),
                    "refinery applied something"
                );
                Ok(Sample::of(elapsed))
            })
        }),
        Contender::new(
            "refinery, every call: build migrations + run",
            Role::Context,
            || {
                let mut client = refinery_client.borrow_mut();
                let client = &mut *client;
                runtime.block_on(async {
                    let started = Instant::now();
                    let migrations = revisions.refinery()?;
                    let report = refinery::Runner::new(&migrations).run_async(client).await?;
                    let elapsed = started.elapsed();
                    ensure!(
                        report.applied_migrations().is_empty(),
                        "refinery applied something"
                    );
                    Ok(Sample::of(elapsed))
                })
            },
        ),
        Contender::new("sqlx 0.9: Migrator::run", Role::Peer, || {
            runtime.block_on(async {
                let started = Instant::now();
                sqlx_migrator.run(&sqlx_pool).await?;
                Ok(Sample::of(started.elapsed()))
            })
        }),
        Contender::new("SELECT of the history table", Role::Limit, || {
            runtime.block_on(async {
                let started = Instant::now();
                let rows = sqlx::query(sqlx::AssertSqlSafe(select.as_str()))
                    .fetch_all(&mut *limit_conn)
                    .await?;
                let elapsed = started.elapsed();
                ensure!(
                    rows.len() == revisions.count,
                    "the history has {} rows",
                    rows.len()
                );
                Ok(Sample::of(elapsed))
            })
        }),
    ];
    // Each call takes milliseconds: ten times the rounds cost little and steady the medians.
    let results = alternate(&mut contenders, rounds * ROUNDS_FACTOR);
    drop(contenders);
    drop(limit_conn);
    runtime.block_on(async {
        ours_pool.close().await;
        sqlx_pool.close().await;
    });
    drop(refinery_client);
    results
}
