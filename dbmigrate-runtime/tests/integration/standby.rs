//! Standbys and read-only replicas: every command that writes refuses them (naming the server's
//! role) before taking the lock; `status` and `current` read the history through them; and
//! `wait_for` waits there until the primary's migration has arrived, or says what is missing.
//!
//! On the project's own PostgreSQL primary and streaming standby, and MariaDB primary and
//! read-only replica (see the `dbmigrate-topology` crate).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dbmigrate_runtime::migrator::Error;
use dbmigrate_runtime::{BackendPool, Migrator, Resolution, ServerRole, Target};
use dbmigrate_test_support::topology::{Component, TopologyDb};
use sqlx::Connection as _;

use crate::support::revisions;

const FILES: [(&str, &str); 3] = [
    (
        "V1__create_users.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100));\n\n-- migrate:downgrade\nDROP TABLE users;\n",
    ),
    (
        "V2__add_teams.sql",
        "-- Revises: 1\nCREATE TABLE teams (id INTEGER PRIMARY KEY);\n\n-- migrate:downgrade\nDROP TABLE teams;\n",
    ),
    (
        "V3__seed_teams.sql",
        "-- Revises: 2\nINSERT INTO teams (id) VALUES (1);\n\n-- migrate:downgrade\nDELETE FROM teams;\n",
    ),
];

/// A database on the primary and its standby (or replica), with a pool on each.
struct Pair {
    db: TopologyDb,
    primary: BackendPool,
    standby: BackendPool,
    role: ServerRole,
}

impl Pair {
    async fn new(component: Component) -> Self {
        let db = TopologyDb::new(component).await;
        let primary = BackendPool::connect_lazy(db.first_url(), 2).expect("pool");
        let standby = BackendPool::connect_lazy(db.second_url(), 2).expect("pool");
        let role = match component {
            Component::PostgresStandby => ServerRole::PostgresStandby,
            _ => ServerRole::MySqlReadOnly {
                setting: "read_only",
            },
        };
        Self {
            db,
            primary,
            standby,
            role,
        }
    }

    /// Waits (bounded) until the standby has the primary's history rows.
    async fn replicated(&self, migrations: &dbmigrate_runtime::Migrations) {
        Migrator::new(migrations)
            .wait_for(&self.standby, Target::Head, Duration::from_secs(30))
            .await
            .expect("the primary's history arrives on the standby");
    }

    /// The integer a query returns on the standby.
    async fn standby_integer(&self, sql: &'static str) -> i64 {
        let url = self.db.second_url();
        if self.db.component == Component::PostgresStandby {
            let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::query_scalar(sql).fetch_one(&mut c).await.expect(sql)
        } else {
            let mut c = sqlx::MySqlConnection::connect(url).await.expect("connect");
            sqlx::query_scalar(sql).fetch_one(&mut c).await.expect(sql)
        }
    }

    /// Holds, from another session on the standby, the lock a runner would take there, until the
    /// returned guard is dropped.
    async fn hold_the_lock_on_the_standby(&self) -> Box<dyn std::any::Any + Send> {
        let url = self.db.second_url();
        if self.db.component == Component::PostgresStandby {
            let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::query(
                "SELECT pg_advisory_lock(hashtextextended(current_database() || '.' || \
                 COALESCE(current_schema(), '') || '.' || 'refinery_schema_history', 0))",
            )
            .execute(&mut c)
            .await
            .expect("advisory lock on the standby");
            Box::new(c)
        } else {
            let mut c = sqlx::MySqlConnection::connect(url).await.expect("connect");
            let locked: Option<i64> = sqlx::query_scalar(
                "SELECT GET_LOCK(CONCAT('dbmigrate:', SHA1(CONCAT(DATABASE(), '.', 'refinery_schema_history'))), 0)",
            )
            .fetch_one(&mut c)
            .await
            .expect("GET_LOCK on the replica");
            assert_eq!(locked, Some(1));
            Box::new(c)
        }
    }
}

fn refused(result: Result<impl std::fmt::Debug, Error>, command: &str, role: ServerRole) {
    match result {
        Err(Error::ReadOnlyServer {
            command: refused,
            role: found,
        }) => {
            assert_eq!((refused, found), (command, role));
        }
        other => panic!("{command} was not refused as on a read-only server: {other:?}"),
    }
}

