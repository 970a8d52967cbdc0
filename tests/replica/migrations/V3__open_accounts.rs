//! Message: open accounts (a long data step)
//! Revises: 2
//!
//! Inserts `REPLICA_ROWS` accounts (default 20,000) in slices, pausing `REPLICA_STEP_MILLIS` in total
//! (default 0) between them, so tests can make the step hold the lock as long as they like and kill
//! the process in the middle of it. With `REPLICA_SIGNAL_FILE` set, it writes that file when it starts.

use std::time::Duration;

use dbmigrate_runtime::BoxError;
use dbmigrate_runtime::data::{Context, Value};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

pub async fn upgrade(cx: &mut Context<'_>) -> Result<(), BoxError> {
    // Tells a test watching from outside that the step has begun (nothing in the database can, as
    // the step's transaction is not committed yet).
    if let Ok(signal) = std::env::var("REPLICA_SIGNAL_FILE") {
        std::fs::write(signal, "started")?;
    }
    let rows = setting("REPLICA_ROWS", 20_000) as i64;
    let pause = Duration::from_millis(setting("REPLICA_STEP_MILLIS", 0));
    const SLICES: i64 = 10;
    let per_slice = (rows + SLICES - 1) / SLICES;
    for slice in 0..SLICES {
        let ids = (slice * per_slice + 1)..=((slice + 1) * per_slice).min(rows);
        let accounts = ids.map(|id| [Value::from(id), Value::from(format!("owner {id}")), Value::from(100_i64)]);
        cx.bulk_insert("accounts", &["id", "owner", "balance"], accounts).await?;
        tokio::time::sleep(pause / SLICES as u32).await;
    }
    cx.execute("INSERT INTO ledger (revision, note) VALUES (?, ?)", &[3.into(), "opened".into()]).await?;
    Ok(())
}

pub async fn downgrade(cx: &mut Context<'_>) -> Result<(), BoxError> {
    cx.execute("DELETE FROM accounts", &[]).await?;
    cx.execute("DELETE FROM ledger WHERE revision = ?", &[3.into()]).await?;
    Ok(())
}
