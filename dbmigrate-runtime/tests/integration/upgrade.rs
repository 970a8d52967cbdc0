//! Upgrading: revisions apply in graph order, each committed with a refinery-compatible history row;
//! a failing revision leaves nothing of itself behind and names its file, line and statement.

use dbmigrate_runtime::migrator::{Committed, Error, RunKind};
use dbmigrate_runtime::{Backend, Migrator, Target};

use crate::support::{TestDb, on_every_backend, revisions};

const USERS: (&str, &str) = (
    "V1__create_users.sql",
    "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL);\n",
);
const TEAMS: (&str, &str) = (
    "V2__add_teams.sql",
    "-- Message: add teams\n-- Revises: 1\n\n-- migrate:upgrade\nCREATE TABLE teams (id INTEGER PRIMARY KEY, name VARCHAR(100));\n\
     INSERT INTO teams (id, name) VALUES (1, 'red');\n\n-- migrate:downgrade\nDROP TABLE teams;\n",
);

fn versions(report: &dbmigrate_runtime::Report) -> Vec<i64> {
    report.steps.iter().map(|s| s.version).collect()
}

on_every_backend! {
    async fn applies_in_order_and_records_what_refinery_records(db) {
        let migrations = revisions(&[USERS, TEAMS]);
        let report = Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        assert_eq!(versions(&report), [1, 2]);
        assert_eq!(report.current, [2]);
        assert!(db.has_table("users").await && db.has_table("teams").await);
        assert_eq!(db.integer("SELECT COUNT(*) FROM teams").await, 1);

        let names = db.texts("SELECT name FROM refinery_schema_history ORDER BY version").await;
        assert_eq!(names, [Some("create_users".to_string()), Some("add_teams".to_string())]);
        // refinery's own checksum of each file, computed by refinery-core, is what the table holds.
        let checksums = db.texts("SELECT checksum FROM refinery_schema_history ORDER BY version").await;
        for ((file, text), stored) in [USERS, TEAMS].iter().zip(&checksums) {
            let expected = refinery_core::Migration::unapplied(file.trim_end_matches(".sql"), text).unwrap().checksum();
            assert_eq!(stored.as_deref(), Some(expected.to_string().as_str()), "{file}");
        }
        for applied_on in db.texts("SELECT applied_on FROM refinery_schema_history").await {
            let applied_on = applied_on.unwrap();
            assert!(applied_on.ends_with('Z'), "{applied_on}");
            time::OffsetDateTime::parse(&applied_on, &time::format_description::well_known::Rfc3339).unwrap();
        }
    }
}

on_every_backend! {
    async fn a_second_run_finds_nothing_to_do(db) {
        let migrations = revisions(&[USERS, TEAMS]);
        Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        let again = Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        assert!(again.is_empty());
        assert_eq!(again.current, [2]);
        assert_eq!(again.to_string(), "database is up to date at 2; nothing to apply");
        assert_eq!(db.applied_versions().await, [1, 2]);
    }
}

on_every_backend! {
    async fn stops_at_the_target_and_continues_later(db) {
        let migrations = revisions(&[USERS, TEAMS]);
        let first = Migrator::new(&migrations).target(Target::Version(1)).upgrade(&db.pool).await.unwrap();
        assert_eq!(versions(&first), [1]);
        assert!(!db.has_table("teams").await);
        let rest = Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        assert_eq!(versions(&rest), [2]);
    }
}

on_every_backend! {
    async fn a_dry_run_reports_and_changes_nothing(db) {
        let migrations = revisions(&[USERS, TEAMS]);
        let report = Migrator::new(&migrations).dry_run(true).upgrade(&db.pool).await.unwrap();
        assert_eq!((report.kind, versions(&report)), (RunKind::DryRun, vec![1, 2]));
        assert!(!db.has_table("users").await);
        assert!(!db.has_table("refinery_schema_history").await);
    }
}

