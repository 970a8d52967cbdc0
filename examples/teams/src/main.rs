//! `teams [upgrade | downgrade <target>]`: migrates the database in `DATABASE_URL` (a SQLite file by
//! default) to head, or down to a target, and lists the players by team.

use std::process::ExitCode;

use dbmigrate_runtime::{BackendPool, online};
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
    println!("database: {url}");
    match run {
        Ok(report) => println!("{report}"),
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(online::exit_code(&error));
        }
    }
    match players_by_team(&pool).await {
        Ok(teams) if teams.is_empty() => println!("no players yet"),
        Ok(teams) => {
            println!("players by team:");
            for (team, players) in teams {
                println!("  {team}: {}", players.join(", "));
            }
        }
        Err(error) => {
            eprintln!("error: cannot read the players: {error}");
            return ExitCode::from(online::exit::DATABASE);
        }
    }
    pool.close().await;
    ExitCode::SUCCESS
}
