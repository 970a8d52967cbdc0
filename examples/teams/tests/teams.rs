//! The teams example upgrades and downgrades on every backend with its data intact.

mod support {
    use std::ops::Deref;

    use dbmigrate_runtime::BackendPool;
    use dbmigrate_test_support::{Database, Server};

    pub struct TestDb {
        database: Database,
        pub pool: BackendPool,
    }

    impl TestDb {
        pub async fn new(server: Server) -> Self {
            let database = Database::new(server).await;
            let pool = BackendPool::connect_lazy(&database.url, 2).expect("pool");
            Self { database, pool }
        }
    }

    impl Deref for TestDb {
        type Target = Database;

        fn deref(&self) -> &Database {
            &self.database
        }
    }
}

use std::collections::BTreeMap;

use dbmigrate_runtime::Target;
use dbmigrate_test_support::on_every_backend;
use teams::{MIGRATIONS, players_by_team};

fn expected() -> BTreeMap<String, Vec<String>> {
    [
        ("Blue Herons", vec!["Grace", "Ken"]),
        ("Green Giants", vec!["Margaret"]),
        ("Red Rockets", vec!["Ada", "Linus", "Barbara"]),
    ]
    .into_iter()
    .map(|(team, players)| {
        (
            team.to_string(),
            players.into_iter().map(String::from).collect(),
        )
    })
    .collect()
}

on_every_backend! {
    async fn moves_team_names_into_a_table_and_back(db) {
        let report = MIGRATIONS.upgrade(&db.pool).await.unwrap();
        assert_eq!(report.steps.iter().map(|s| s.version).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(db.columns("players").await, ["id", "name", "team_id"]);
        assert_eq!(db.integer("SELECT COUNT(*) FROM teams").await, 3);
        assert_eq!(players_by_team(&db.pool).await.unwrap(), expected());

        let report = MIGRATIONS.downgrade(&db.pool, Target::Version(2)).await.unwrap();
        assert_eq!(report.steps.iter().map(|s| s.version).collect::<Vec<_>>(), [3]);
        assert!(!db.has_table("teams").await);
        assert_eq!(db.columns("players").await, ["id", "name", "team"]);
        assert_eq!(players_by_team(&db.pool).await.unwrap(), expected(), "the downgrade restored every name");

        // And up again: the round trip loses nothing.
        MIGRATIONS.upgrade(&db.pool).await.unwrap();
        assert_eq!(players_by_team(&db.pool).await.unwrap(), expected());
        MIGRATIONS.downgrade(&db.pool, Target::Base).await.unwrap();
        assert!(!db.has_table("players").await);
    }
}

#[tokio::test]
async fn the_binary_never_prints_the_database_password() {
    // PostgreSQL's trust authentication accepts the URL's password without checking it.
    let db = support::TestDb::new(dbmigrate_test_support::Server::Postgres).await;
    let password = "hunter2-never-printed";
    let url = db
        .url
        .replacen("://root@", &format!("://root:{password}@"), 1);
    assert!(url.contains(password), "{url}");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_teams"))
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("database: postgres://root:***@"),
        "{stdout}"
    );
    assert!(
        !stdout.contains(password) && !stderr.contains(password),
        "{stdout}{stderr}"
    );
}