on_every_backend! {
    async fn a_failing_revision_names_its_statement_and_earlier_ones_stay(db) {
        let broken = (
            "V3__add_scores.sql",
            "-- Revises: 2\n-- migrate:upgrade\nINSERT INTO teams (id, name) VALUES (2, 'blue');\n\n\
             INSERT INTO no_such_table (id) VALUES (1);\n-- migrate:downgrade\nDELETE FROM teams WHERE id = 2;\n",
        );
        let migrations = revisions(&[USERS, TEAMS, broken]);
        let error = Migrator::new(&migrations).upgrade(&db.pool).await.unwrap_err();
        let Error::Revision(failure) = &error else { panic!("{error}") };
        assert_eq!(failure.version, 3);
        assert_eq!(failure.path, std::path::Path::new("migrations/V3__add_scores.sql"));
        let statement = failure.statement.as_ref().unwrap();
        assert_eq!((statement.index, statement.count, statement.line), (2, 2, 5));
        assert_eq!(statement.text, "INSERT INTO no_such_table (id) VALUES (1)");
        assert_eq!(failure.committed, Committed::Nothing);
        assert_eq!(failure.completed.iter().map(|s| s.version).collect::<Vec<_>>(), [1, 2]);
        let message = error.to_string();
        assert!(message.contains("upgrade of revision 3 (migrations/V3__add_scores.sql) failed at line 5, statement 2 of 2"), "{message}");
        assert!(message.contains("nothing of revision 3 was applied; 2 applied before it (1, 2) stay applied"), "{message}");

        // Nothing of revision 3 remains: its first statement rolled back with it.
        assert_eq!(db.integer("SELECT COUNT(*) FROM teams").await, 1);
        assert_eq!(db.applied_versions().await, [1, 2]);

        let fixed = (
            "V3__add_scores.sql",
            "-- Revises: 2\n-- migrate:upgrade\nINSERT INTO teams (id, name) VALUES (2, 'blue');\n-- migrate:downgrade\nDELETE FROM teams WHERE id = 2;\n",
        );
        let migrations = revisions(&[USERS, TEAMS, fixed]);
        let report = Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        assert_eq!(versions(&report), [3]);
        assert_eq!(db.integer("SELECT COUNT(*) FROM teams").await, 2);
    }
}

on_every_backend! {
    async fn a_failure_deep_in_a_long_run_keeps_every_revision_before_it(db) {
        // SQLite sends consecutive revisions to the database a few kilobytes at a time: a failure
        // in a later batch, between two revisions of it, must still split the run exactly there.
        let padding = "-- ".to_string() + &"padding ".repeat(25) + "\n";
        let files: Vec<(String, String)> = (1..=60)
            .map(|version| {
                let revises = if version == 1 { String::new() } else { format!("-- Revises: {}\n", version - 1) };
                let broken = if version == 45 { "INSERT INTO nowhere (id) VALUES (1);\n" } else { "" };
                let sql = format!(
                    "{revises}{padding}CREATE TABLE t{version} (id INTEGER PRIMARY KEY);\n\
                     INSERT INTO t1 (id) VALUES ({version});\n{broken}"
                );
                (format!("V{version}__table_{version}.sql"), sql)
            })
            .collect();
        let files: Vec<(&str, &str)> = files.iter().map(|(n, s)| (n.as_str(), s.as_str())).collect();
        let migrations = revisions(&files);
        let error = Migrator::new(&migrations).upgrade(&db.pool).await.unwrap_err();
        let Error::Revision(failure) = &error else { panic!("{error}") };
        assert_eq!(failure.version, 45);
        let statement = failure.statement.as_ref().unwrap();
        assert_eq!((statement.index, statement.count, statement.line), (3, 3, 5), "{error}");
        assert_eq!(failure.completed.len(), 44);
        assert_eq!(db.applied_versions().await, (1..=44).collect::<Vec<i64>>());
        // Each revision before it is whole (its own row in t1) and has its execution time.
        assert_eq!(db.integer("SELECT COUNT(*) FROM t1").await, 44);
        assert_eq!(db.integer("SELECT COUNT(*) FROM refinery_schema_history_dbmigrate WHERE state = 'applied' AND execution_ms >= 0").await, 44);
        if db.backend != Backend::MySql {
            // Where DDL is transactional nothing of revision 45 is left; MySQL has committed its
            // CREATE TABLE and says so (see `partial`).
            assert_eq!(failure.committed, Committed::Nothing);
            assert_eq!(db.integer("SELECT COUNT(*) FROM refinery_schema_history_dbmigrate WHERE version = 45").await, 0);
        }

        // With the file fixed, the run goes on from revision 45.
        let mut fixed = files.clone();
        let repaired = fixed[44].1.replace("INSERT INTO nowhere (id) VALUES (1);\n", "");
        fixed[44].1 = &repaired;
        let fixed = revisions(&fixed);
        let migrator = Migrator::new(&fixed).abort_divergent(false);
        if db.backend == Backend::MySql {
            migrator.resolve(&db.pool, 45, dbmigrate_runtime::Resolution::Resume).await.unwrap();
        }
        migrator.upgrade(&db.pool).await.unwrap();
        assert_eq!(db.applied_versions().await, (1..=60).collect::<Vec<i64>>());
        assert_eq!(db.integer("SELECT COUNT(*) FROM t1").await, 60);
    }
}

