//! A database of its own for one test on a production topology (PgBouncer, the Galera cluster, the
//! PostgreSQL standby, the MariaDB replica; see the `dbmigrate-topology` crate): created through
//! the server that accepts writes, reachable through every endpoint.
//!
//! The endpoints come from the environment (`cargo xtask test` starts the topologies and sets
//! it); when it does not name them, the topology is started on demand, under the topology crate's
//! file lock, so that `cargo test` of a single test works once the Debian packages are installed.
//! A topology that cannot be reached or started fails the test: tests never skip.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use dbmigrate_topology::{Component, Endpoints};
use sqlx::Connection as _;

use crate::{Database, Server, with_database};

/// Where `component` answers: from the environment, or started now if it names nothing.
pub async fn endpoints(component: Component) -> Endpoints {
    if let Some(endpoints) = Endpoints::from_env(component) {
        return endpoints;
    }
    static STARTED: [OnceLock<Result<Endpoints, String>>; 4] =
        [const { OnceLock::new() }; Component::ALL.len()];
    let index = Component::ALL
        .iter()
        .position(|c| *c == component)
        .expect("a known component");
    let started = tokio::task::spawn_blocking(move || {
        STARTED[index]
            .get_or_init(|| {
                dbmigrate_topology::Topology::from_env()
                    .ensure(component)
                    .map_err(|e| e.to_string())
            })
            .clone()
    })
    .await
    .expect("starting a topology");
    started.unwrap_or_else(|error| {
        panic!(
            "this test needs {component}, which {} does not name and which could not be started: {error}\n\
             (tests never skip; `cargo xtask test` installs and starts every topology)",
            component.variable()
        )
    })
}

/// One test's database on a topology, dropped when it goes out of scope.
pub struct TopologyDb {
    /// The topology.
    pub component: Component,
    /// The database on the server that accepts writes: the PostgreSQL server behind PgBouncer,
    /// Galera node 1, the PostgreSQL primary, the MariaDB primary.
    pub primary: Database,
    /// The database's URL on every endpoint, in [`Endpoints::urls`] order: PgBouncer then direct;
    /// nodes 1, 2, 3; primary then standby or replica.
    pub urls: Vec<String>,
}

impl TopologyDb {
    /// A new, empty database on `component`, created through its writable server and visible
    /// (replicated) on every endpoint when this returns.
    pub async fn new(component: Component) -> Self {
        let endpoints = endpoints(component).await;
        let server = match component {
            Component::PgBouncer | Component::PostgresStandby => Server::Postgres,
            Component::Galera | Component::MariaDbReplica => Server::MySql,
        };
        let writable = match component {
            Component::PgBouncer => &endpoints.urls[1],
            _ => &endpoints.urls[0],
        };
        let primary = Database::new_at(server, writable, component.variable()).await;
        let urls: Vec<String> = endpoints
            .urls
            .iter()
            .map(|url| with_database(url, primary.name()))
            .collect();
        for (endpoint, url) in endpoints.urls.iter().zip(&urls) {
            if url != &primary.url {
                wait_for_database(server, endpoint, primary.name()).await;
            }
        }
        Self {
            component,
            primary,
            urls,
        }
    }

    /// The database's URL through PgBouncer, on Galera node 1, or on the primary.
    pub fn first_url(&self) -> &str {
        &self.urls[0]
    }

    /// The database's URL on the standby or the replica (the second endpoint).
    pub fn second_url(&self) -> &str {
        &self.urls[1]
    }
}

/// Waits until `database` exists on the server at `endpoint` (a replica or another node applies
/// `CREATE DATABASE` shortly after the server that ran it), for at most 30 seconds.
async fn wait_for_database(server: Server, endpoint: &str, database: &str) {
    let started = Instant::now();
    loop {
        let found: Result<i64, sqlx::Error> = match server {
            Server::Postgres => {
                async {
                    let mut c = sqlx::PgConnection::connect(endpoint).await?;
                    sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
                        .bind(database)
                        .fetch_one(&mut c)
                        .await
                }
                .await
            }
            _ => {
                async {
                    let mut c = sqlx::MySqlConnection::connect(endpoint).await?;
                    sqlx::query_scalar(
                        "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
                    )
                    .bind(database)
                    .fetch_one(&mut c)
                    .await
                }
                .await
            }
        };
        match found {
            Ok(1) => return,
            result if started.elapsed() > Duration::from_secs(30) => {
                panic!("database {database} never appeared on {endpoint} (30 s): {result:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}
