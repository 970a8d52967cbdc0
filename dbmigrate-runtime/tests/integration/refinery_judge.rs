//! refinery itself is the judge of compatibility: a database refinery migrated is fully applied in
//! dbmigrate's eyes, and after dbmigrate applies more revisions, refinery's own runner (aborting on
//! divergent and missing migrations) finds nothing wrong and nothing to do.

use dbmigrate_runtime::{Backend, Migrator};
use refinery::{Migration, Runner};

use crate::support::{TestDb, on_every_backend, revisions};

/// A plain refinery directory: no headers, one statement each.
const REFINERY_FILES: [(&str, &str); 2] = [
    (
        "V1__create_users.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100));\n",
    ),
    (
        "V2__add_email.sql",
        "ALTER TABLE users ADD COLUMN email VARCHAR(200);\n",
    ),
];

/// What dbmigrate adds on top: a header, both sections, an upgrade of several statements.
const DBMIGRATE_FILES: [(&str, &str); 2] = [
    (
        "V3__add_teams.sql",
        "-- Message: add teams\n-- Revises: 2\n-- Created: 2026-11-24T21:08:43Z\n\n-- migrate:upgrade\n\
         CREATE TABLE teams (id INTEGER PRIMARY KEY, name VARCHAR(100));\nINSERT INTO teams (id, name) VALUES (1, 'red');\n\n\
         -- migrate:downgrade\nDROP TABLE teams;\n",
    ),
    (
        "V4__team_index.sql",
        "-- Revises: 3\nCREATE INDEX teams_name ON teams (name);\n",
    ),
];

fn refinery_migrations(files: &[(&str, &str)]) -> Vec<Migration> {
    files
        .iter()
        .map(|(name, text)| Migration::unapplied(name.trim_end_matches(".sql"), text).unwrap())
        .collect()
}

/// Runs refinery's runner (abort on divergent and missing) on the test database with its own driver.
async fn refinery_run(
    db: &TestDb,
    files: &[(&str, &str)],
) -> Result<Vec<(i32, String, u64)>, refinery::Error> {
    let runner = Runner::new(&refinery_migrations(files))
        .set_abort_divergent(true)
        .set_abort_missing(true);
    let applied = match db.backend {
        Backend::Sqlite => {
            let path = db.sqlite_path().unwrap();
            tokio::task::spawn_blocking(move || {
                let mut conn = refinery_core::rusqlite::Connection::open(path).unwrap();
                runner.run(&mut conn)?;
                runner.get_applied_migrations(&mut conn)
            })
            .await
            .unwrap()?
        }
        Backend::Postgres => {
            let (mut client, connection) = refinery_core::tokio_postgres::connect(
                &db.url,
                refinery_core::tokio_postgres::NoTls,
            )
            .await
            .unwrap();
            let driver = tokio::spawn(connection);
            runner.run_async(&mut client).await?;
            let applied = runner.get_applied_migrations_async(&mut client).await?;
            drop(client);
            let _ = driver.await;
            applied
        }
        Backend::MySql => {
            let mut pool = refinery_core::mysql_async::Pool::new(db.url.as_str());
            runner.run_async(&mut pool).await?;
            let applied = runner.get_applied_migrations_async(&mut pool).await?;
            pool.disconnect().await.unwrap();
            applied
        }
    };
    Ok(applied
        .iter()
        .map(|m| (m.version(), m.name().to_string(), m.checksum()))
        .collect())
}

on_every_backend! {
    async fn refinery_and_dbmigrate_agree_on_every_row(db) {
        let applied_by_refinery = refinery_run(&db, &REFINERY_FILES).await.unwrap();
        assert_eq!(applied_by_refinery.len(), 2);

        let all: Vec<(&str, &str)> = REFINERY_FILES.iter().chain(&DBMIGRATE_FILES).copied().collect();
        let migrations = revisions(&all);
        let status = Migrator::new(&revisions(&REFINERY_FILES)).status(&db.pool).await.unwrap();
        assert!(status.at_head, "dbmigrate sees refinery's database as fully applied:\n{status}");

        let report = Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        assert_eq!(report.steps.iter().map(|s| s.version).collect::<Vec<_>>(), [3, 4]);

        // refinery reads every row (including dbmigrate's), finds none divergent or missing, applies nothing.
        let seen_by_refinery = refinery_run(&db, &all).await.unwrap_or_else(|e| panic!("refinery refused: {e}"));
        let expected: Vec<(i32, String, u64)> = refinery_migrations(&all)
            .iter()
            .map(|m| (m.version(), m.name().to_string(), m.checksum()))
            .collect();
        assert_eq!(seen_by_refinery, expected);
        assert_eq!(db.integer("SELECT COUNT(*) FROM teams").await, 1, "refinery ran nothing again");
    }
}
