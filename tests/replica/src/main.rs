//! `dbmigrate-replica`: one replica of an application starting up. It migrates `DATABASE_URL` to
//! head (lock timeout `REPLICA_LOCK_TIMEOUT_MS`, default 60 s), prints the versions it applied as
//! JSON, and exits with dbmigrate's exit code.

use std::process::ExitCode;
use std::time::Duration;

use dbmigrate_replica::MIGRATIONS;
use dbmigrate_runtime::{BackendPool, online};

#[tokio::main]
async fn main() -> ExitCode {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("error: set DATABASE_URL");
        return ExitCode::from(online::exit::USAGE);
    };
    let lock_timeout = std::env::var("REPLICA_LOCK_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60_000);
    let pool = match BackendPool::connect_lazy(&url, 2) {
        Ok(pool) => pool,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(online::exit::USAGE);
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
            eprintln!("error: {error}");
            ExitCode::from(online::exit_code(&error))
        }
    }
}