on_every_backend! {
    async fn the_failing_statement_is_named_among_several_with_comments_around_them(db) {
        // PostgreSQL sends a revision's statements in one round trip: the one named must still be
        // exactly the one that failed, whatever the comments around the statements.
        let broken = (
            "V3__three_teams.sql",
            "-- Revises: 2\nINSERT INTO teams (id, name) VALUES (2, 'blue'); -- the second team\n\
             /* the same id again */ INSERT INTO teams (id, name) VALUES (2, 'again');\n\
             INSERT INTO teams (id, name) VALUES (3, 'green')\n-- no semicolon after the last one\n",
        );
        let migrations = revisions(&[USERS, TEAMS, broken]);
        let error = Migrator::new(&migrations).upgrade(&db.pool).await.unwrap_err();
        let Error::Revision(failure) = &error else { panic!("{error}") };
        let statement = failure.statement.as_ref().unwrap();
        assert_eq!((statement.index, statement.count, statement.line), (2, 3, 3));
        assert_eq!(statement.text, "INSERT INTO teams (id, name) VALUES (2, 'again')");
        assert_eq!(db.integer("SELECT COUNT(*) FROM teams").await, 1);
        assert_eq!(db.applied_versions().await, [1, 2]);
    }
}

on_every_backend! {
    async fn a_failing_ddl_revision_leaves_no_trace_where_ddl_is_transactional(db) {
        let broken = (
            "V3__two_tables.sql",
            "-- Revises: 2\nCREATE TABLE scores (id INTEGER PRIMARY KEY);\nCREATE TABLE scores (id INTEGER PRIMARY KEY);\n",
        );
        let migrations = revisions(&[USERS, TEAMS, broken]);
        let error = Migrator::new(&migrations).upgrade(&db.pool).await.unwrap_err();
        let Error::Revision(failure) = &error else { panic!("{error}") };
        assert_eq!(failure.statement.as_ref().unwrap().index, 2);
        if db.backend == Backend::MySql {
            // MySQL committed the first CREATE TABLE: the side table records the partial revision.
            assert_eq!(failure.committed, Committed::Statements(1));
            assert!(db.has_table("scores").await);
            let status = Migrator::new(&migrations).status(&db.pool).await.unwrap();
            assert_eq!(status.problems.unfinished.len(), 1);
            assert!(status.to_string().contains("revision 3 is partially applied"), "{status}");
        } else {
            assert_eq!(failure.committed, Committed::Nothing);
            assert!(!db.has_table("scores").await);
        }
        assert_eq!(db.applied_versions().await, [1, 2]);
    }
}

on_every_backend! {
    async fn branches_apply_in_version_order_and_a_fork_needs_a_target(db) {
        let base = ("V1__base.sql", "-- Revises:\nCREATE TABLE base (id INTEGER PRIMARY KEY);\n");
        let left = ("V2__left.sql", "-- Revises: 1\nCREATE TABLE lefty (id INTEGER PRIMARY KEY);\n");
        let right = ("V3__right.sql", "-- Revises: 1\nCREATE TABLE righty (id INTEGER PRIMARY KEY);\n");
        let forked = revisions(&[base, left, right]);
        let error = Migrator::new(&forked).upgrade(&db.pool).await.unwrap_err();
        assert!(error.to_string().contains("the history has 2 heads (2, 3)"), "{error}");
        assert!(!db.has_table("base").await, "nothing may be applied when the target is ambiguous");

        let report = Migrator::new(&forked).target(Target::Heads).upgrade(&db.pool).await.unwrap();
        assert_eq!(versions(&report), [1, 2, 3]);
        assert_eq!(report.current, [2, 3]);

        let merge = ("V4__merge.sql", "-- Revises: 2, 3\n");
        let merged = revisions(&[base, left, right, merge]);
        let report = Migrator::new(&merged).upgrade(&db.pool).await.unwrap();
        assert_eq!(versions(&report), [4]);
        assert_eq!(report.current, [4]);
    }
}

on_every_backend! {
    async fn a_revision_without_a_transaction_runs_statement_by_statement(db) {
        let index = if db.backend == Backend::Postgres {
            "CREATE INDEX CONCURRENTLY users_name ON users (name)"
        } else {
            "CREATE INDEX users_name ON users (name)"
        };
        let migrations = revisions(&[
            USERS,
            ("V2__index_names.sql", &format!("-- Revises: 1\n-- Transaction: none\n{index};\nINSERT INTO users (id, name) VALUES (1, 'a');\n")),
        ]);
        let report = Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        assert_eq!(versions(&report), [1, 2]);
        assert_eq!(db.integer("SELECT COUNT(*) FROM users").await, 1);
        let status = Migrator::new(&migrations).status(&db.pool).await.unwrap();
        assert!(status.at_head, "{status}");
    }
}

