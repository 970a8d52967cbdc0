//! What each revision of the replica leaves in a database, so a test can tell a revision that fully
//! happened from one that did not happen at all, and check that nothing in between is ever seen.
//!
//! Every revision signs the `ledger` table once, in the same revision as its own change: a revision
//! applied twice leaves two signatures, a half-applied one leaves its change without its signature.

use std::time::{Duration, Instant};

use dbmigrate_test_support::{Database, Server};

use crate::VERSIONS;

/// What a revision left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Its change and exactly one signature.
    Complete,
    /// No trace of it.
    Absent,
    /// Something in between (what, in words).
    Partial(String),
}

/// The state of a database after a run, as the tables show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Versions in refinery's history table.
    pub applied: Vec<i64>,
    /// Versions dbmigrate's side table lists as running or failed.
    pub unfinished: Vec<i64>,
    /// What each revision left.
    pub effects: Vec<(i64, Effect)>,
}

async fn index_exists(db: &Database) -> bool {
    let sql = match db.server {
        Server::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'accounts_owner'"
        }
        Server::Postgres => {
            "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'accounts_owner'"
        }
        Server::MySql => {
            "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = DATABASE() AND index_name = 'accounts_owner'"
        }
    };
    db.integer(sql).await > 0
}

/// What revision `version` left, given that the data step inserts `rows` accounts.
pub async fn effect_of(db: &Database, version: i64, rows: i64) -> Effect {
    let ledger = db.has_table("ledger").await;
    let signatures = if ledger {
        db.integer(&format!(
            "SELECT COUNT(*) FROM ledger WHERE revision = {version}"
        ))
        .await
    } else {
        0
    };
    let accounts = db.has_table("accounts").await;
    let (what, change) = match version {
        1 => ("the ledger table".to_string(), Some(ledger)),
        2 => ("the accounts table".to_string(), Some(accounts)),
        3 => {
            let count = if accounts {
                db.integer("SELECT COUNT(*) FROM accounts").await
            } else {
                0
            };
            let change = if count == rows {
                Some(true)
            } else if count == 0 {
                Some(false)
            } else {
                None
            };
            (format!("{count} of {rows} accounts"), change)
        }
        4 => (
            "the audit table".to_string(),
            Some(db.has_table("audit").await),
        ),
        5 => (
            "the accounts_owner index".to_string(),
            Some(index_exists(db).await),
        ),
        other => return Effect::Partial(format!("revision {other} is not one of the replica's")),
    };
    match (change, signatures) {
        (Some(true), 1) => Effect::Complete,
        (Some(false), 0) => Effect::Absent,
        (change, _) => Effect::Partial(format!(
            "{what} {}, {signatures} ledger signature(s)",
            match change {
                Some(true) => "present",
                Some(false) => "absent",
                None => "partly there",
            }
        )),
    }
}

/// Reads the history tables and every revision's effect.
pub async fn snapshot(db: &Database, rows: i64) -> Snapshot {
    let applied = if db.has_table("refinery_schema_history").await {
        db.applied_versions().await
    } else {
        Vec::new()
    };
    let unfinished = if db.has_table("refinery_schema_history_dbmigrate").await {
        let cast = if db.server == Server::MySql {
            "CAST(version AS CHAR)"
        } else {
            "CAST(version AS TEXT)"
        };
        db.texts(&format!("SELECT {cast} FROM refinery_schema_history_dbmigrate WHERE state <> 'applied' ORDER BY version"))
            .await
            .into_iter()
            .filter_map(|v| v.and_then(|v| v.parse().ok()))
            .collect()
    } else {
        Vec::new()
    };
    let mut effects = Vec::new();
    for version in VERSIONS {
        effects.push((version, effect_of(db, version, rows).await));
    }
    Snapshot {
        applied,
        unfinished,
        effects,
    }
}

impl Snapshot {
    /// Everything that breaks the promise: a revision recorded but not (fully) there, there but not
    /// recorded, applied twice, or (where DDL is transactional) left unfinished.
    pub fn violations(&self, server: Server) -> Vec<String> {
        let mut violations = Vec::new();
        if self.applied != VERSIONS[..self.applied.len()] {
            violations.push(format!(
                "the history {:?} is not a prefix of the chain {VERSIONS:?}",
                self.applied
            ));
        }
        if server != Server::MySql && !self.unfinished.is_empty() {
            violations.push(format!(
                "revisions {:?} are recorded as unfinished, on a backend where every revision is one transaction",
                self.unfinished
            ));
        }
        for (version, effect) in &self.effects {
            let applied = self.applied.contains(version);
            let unfinished = self.unfinished.contains(version);
            match (applied, unfinished, effect) {
                (true, _, Effect::Complete) | (false, false, Effect::Absent) => {}
                // A revision MySQL committed part of is recorded as unfinished: what it left may be anything.
                (false, true, _) if server == Server::MySql => {}
                (true, _, effect) => violations.push(format!(
                    "revision {version} is recorded as applied but left: {effect:?}"
                )),
                (false, _, effect) => violations.push(format!(
                    "revision {version} is not recorded but left: {effect:?}"
                )),
            }
        }
        violations
    }

    /// Whether the database is at head with every revision complete.
    pub fn complete(&self) -> bool {
        self.applied == VERSIONS
            && self.unfinished.is_empty()
            && self.effects.iter().all(|(_, e)| *e == Effect::Complete)
    }
}

/// Waits until no session holds the migration lock (a killed process's server session may take a
/// moment to end); returns how long that took, or `None` if it is still held after `limit`.
pub async fn wait_until_lock_is_free(db: &Database, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    loop {
        let free = match db.server {
            Server::Postgres => {
                db.integer(
                    "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' \
                     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                )
                .await
                    == 0
            }
            Server::MySql => {
                db.integer(
                    "SELECT CAST(COALESCE(IS_FREE_LOCK(CONCAT('dbmigrate:', SHA1(CONCAT(DATABASE(), '.', 'refinery_schema_history')))), 1) AS SIGNED)",
                )
                .await
                    == 1
            }
            Server::Sqlite => {
                let path = db.sqlite_path().expect("a SQLite test database has a file");
                let lock = format!("{}-dbmigrate.lock", path.display());
                match std::fs::OpenOptions::new().read(true).write(true).open(&lock) {
                    Ok(file) => file.try_lock().is_ok(),
                    Err(_) => true,
                }
            }
        };
        if free {
            return Some(started.elapsed());
        }
        if started.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
