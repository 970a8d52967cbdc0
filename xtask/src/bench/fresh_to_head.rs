//! Workload 2: an empty database brought to head through N small SQL revisions, on PostgreSQL,
//! MariaDB and SQLite. Every run gets a database of its own, created and dropped outside the timing.

use std::time::Instant;

use anyhow::ensure;
use dbmigrate_runtime::Migrator;
use tokio::runtime::Runtime;

use super::corpus::{SmallRevisions, migrations_from};
use super::databases::{
    Scratch, Server, require_client, run_checked, with_connected_pool, with_fresh_database,
};
use super::measure::{Bound, Contender, Role, Sample, Table, Targets, alternate};

pub const DESCRIPTION: &str = "\
An empty database brought to head through N small SQL revisions (each creates a table and inserts \
one row into it). Every run gets a fresh database, created and dropped outside the timing; every \
contender starts with a connected pool or client, except the limit, whose client connects inside \
the timing.

- **ours**: `Migrations::from_sources` on the in-memory files and `Migrator::new(&m).upgrade(&pool)` \
on a connected sqlx pool: lock, history tables, each revision with its history row: on PostgreSQL in \
its own transaction sent as one message; on SQLite in a savepoint of one transaction shared by \
consecutive revisions, sent a few KiB of SQL at a time, with the history rows written once for the \
group; on MariaDB, whose DDL commits implicitly, the DDL on its own with its progress \
recorded and the rest with the history row in one transaction, all in one multi-statement message.
- **refinery**: `Runner::run_async` (tokio-postgres, mysql_async) or `Runner::run` (rusqlite), each \
migration in its own transaction (refinery's default, ungrouped).
- **sqlx**: `Migrator::run` on a connected pool, the `Migrator` built before timing (as `migrate!` \
does at compile time).
- **limit**: the server's own client running one file with the same SQL plus refinery's history \
inserts: `psql -1 -f` (one transaction), `mariadb` with autocommit off (DDL still commits \
implicitly), `sqlite3` inside `BEGIN`/`COMMIT`.
";

pub fn run(
    runtime: &Runtime,
    servers: &[Server],
    count: usize,
    rounds: usize,
) -> anyhow::Result<Vec<Table>> {
    let revisions = SmallRevisions::new(count);
    let ours_files = revisions.ours_sources();
    let sqlx_dir = tempfile::tempdir()?;
    revisions.write_sqlx_directory(sqlx_dir.path())?;
    let sqlx_migrator = runtime.block_on(sqlx::migrate::Migrator::new(sqlx_dir.path()))?;
    let mut tables = Vec::new();
    for &server in servers {
        require_client(server, "the fresh-database limit")?;
        let script_file = tempfile::NamedTempFile::new()?;
        std::fs::write(script_file.path(), revisions.limit_script(server))?;
        eprintln!("fresh database to head: {}", server.label());
        let (ours_files, revisions, sqlx_migrator) = (&ours_files, &revisions, &sqlx_migrator);
        let script = script_file.path();
        let mut contenders = vec![
            Contender::new("ours: parse + upgrade()", Role::Ours, || {
                with_fresh_database(runtime, server, async |scratch| {
                    ours_to_head(server, scratch, ours_files, count).await
                })
            }),
            Contender::new("refinery 0.10", Role::Peer, || {
                with_fresh_database(runtime, server, async |scratch| {
                    refinery_to_head(server, scratch, revisions).await
                })
            }),
            Contender::new("sqlx 0.9 Migrator::run", Role::Peer, || {
                with_fresh_database(runtime, server, async |scratch| {
                    sqlx_to_head(server, scratch, sqlx_migrator).await
                })
            }),
            Contender::new(limit_name(server), Role::Limit, || {
                with_fresh_database(runtime, server, async |scratch| {
                    let mut command = scratch.script_command(script)?;
                    Sample::time(|| run_checked(&mut command, "the limit's client"))
                })
            }),
        ];
        let results = alternate(&mut contenders, rounds)?;
        tables.push(Table::new(
            format!(
                "Fresh database to head, {}, {count} revisions",
                server.label()
            ),
            results,
            Targets {
                vs_best_peer: Some(Bound::Below(1.0)),
                vs_limit: Some(Bound::AtMost(1.5)),
            },
        ));
    }
    Ok(tables)
}

fn limit_name(server: Server) -> &'static str {
    match server {
        Server::Postgres => "psql -1 -f (one script)",
        Server::MariaDb => "mariadb < script",
        Server::Sqlite => "sqlite3 < script",
    }
}

async fn ours_to_head(
    server: Server,
    scratch: &Scratch,
    files: &[(String, String)],
    count: usize,
) -> anyhow::Result<Sample> {
    let (elapsed, applied) = with_connected_pool!(server, &scratch.url, pool => {
        let started = Instant::now();
        let migrations = migrations_from(files)?;
        let report = Migrator::new(&migrations).upgrade(&pool).await?;
        (started.elapsed(), report.steps.len())
    });
    ensure!(applied == count, "ours applied {applied}");
    Ok(Sample::of(elapsed))
}

async fn refinery_to_head(
    server: Server,
    scratch: &Scratch,
    revisions: &SmallRevisions,
) -> anyhow::Result<Sample> {
    let (elapsed, applied) = match server {
        Server::Postgres => {
            let (mut client, connection) = refinery_core::tokio_postgres::connect(
                &scratch.url,
                refinery_core::tokio_postgres::NoTls,
            )
            .await?;
            let connection = tokio::spawn(connection);
            let started = Instant::now();
            let migrations = revisions.refinery()?;
            let report = refinery::Runner::new(&migrations)
                .run_async(&mut client)
                .await?;
            let elapsed = started.elapsed();
            drop(client);
            let _ = connection.await;
            (elapsed, report.applied_migrations().len())
        }
        Server::MariaDb => {
            let mut pool = refinery_core::mysql_async::Pool::new(scratch.url.as_str());
            // Connect before timing: one connection, back in the pool for refinery to take.
            drop(pool.get_conn().await?);
            let started = Instant::now();
            let migrations = revisions.refinery()?;
            let report = refinery::Runner::new(&migrations)
                .run_async(&mut pool)
                .await?;
            let elapsed = started.elapsed();
            pool.disconnect().await?;
            (elapsed, report.applied_migrations().len())
        }
        Server::Sqlite => {
            let mut conn = refinery_core::rusqlite::Connection::open(scratch.sqlite_file())?;
            let started = Instant::now();
            let migrations = revisions.refinery()?;
            let report = refinery::Runner::new(&migrations).run(&mut conn)?;
            (started.elapsed(), report.applied_migrations().len())
        }
    };
    ensure!(applied == revisions.count, "refinery applied {applied}");
    Ok(Sample::of(elapsed))
}

async fn sqlx_to_head(
    server: Server,
    scratch: &Scratch,
    migrator: &sqlx::migrate::Migrator,
) -> anyhow::Result<Sample> {
    let elapsed = with_connected_pool!(server, &scratch.url, pool => {
        let started = Instant::now();
        migrator.run(&pool).await?;
        started.elapsed()
    });
    Ok(Sample::of(elapsed))
}
