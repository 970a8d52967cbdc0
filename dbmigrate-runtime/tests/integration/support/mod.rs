//! Test databases: a fresh database per test on PostgreSQL and MariaDB/MySQL (dropped afterwards), a
//! temporary file on SQLite, and revision sets written inline.
//!
//! The servers come from `DBMIGRATE_TEST_POSTGRES_URL` and `DBMIGRATE_TEST_MYSQL_URL` (defaults: the
//! local servers CI provides). An unreachable server fails the test: backend tests never skip.

#![allow(dead_code)]

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use dbmigrate_runtime::revision::RevisionSource;
use dbmigrate_runtime::{Backend, BackendPool, Migrations, VersionWidth};
use sqlx::Connection as _;

pub const POSTGRES_URL: &str = "postgres://root@127.0.0.1:5432/test";
pub const MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// The server URL for `backend`, from the environment or the CI default.
pub fn server_url(backend: Backend) -> String {
    match backend {
        Backend::Postgres => {
            std::env::var("DBMIGRATE_TEST_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_URL.into())
        }
        Backend::MySql => {
            std::env::var("DBMIGRATE_TEST_MYSQL_URL").unwrap_or_else(|_| MYSQL_URL.into())
        }
        Backend::Sqlite => unreachable!("SQLite needs no server"),
    }
}

/// `url` with its database (the path) replaced.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{database}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// A database of its own for one test.
pub struct TestDb {
    pub backend: Backend,
    /// The URL of this test's database.
    pub url: String,
    pub pool: BackendPool,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

/// Evaluates `$body` with `$pool` bound to the typed sqlx pool inside a [`BackendPool`].
macro_rules! on_pool {
    ($value:expr, $pool:ident => $body:expr) => {
        match $value {
            BackendPool::Postgres($pool) => $body,
            BackendPool::MySql($pool) => $body,
            BackendPool::Sqlite($pool) => $body,
            _ => unreachable!("every backend is compiled into the tests"),
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_pool;

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "dbm_{}_{}_{nanos:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

async fn admin_execute(backend: Backend, sql: &str) {
    let url = server_url(backend);
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    let result = match backend {
        Backend::Postgres => match sqlx::PgConnection::connect(&url).await {
            Ok(mut c) => sqlx::raw_sql(sql).execute(&mut c).await.map(drop),
            Err(e) => Err(e),
        },
        Backend::MySql => match sqlx::MySqlConnection::connect(&url).await {
            Ok(mut c) => sqlx::raw_sql(sql).execute(&mut c).await.map(drop),
            Err(e) => Err(e),
        },
        Backend::Sqlite => Ok(()),
    };
    if let Err(error) = result {
        panic!(
            "{backend} at {url} is needed by this test and failed: {error}\n\
             (backend tests never skip; start the server or set DBMIGRATE_TEST_{}_URL)",
            if backend == Backend::Postgres {
                "POSTGRES"
            } else {
                "MYSQL"
            }
        );
    }
}

impl TestDb {
    /// A new, empty database.
    pub async fn new(backend: Backend) -> Self {
        Self::with_connections(backend, 4).await
    }

    /// A new, empty database with a pool of `connections`.
    pub async fn with_connections(backend: Backend, connections: u32) -> Self {
        let name = unique_name();
        let (url, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                (url, Some(dir))
            }
            _ => {
                admin_execute(backend, &format!("CREATE DATABASE {name}")).await;
                (with_database(&server_url(backend), &name), None)
            }
        };
        let pool = BackendPool::connect_lazy(&url, connections).expect("pool");
        Self {
            backend,
            url,
            pool,
            name,
            _dir: dir,
        }
    }

    /// Another pool on the same database, as a second replica would have.
    pub fn another_pool(&self, connections: u32) -> BackendPool {
        BackendPool::connect_lazy(&self.url, connections).expect("pool")
    }

    /// The SQLite database file.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        self._dir.as_ref().map(|d| d.path().join("test.db"))
    }

    /// Runs SQL (several statements allowed), panicking with the statement on failure.
    pub async fn execute(&self, sql: &str) {
        let result = on_pool!(&self.pool, p => sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(p).await.map(drop));
        result.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The single integer a query returns.
    pub async fn integer(&self, sql: &str) -> i64 {
        let result = on_pool!(&self.pool, p => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(p).await);
        result.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The first column of every row, as optional text (cast in SQL where the column is not text).
    pub async fn texts(&self, sql: &str) -> Vec<Option<String>> {
        let result = on_pool!(&self.pool, p => sqlx::query_scalar::<_, Option<String>>(sqlx::AssertSqlSafe(sql.to_string())).fetch_all(p).await);
        result.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Waits until `table` exists (committed by another connection), for at most 20 seconds.
    pub async fn wait_for_table(&self, table: &str) {
        let started = std::time::Instant::now();
        while !self.has_table(table).await {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "table {table} never appeared"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Whether a table exists in this test's database.
    pub async fn has_table(&self, table: &str) -> bool {
        let sql = match self.backend {
            Backend::Sqlite => format!(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
            ),
            Backend::Postgres => format!(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '{table}'"
            ),
            Backend::MySql => format!(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '{table}'"
            ),
        };
        self.integer(&sql).await > 0
    }

    /// The versions in the history table, in order.
    pub async fn applied_versions(&self) -> Vec<i64> {
        let cast = if self.backend == Backend::MySql {
            "CAST(version AS CHAR)"
        } else {
            "CAST(version AS TEXT)"
        };
        self.texts(&format!(
            "SELECT {cast} FROM refinery_schema_history ORDER BY version"
        ))
        .await
        .into_iter()
        .map(|v| v.expect("version").parse().expect("integer version"))
        .collect()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.backend == Backend::Sqlite {
            return;
        }
        let (backend, name) = (self.backend, self.name.clone());
        // Drop runs outside async code; a thread with its own runtime may block as it likes.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let sql = match backend {
                    Backend::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                    _ => format!("DROP DATABASE IF EXISTS {name}"),
                };
                admin_execute(backend, &sql).await;
            });
        })
        .join();
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

/// Expands to one `#[tokio::test]` per backend running `$body` with `$db` a fresh [`TestDb`].
macro_rules! on_every_backend {
    ($(#[$attr:meta])* async fn $name:ident($db:ident) $body:block) => {
        $(#[$attr])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn test($db: $crate::support::TestDb) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                test($crate::support::TestDb::new(dbmigrate_runtime::Backend::Sqlite).await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                test($crate::support::TestDb::new(dbmigrate_runtime::Backend::Postgres).await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                test($crate::support::TestDb::new(dbmigrate_runtime::Backend::MySql).await).await
            }
        }
    };
}
pub(crate) use on_every_backend;
