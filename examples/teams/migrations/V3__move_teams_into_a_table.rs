//! Message: move team names into a table
//! Revises: 2
//! Created: 2026-11-25T08:10:00Z
//!
//! Alembic's classic data migration: create `teams`, fill it from the distinct names in
//! `players.team`, point each player at its team through `team_id`, and drop the old column.
//! The downgrade puts the names back.

use dbmigrate_runtime::BoxError;
use dbmigrate_runtime::data::{Context, Value};

pub async fn upgrade(cx: &mut Context<'_>) -> Result<(), BoxError> {
    cx.execute("CREATE TABLE teams (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL UNIQUE)", &[]).await?;
    let names = cx.fetch_all("SELECT DISTINCT team FROM players ORDER BY team", &[]).await?;
    // Ids are numbered here rather than by the database, whose ways of doing so all differ.
    let teams = names.iter().zip(1_i64..).map(|(row, id)| [Value::from(id), row.get(0).clone()]);
    cx.bulk_insert("teams", &["id", "name"], teams).await?;
    cx.execute("ALTER TABLE players ADD COLUMN team_id INTEGER", &[]).await?;
    cx.backfill("players", "id", "team_id = (SELECT teams.id FROM teams WHERE teams.name = players.team)").run().await?;
    cx.execute("ALTER TABLE players DROP COLUMN team", &[]).await?;
    Ok(())
}

pub async fn downgrade(cx: &mut Context<'_>) -> Result<(), BoxError> {
    cx.execute("ALTER TABLE players ADD COLUMN team VARCHAR(100)", &[]).await?;
    cx.backfill("players", "id", "team = (SELECT teams.name FROM teams WHERE teams.id = players.team_id)").run().await?;
    cx.execute("ALTER TABLE players DROP COLUMN team_id", &[]).await?;
    cx.execute("DROP TABLE teams", &[]).await?;
    Ok(())
}