async fn every_writing_command_is_refused_before_the_lock(component: Component) {
    let pair = Pair::new(component).await;
    let migrations = revisions(&FILES);
    let migrator = Migrator::new(&migrations).lock_timeout(Duration::from_millis(500));

    // On an empty standby, with a runner holding the lock there: refused at once, not after
    // waiting for the lock, and nothing created.
    let held = pair.hold_the_lock_on_the_standby().await;
    let started = Instant::now();
    let error = migrator.upgrade(&pair.standby).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(500), "{error}");
    let message = error.to_string();
    assert!(
        message.starts_with("cannot upgrade here: this server is "),
        "{message}"
    );
    assert!(
        message.contains("migrations run on the primary: point the URL at it"),
        "{message}"
    );
    assert!(message.contains(&pair.role.to_string()), "{message}");
    refused(Err::<(), _>(error), "upgrade", pair.role);
    drop(held);
    assert!(!pair.db.primary.has_table("refinery_schema_history").await);

    // With the primary migrated and the history replicated, each command that would write is
    // refused.
    Migrator::new(&migrations)
        .target(Target::Version(2))
        .upgrade(&pair.primary)
        .await
        .unwrap();
    Migrator::new(&migrations)
        .wait_for(&pair.standby, Target::Version(2), Duration::from_secs(30))
        .await
        .unwrap();
    refused(migrator.upgrade(&pair.standby).await, "upgrade", pair.role);
    refused(
        migrator.downgrade(&pair.standby, Target::Base).await,
        "downgrade",
        pair.role,
    );
    refused(
        migrator.stamp(&pair.standby, Target::Head).await,
        "stamp",
        pair.role,
    );
    refused(
        migrator
            .resolve(&pair.standby, 2, Resolution::Applied)
            .await,
        "resolve",
        pair.role,
    );
    refused(migrator.repair(&pair.standby).await, "repair", pair.role);
    // An upgrade with nothing to do writes nothing and does not ask (the startup path stays one
    // read); the role is there to ask for, and `cargo dbmigrate` asks it first.
    let nothing = migrator
        .clone()
        .target(Target::Version(2))
        .upgrade(&pair.standby)
        .await
        .unwrap();
    assert!(nothing.is_empty(), "{nothing}");
    assert_eq!(
        migrator.server_role(&pair.standby).await.unwrap(),
        pair.role
    );
    assert_eq!(
        migrator.server_role(&pair.primary).await.unwrap(),
        ServerRole::Writable
    );
    // A dry run writes nothing, so it may look.
    let planned = migrator
        .clone()
        .dry_run(true)
        .upgrade(&pair.standby)
        .await
        .unwrap();
    assert_eq!(
        planned.steps.iter().map(|s| s.version).collect::<Vec<_>>(),
        [3]
    );

    // Nothing reached the standby but what the primary sent.
    assert_eq!(pair.db.primary.applied_versions().await, [1, 2]);
    let status = migrator.status(&pair.standby).await.unwrap();
    assert_eq!(status.current, [2]);
}

async fn status_and_current_read_the_history_through_the_standby(component: Component) {
    let pair = Pair::new(component).await;
    let migrations = revisions(&FILES);
    Migrator::new(&migrations)
        .upgrade(&pair.primary)
        .await
        .unwrap();
    pair.replicated(&migrations).await;
    let status = Migrator::new(&migrations)
        .status(&pair.standby)
        .await
        .unwrap();
    assert!(status.at_head, "{status}");
    assert_eq!(status.current, [3]);
    assert_eq!(
        status.applied.iter().map(|a| a.version).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(!status.upgrade_refused, "{status}");
}

async fn wait_for_returns_once_the_primary_has_migrated(component: Component) {
    let pair = Pair::new(component).await;
    let migrations = Arc::new(revisions(&FILES));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let waiter = {
        let (migrations, seen, standby) = (migrations.clone(), seen.clone(), pair.standby.clone());
        tokio::spawn(async move {
            Migrator::new(&migrations)
                .on_progress(move |progress| {
                    seen.lock().unwrap().push((progress.version, progress.rows))
                })
                .wait_for(&standby, Target::Head, Duration::from_secs(60))
                .await
        })
    };
    // The replica of the application waits while nothing has been migrated...
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        !waiter.is_finished(),
        "wait_for returned before anything was migrated"
    );
    assert!(
        seen.lock().unwrap().contains(&(1, 0)),
        "{:?}",
        seen.lock().unwrap()
    );
    // ...and returns once the primary's migration has arrived.
    Migrator::new(&migrations)
        .upgrade(&pair.primary)
        .await
        .unwrap();
    let arrived = tokio::time::timeout(Duration::from_secs(30), waiter)
        .await
        .expect("wait_for returns after the primary migrated")
        .unwrap()
        .unwrap();
    assert_eq!(arrived.current, [3]);
    assert!(arrived.reads >= 2, "{arrived:?}");
    // The schema the history records is there on the standby.
    assert_eq!(pair.standby_integer("SELECT COUNT(*) FROM teams").await, 1);
}

async fn wait_for_times_out_naming_what_is_missing(component: Component) {
    let pair = Pair::new(component).await;
    let migrations = revisions(&FILES);
    Migrator::new(&migrations)
        .target(Target::Version(1))
        .upgrade(&pair.primary)
        .await
        .unwrap();
    let started = Instant::now();
    let error = Migrator::new(&migrations)
        .wait_for(&pair.standby, Target::Head, Duration::from_millis(800))
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    match &error {
        Error::WaitTimeout {
            pending, current, ..
        } => {
            assert_eq!(pending, &[2, 3]);
            assert_eq!(current, &[1]);
        }
        other => panic!("not a wait timeout: {other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.contains("revision(s) 2, 3 of target `head`"),
        "{message}"
    );
    assert!(message.contains("(it is at 1)"), "{message}");
    assert_eq!(
        dbmigrate_runtime::online::ErrorKind::of(&error),
        dbmigrate_runtime::online::ErrorKind::WaitTimeout
    );
}

macro_rules! on_both_read_only_servers {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_standby() {
                    super::$name(Component::PostgresStandby).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mariadb_replica() {
                    super::$name(Component::MariaDbReplica).await
                }
            }
        )*
    };
}

on_both_read_only_servers!(
    every_writing_command_is_refused_before_the_lock,
    status_and_current_read_the_history_through_the_standby,
    wait_for_returns_once_the_primary_has_migrated,
    wait_for_times_out_naming_what_is_missing,
);
