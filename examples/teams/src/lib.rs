//! teams: an application that migrates its own database at startup, reproducing Alembic's classic
//! data migration (team names moved from a column into their own table, and back on downgrade).
//!
//! It runs on SQLite by default and on PostgreSQL or MariaDB/MySQL with `DATABASE_URL`.

use std::collections::BTreeMap;

use dbmigrate_runtime::{BackendPool, Embedded};

/// Every revision in `migrations/`, compiled in by the build script: the SQL files as text, the
/// Rust revision as code.
pub static MIGRATIONS: Embedded = dbmigrate_runtime::include_migrations!();

/// The database used when `DATABASE_URL` is not set: a SQLite file in the system's temporary
/// directory, kept between runs so a second run has nothing to apply.
pub fn default_url() -> String {
    format!(
        "sqlite://{}?mode=rwc",
        std::env::temp_dir().join("dbmigrate-teams.db").display()
    )
}

/// Team names with their players, read the way the schema is at the database's current revision:
/// from `players.team` before revision 3, through `teams` after it.
pub async fn players_by_team(
    pool: &BackendPool,
) -> Result<BTreeMap<String, Vec<String>>, Box<dyn std::error::Error>> {
    let migrator = MIGRATIONS.migrator()?;
    let current = migrator.status(pool).await?.current;
    let sql = match current.last() {
        None | Some(1) => return Ok(BTreeMap::new()),
        Some(2) => "SELECT name, team FROM players ORDER BY id",
        Some(_) => {
            "SELECT players.name, teams.name FROM players JOIN teams ON teams.id = players.team_id ORDER BY players.id"
        }
    };
    let rows: Vec<(String, String)> = match pool {
        BackendPool::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await?,
        BackendPool::MySql(p) => sqlx::query_as(sql).fetch_all(p).await?,
        BackendPool::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await?,
        _ => return Err("this build has no driver for that database".into()),
    };
    let mut teams: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (player, team) in rows {
        teams.entry(team).or_default().push(player);
    }
    Ok(teams)
}
