//! `teams [upgrade | downgrade <target>]`: migrates the database in `DATABASE_URL` (a SQLite file by
//! default) to head, or down to a target, and lists the players by team.
//!
//! It prints what `cargo dbmigrate` prints: the progress of long data steps on standard error as
//! they run, the runtime's log when RUST_LOG asks for it, and on failure the same message and hints
//! (`error: ...`, `help: ...`), never a Debug dump.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use dbmigrate_runtime::online::ErrorReport;
use dbmigrate_runtime::{BackendPool, redact_url};
use teams::{MIGRATIONS, default_url, players_by_team};

#[tokio::main]
async fn main() -> ExitCode {
    // RUST_LOG=dbmigrate_runtime=info shows the runtime's log (connection retries, lock waits,
    // data-step progress) on standard error.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| default_url());
    let pool = match BackendPool::connect_lazy(&url, 4) {
        Ok(pool) => pool,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let migrator = match MIGRATIONS.migrator() {
        Ok(migrator) => migrator,
        Err(error) => {
            eprintln!("error: {}", ErrorReport::of(&error));
            return ExitCode::FAILURE;
        }
    };
    // Long data steps (backfills, bulk inserts) say how far they got, as `cargo dbmigrate` does.
    let migrator = migrator.on_progress(|progress| {
        eprintln!(
            "  {} {}: {} rows in {} ms",
            progress.version,
            progress.task,
            progress.rows,
            progress.elapsed.as_millis()
        );
    });
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let run = match arguments
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["upgrade"] => migrator.upgrade(&pool).await,
        ["downgrade", target] => match target.parse() {
            Ok(target) => migrator.downgrade(&pool, target).await,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!(
                "usage: teams [upgrade | downgrade <target>]   (DATABASE_URL selects the database)"
            );
            return ExitCode::from(2);
        }
    };
    // Printed in one write whose failure (a closed pipe, `| head`) is not worth a panic; the URL's
    // password, if any, stays out of the output (and so out of logs).
    let mut text = format!("database: {}\n", redact_url(&url));
    match run {
        Ok(report) => {
            let _ = writeln!(text, "{report}");
        }
        Err(error) => {
            // The message and hints `cargo dbmigrate` prints for the same error.
            eprintln!("error: {}", ErrorReport::connecting_to(&error, &url));
            return ExitCode::FAILURE;
        }
    }
    match players_by_team(&pool).await {
        Ok(teams) if teams.is_empty() => text.push_str("no players yet\n"),
        Ok(teams) => {
            text.push_str("players by team:\n");
            for (team, players) in teams {
                let _ = writeln!(text, "  {team}: {}", players.join(", "));
            }
        }
        Err(error) => {
            eprintln!("error: cannot read the players: {error}");
            return ExitCode::FAILURE;
        }
    }
    let _ = std::io::stdout().write_all(text.as_bytes());
    pool.close().await;
    ExitCode::SUCCESS
}
