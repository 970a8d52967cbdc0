//! Message: move team names into a table
//! Revises: 2
//! Created: 2026-11-25T08:10:00Z
//!
//! Alembic's classic data migration: create `teams`, fill it from the distinct names in
//! `players.team`, point each player at its team through `team_id`, and drop the old column.
//! The downgrade puts the names back, exactly, and `players.team` is NOT NULL again.
//!
//! Team names are compared here, in Rust, byte for byte, and never by the database: MariaDB's
//! default collation ignores case and trailing spaces, so a `DISTINCT`, a join on the name or a
//! `UNIQUE` there would merge `Red Rockets`, `red rockets` and `Red Rockets `. Everything the
//! database matches on is an integer id.

use std::collections::BTreeMap;

use dbmigrate_runtime::data::{Context, Value};
use dbmigrate_runtime::{Backend, BoxError};

pub async fn upgrade(cx: &mut Context<'_>) -> Result<(), BoxError> {
    // Every player's team, read once (a table too large for memory would be read in id ranges).
    let players = cx.fetch_all("SELECT id, team FROM players ORDER BY id", &[]).await?;
    let mut team_ids: BTreeMap<String, i64> = BTreeMap::new();
    for row in &players {
        let team = row.get(1).as_str().ok_or("players.team is NOT NULL and text")?;
        team_ids.entry(team.to_string()).or_default();
    }
    for (team_id, id) in team_ids.values_mut().zip(1_i64..) {
        *team_id = id;
    }
    cx.execute("CREATE TABLE teams (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL)", &[]).await?;
    let teams = team_ids.iter().map(|(name, id)| [Value::from(*id), Value::from(name.as_str())]);
    cx.bulk_insert("teams", &["id", "name"], teams).await?;

    // Each player's team id, joined on the player's id.
    cx.execute("CREATE TABLE player_teams (player_id INTEGER PRIMARY KEY, team_id INTEGER NOT NULL)", &[]).await?;
    let links = players.iter().map(|row| {
        let team = row.get(1).as_str().unwrap_or_default();
        [row.get(0).clone(), Value::from(team_ids[team])]
    });
    cx.bulk_insert("player_teams", &["player_id", "team_id"], links).await?;
    cx.execute("ALTER TABLE players ADD COLUMN team_id INTEGER", &[]).await?;
    cx.backfill(
        "players",
        "id",
        "team_id = (SELECT player_teams.team_id FROM player_teams WHERE player_teams.player_id = players.id)",
    )
    .run()
    .await?;
    cx.execute("DROP TABLE player_teams", &[]).await?;
    cx.execute("ALTER TABLE players DROP COLUMN team", &[]).await?;
    Ok(())
}

pub async fn downgrade(cx: &mut Context<'_>) -> Result<(), BoxError> {
    // `players.team` was NOT NULL: a player added since without a team cannot go back. Say so
    // before changing anything.
    let teamless = cx.fetch_all("SELECT id FROM players WHERE team_id IS NULL ORDER BY id", &[]).await?;
    if !teamless.is_empty() {
        let ids: Vec<String> = teamless.iter().map(|row| row.get(0).to_string()).collect();
        let (count, verb) = match ids.len() {
            1 => ("1 player".to_string(), "has"),
            n => (format!("{n} players"), "have"),
        };
        return Err(format!(
            "{count} {verb} no team (id {}), but players.team is NOT NULL before this revision; \
             give them a team or delete them, then downgrade again",
            ids.join(", ")
        )
        .into());
    }
    let name_by_id = "(SELECT teams.name FROM teams WHERE teams.id = players.team_id)";
    match cx.backend() {
        Backend::Sqlite => {
            // SQLite cannot add NOT NULL to a column: the table is rebuilt as revision 1 made it.
            cx.execute(
                "CREATE TABLE players_before (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, team VARCHAR(100) NOT NULL)",
                &[],
            )
            .await?;
            cx.execute(&format!("INSERT INTO players_before (id, name, team) SELECT id, name, {name_by_id} FROM players"), &[])
                .await?;
            cx.execute("DROP TABLE players", &[]).await?;
            cx.execute("ALTER TABLE players_before RENAME TO players", &[]).await?;
        }
        backend => {
            cx.execute("ALTER TABLE players ADD COLUMN team VARCHAR(100)", &[]).await?;
            cx.backfill("players", "id", &format!("team = {name_by_id}")).run().await?;
            let required = match backend {
                Backend::MySql => "ALTER TABLE players MODIFY team VARCHAR(100) NOT NULL",
                _ => "ALTER TABLE players ALTER COLUMN team SET NOT NULL",
            };
            cx.execute(required, &[]).await?;
            cx.execute("ALTER TABLE players DROP COLUMN team_id", &[]).await?;
        }
    }
    cx.execute("DROP TABLE teams", &[]).await?;
    Ok(())
}