#[tokio::test]
async fn an_unreachable_server_is_retried_until_the_deadline_then_reported() {
    // Port 9 (discard) is closed here: every attempt is refused at once.
    let pool = dbmigrate_runtime::BackendPool::connect_lazy("postgres://root@127.0.0.1:9/test", 1)
        .unwrap();
    let migrations = revisions(&[USERS]);
    let started = std::time::Instant::now();
    let error = Migrator::new(&migrations)
        .connect_timeout(std::time::Duration::from_millis(700))
        .upgrade(&pool)
        .await
        .unwrap_err();
    let waited = started.elapsed();
    let Error::Connect { .. } = &error else {
        panic!("{error}")
    };
    assert!(
        waited >= std::time::Duration::from_millis(300),
        "retried with backoff, not given up at once ({waited:?})"
    );
    assert!(
        error
            .to_string()
            .starts_with("cannot connect to the database (tried for"),
        "{error}"
    );
}

#[tokio::test]
async fn a_server_that_comes_up_during_the_deadline_is_waited_for() {
    // A port that refuses connections at first and forwards to PostgreSQL after a while.
    let listener_addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let server = crate::support::server_url(Backend::Postgres);
    let upstream = server
        .split('@')
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap()
        .to_string();
    let proxy = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        let listener = tokio::net::TcpListener::bind(listener_addr).await.unwrap();
        loop {
            let (mut inbound, _) = listener.accept().await.unwrap();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let mut outbound = tokio::net::TcpStream::connect(upstream).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    let db = TestDb::new(dbmigrate_test_support::Server::Postgres).await;
    let database = db.url.rsplit('/').next().unwrap().to_string();
    let url = format!("postgres://root@{listener_addr}/{database}");
    let pool = dbmigrate_runtime::BackendPool::connect_lazy(&url, 1).unwrap();
    let migrations = revisions(&[USERS]);
    let report = Migrator::new(&migrations)
        .connect_timeout(std::time::Duration::from_secs(20))
        .upgrade(&pool)
        .await
        .unwrap();
    assert_eq!(versions(&report), [1]);
    pool.close().await;
    proxy.abort();
}

on_every_backend! {
    async fn timestamp_versions_live_in_an_int8_history(db) {
        let files = [
            ("V20261124191500__create_users.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY);\n"),
            ("V20261125080000__add_teams.sql", "-- Revises: 20261124191500\nCREATE TABLE teams (id INTEGER PRIMARY KEY);\n"),
        ];
        let migrations = crate::support::revisions_with_width(&files, dbmigrate_runtime::VersionWidth::I64);
        let report = Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        assert_eq!(versions(&report), [20261124191500, 20261125080000]);
        assert_eq!(db.applied_versions().await, [20261124191500, 20261125080000]);
        // refinery's int8 checksum (the reference vector is pinned in checksum.rs).
        let expected = dbmigrate_runtime::checksum::refinery_checksum(
            "create_users",
            20261124191500,
            dbmigrate_runtime::VersionWidth::I64,
            files[0].1,
        );
        let stored = db.texts("SELECT checksum FROM refinery_schema_history ORDER BY version").await;
        assert_eq!(stored[0].as_deref(), Some(expected.to_string().as_str()));
        assert!(Migrator::new(&migrations).upgrade(&db.pool).await.unwrap().is_empty());
    }
}

on_every_backend! {
    async fn a_long_revision_names_its_failing_statement_far_into_it(db) {
        // SQLite gets a long revision a few KiB per call: statements keep their numbers across calls.
        let mut seed = String::from("-- Revises: 1\n");
        for id in 1..=2000 {
            let id = if id == 1500 { 7 } else { id };
            seed.push_str(&format!("INSERT INTO items (id, note) VALUES ({id}, 'seed row number {id}');\n"));
        }
        let table = ("V1__items.sql", "CREATE TABLE items (id INTEGER PRIMARY KEY, note VARCHAR(100));\n");
        let migrations = revisions(&[table, ("V2__seed.sql", &seed)]);
        let error = Migrator::new(&migrations).upgrade(&db.pool).await.unwrap_err();
        let Error::Revision(failure) = &error else { panic!("{error}") };
        let statement = failure.statement.as_ref().unwrap();
        assert_eq!((statement.index, statement.count, statement.line), (1500, 2000, 1501), "{error}");
        assert_eq!(statement.text, "INSERT INTO items (id, note) VALUES (7, 'seed row number 7')");
        assert_eq!(failure.committed, Committed::Nothing);
        assert_eq!(db.integer("SELECT COUNT(*) FROM items").await, 0);
        assert_eq!(db.applied_versions().await, [1]);
    }
}
