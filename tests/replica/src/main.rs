//! `dbmigrate-replica`: one replica of an application starting up. It migrates `DATABASE_URL` to
//! head (lock timeout `REPLICA_LOCK_TIMEOUT_MS`, default 60 s), prints the versions it applied as
//! JSON, and exits with 6 on a lock timeout (as `cargo dbmigrate` does; the race scenarios retry
//! those), 2 on a usage error, and 1 on any other failure.

use std::process::ExitCode;
use std::time::Duration;

use dbmigrate_replica::MIGRATIONS;
use dbmigrate_runtime::BackendPool;
use dbmigrate_runtime::online::{ErrorKind, ErrorReport};

#[tokio::main]
async fn main() -> ExitCode {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("error: set DATABASE_URL");
        return ExitCode::from(2);
    };
    let lock_timeout = std::env::var("REPLICA_LOCK_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60_000);
    let pool = match BackendPool::connect_lazy(&url, 2) {
        Ok(pool) => pool,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let result = match MIGRATIONS.migrator() {
        Ok(migrator) => {
            migrator
                .lock_timeout(Duration::from_millis(lock_timeout))
                .upgrade(&pool)
                .await
        }
        Err(error) => Err(error),
    };
    pool.close().await;
    match result {
        Ok(report) => {
            let applied: Vec<i64> = report.steps.iter().map(|s| s.version).collect();
            println!("{}", serde_json::json!({ "applied": applied }));
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {}", ErrorReport::of(&error));
            ExitCode::from(match ErrorKind::of(&error) {
                ErrorKind::LockTimeout => 6,
                _ => 1,
            })
        }
    }
}
