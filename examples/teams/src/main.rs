//! `teams [upgrade | downgrade <target>]`: migrates the database in `DATABASE_URL` (a SQLite file by
//! default) to head, or down to a target, and lists the players by team.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use dbmigrate_runtime::{BackendPool, online, redact_url};
use teams::{MIGRATIONS, default_url, players_by_team};

#[tokio::main]
async fn main() -> ExitCode {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| default_url());
    let pool = match BackendPool::connect_lazy(&url, 4) {
        Ok(pool) => pool,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(online::exit::USAGE);
        }
    };
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let run = match arguments
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["upgrade"] => MIGRATIONS.upgrade(&pool).await,
        ["downgrade", target] => match target.parse() {
            Ok(target) => MIGRATIONS.downgrade(&pool, target).await,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(online::exit::USAGE);
            }
        },
        _ => {
            eprintln!(
                "usage: teams [upgrade | downgrade <target>]   (DATABASE_URL selects the database)"
            );
            return ExitCode::from(online::exit::USAGE);
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
            eprintln!("error: {error}");
            return ExitCode::from(online::exit_code(&error));
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
            return ExitCode::from(online::exit::DATABASE);
        }
    }
    let _ = std::io::stdout().write_all(text.as_bytes());
    pool.close().await;
    ExitCode::SUCCESS
}
