//! The runtime's view of a test database: the shared fixture (a database of its own, dropped
//! afterwards) plus a dbmigrate pool on it, and revision sets written inline.

#![allow(dead_code)]

use std::borrow::Cow;
use std::ops::Deref;
use std::path::PathBuf;

use dbmigrate_runtime::revision::RevisionSource;
use dbmigrate_runtime::{Backend, BackendPool, Migrations, VersionWidth};
pub use dbmigrate_test_support::on_every_backend;
use dbmigrate_test_support::{Database, Server};

/// A fresh database and a pool of 4 on it.
pub struct TestDb {
    database: Database,
    pub backend: Backend,
    pub pool: BackendPool,
}

impl TestDb {
    pub async fn new(server: Server) -> Self {
        let database = Database::new(server).await;
        let backend = match server {
            Server::Sqlite => Backend::Sqlite,
            Server::Postgres => Backend::Postgres,
            Server::MySql => Backend::MySql,
        };
        let pool = BackendPool::connect_lazy(&database.url, 4).expect("pool");
        Self {
            database,
            backend,
            pool,
        }
    }

    /// Another pool on the same database, as a second replica would have.
    pub fn another_pool(&self, connections: u32) -> BackendPool {
        BackendPool::connect_lazy(&self.database.url, connections).expect("pool")
    }
}

impl Deref for TestDb {
    type Target = Database;

    fn deref(&self) -> &Database {
        &self.database
    }
}

/// The server URL for `backend`, from the environment or the CI default.
pub fn server_url(backend: Backend) -> String {
    match backend {
        Backend::Postgres => Server::Postgres.url(),
        Backend::MySql => Server::MySql.url(),
        Backend::Sqlite => unreachable!("SQLite needs no server"),
    }
}

/// A revision set from `(file name, text)` pairs, as if read from a directory.
pub fn revisions(files: &[(&str, &str)]) -> Migrations {
    revisions_with_width(files, VersionWidth::I32)
}

/// [`revisions`] with a version width.
pub fn revisions_with_width(files: &[(&str, &str)], width: VersionWidth) -> Migrations {
    let sources = files.iter().map(|(name, text)| RevisionSource {
        path: PathBuf::from("migrations").join(name),
        bytes: Cow::Owned(text.as_bytes().to_vec()),
    });
    Migrations::from_sources(sources, width, "refinery_schema_history")
        .unwrap_or_else(|problems| panic!("{problems}"))
}
