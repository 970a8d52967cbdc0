//! The teams example upgrades and downgrades on every backend with its data intact.

mod support {
    use std::ops::Deref;

    use dbmigrate_runtime::BackendPool;
    use dbmigrate_test_support::Database;
    pub use dbmigrate_test_support::Server;

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
use support::Server;
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

/// Names a collation could merge or a careless copy could change: case, trailing spaces, quotes,
/// a backslash, non-ASCII. On MariaDB the three spellings of Red Rockets used to come back as one.
const TRICKY: [(i64, &str, &str); 5] = [
    (7, "Rosalind", "red rockets"),
    (8, "Edsger", "Red Rockets "),
    (9, "Alan", "RED ROCKETS"),
    (10, "Frances", "O'Brien \"Bees\" \\ back"),
    (11, "Hedy", "Équipe Ünïcode 日本"),
];

fn literal(server: Server, text: &str) -> String {
    let quoted = text.replace('\'', "''");
    match server {
        // MySQL reads backslashes in literals as escapes.
        Server::MySql => format!("'{}'", quoted.replace('\\', "\\\\")),
        _ => format!("'{quoted}'"),
    }
}

/// Whether `players.team` is NOT NULL.
async fn team_is_required(db: &support::TestDb) -> bool {
    let sql = match db.server {
        Server::Sqlite => {
            "SELECT COUNT(*) FROM pragma_table_info('players') WHERE name = 'team' AND \"notnull\" = 1"
        }
        Server::Postgres => {
            "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() \
             AND table_name = 'players' AND column_name = 'team' AND is_nullable = 'NO'"
        }
        Server::MySql => {
            "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() \
             AND table_name = 'players' AND column_name = 'team' AND is_nullable = 'NO'"
        }
    };
    db.integer(sql).await == 1
}

on_every_backend! {
    /// Issue 16, item 8: after up and down, every team name is back exactly as it was, and
    /// `players.team` is NOT NULL again.
    async fn tricky_team_names_survive_the_round_trip_exactly(db) {
        let migrator = MIGRATIONS.migrator().unwrap().target(Target::Version(2));
        migrator.upgrade(&db.pool).await.unwrap();
        for (id, name, team) in TRICKY {
            db.execute(&format!(
                "INSERT INTO players (id, name, team) VALUES ({id}, {}, {})",
                literal(db.server, name),
                literal(db.server, team)
            ))
            .await;
        }
        let before = db.texts("SELECT team FROM players ORDER BY id").await;
        assert!(team_is_required(&db).await);

        MIGRATIONS.upgrade(&db.pool).await.unwrap();
        assert_eq!(db.integer("SELECT COUNT(*) FROM teams").await, 8);
        let teams = players_by_team(&db.pool).await.unwrap();
        for (_, player, team) in TRICKY {
            assert_eq!(teams.get(team), Some(&vec![player.to_string()]), "{team:?} in {teams:?}");
        }

        MIGRATIONS.downgrade(&db.pool, Target::Version(2)).await.unwrap();
        assert_eq!(db.texts("SELECT team FROM players ORDER BY id").await, before);
        assert!(team_is_required(&db).await, "the downgrade restores NOT NULL");

        MIGRATIONS.upgrade(&db.pool).await.unwrap();
        MIGRATIONS.downgrade(&db.pool, Target::Version(2)).await.unwrap();
        assert_eq!(db.texts("SELECT team FROM players ORDER BY id").await, before);
    }
}

on_every_backend! {
    /// A player added after the upgrade without a team cannot go back into `players.team`, which is
    /// NOT NULL: the downgrade says so before it changes anything.
    async fn a_player_without_a_team_stops_the_downgrade_before_it_changes_anything(db) {
        MIGRATIONS.upgrade(&db.pool).await.unwrap();
        db.execute("INSERT INTO players (id, name) VALUES (20, 'Nobody')").await;
        let error = MIGRATIONS.downgrade(&db.pool, Target::Version(2)).await.unwrap_err();
        assert!(error.to_string().contains("1 player has no team (id 20)"), "{error}");
        assert_eq!(db.applied_versions().await, [1, 2, 3]);
        assert_eq!(db.columns("players").await, ["id", "name", "team_id"]);
        assert!(db.has_table("teams").await);

        db.execute("UPDATE players SET team_id = 1 WHERE id = 20").await;
        MIGRATIONS.downgrade(&db.pool, Target::Version(2)).await.unwrap();
        assert_eq!(db.texts("SELECT team FROM players WHERE id = 20").await, [Some("Blue Herons".to_string())]);
    }
}
