//! Test databases for dbmigrate's test suites: a fresh database per test on PostgreSQL and
//! MariaDB/MySQL (dropped when the test ends), a temporary file on SQLite, and helpers to look at
//! what a test did.
//!
//! The servers come from `DBMIGRATE_TEST_POSTGRES_URL` and `DBMIGRATE_TEST_MYSQL_URL` (defaults: the
//! local servers CI provides). An unreachable server fails the test: backend tests never skip.
//!
//! This crate uses sqlx directly and not dbmigrate-runtime, so the runtime's own tests can use it
//! without a second copy of the runtime in their build.

pub mod fault_proxy;
pub mod topology;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sqlx::Connection as _;

/// The PostgreSQL server used when `DBMIGRATE_TEST_POSTGRES_URL` is not set.
pub const POSTGRES_URL: &str = "postgres://root@127.0.0.1:5432/test";
/// The MariaDB/MySQL server used when `DBMIGRATE_TEST_MYSQL_URL` is not set.
pub const MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// A database server kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Server {
    /// SQLite files, no server.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MariaDB or MySQL.
    MySql,
}

impl Server {
    /// All three, in the order tests report them.
    pub const ALL: [Server; 3] = [Server::Sqlite, Server::Postgres, Server::MySql];

    /// The server URL, from the environment or the CI default.
    pub fn url(self) -> String {
        match self {
            Self::Postgres => {
                std::env::var("DBMIGRATE_TEST_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_URL.into())
            }
            Self::MySql => {
                std::env::var("DBMIGRATE_TEST_MYSQL_URL").unwrap_or_else(|_| MYSQL_URL.into())
            }
            Self::Sqlite => unreachable!("SQLite needs no server"),
        }
    }

    fn variable(self) -> &'static str {
        match self {
            Self::Postgres => "DBMIGRATE_TEST_POSTGRES_URL",
            Self::MySql => "DBMIGRATE_TEST_MYSQL_URL",
            Self::Sqlite => "",
        }
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

/// Runs SQL on the server's default database, failing the test with a clear message if it cannot.
pub async fn admin_execute(server: Server, sql: &str) {
    admin_execute_at(server, &server.url(), sql, server.variable()).await;
}

/// Runs SQL on the server at `url`, failing the test with a clear message naming `variable` (where
/// the URL comes from) if it cannot.
pub(crate) async fn admin_execute_at(server: Server, url: &str, sql: &str, variable: &str) {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    let result = match server {
        Server::Postgres => match sqlx::PgConnection::connect(url).await {
            Ok(mut c) => sqlx::raw_sql(sql).execute(&mut c).await.map(drop),
            Err(e) => Err(e),
        },
        Server::MySql => match sqlx::MySqlConnection::connect(url).await {
            Ok(mut c) => sqlx::raw_sql(sql).execute(&mut c).await.map(drop),
            Err(e) => Err(e),
        },
        Server::Sqlite => Ok(()),
    };
    if let Err(error) = result {
        panic!(
            "{server:?} at {url} is needed by this test and failed: {error}\n\
             (backend tests never skip; start the server or set {variable})"
        );
    }
}

enum TypedPool {
    Postgres(sqlx::PgPool),
    MySql(sqlx::MySqlPool),
    Sqlite(sqlx::SqlitePool),
}

/// Evaluates `$body` with `$pool` bound to the typed sqlx pool.
macro_rules! on_pool {
    ($value:expr, $pool:ident => $body:expr) => {
        match $value {
            TypedPool::Postgres($pool) => $body,
            TypedPool::MySql($pool) => $body,
            TypedPool::Sqlite($pool) => $body,
        }
    };
}

/// A database of its own for one test, dropped when it goes out of scope.
pub struct Database {
    /// The server kind.
    pub server: Server,
    /// The URL of this test's database.
    pub url: String,
    name: String,
    pool: TypedPool,
    dir: Option<tempfile::TempDir>,
    /// Where the database was created and is dropped, and the variable that names that server.
    admin: Option<(String, &'static str)>,
}

impl Database {
    /// A new, empty database.
    pub async fn new(server: Server) -> Self {
        match server {
            Server::Sqlite => Self::create(server, None).await,
            _ => Self::create(server, Some((server.url(), server.variable()))).await,
        }
    }

    /// A new, empty database on the server at `admin_url` (a URL naming any database on it), which
    /// the environment variable `variable` names.
    pub async fn new_at(server: Server, admin_url: &str, variable: &'static str) -> Self {
        Self::create(server, Some((admin_url.to_string(), variable))).await
    }

    /// The name of the database.
    pub fn name(&self) -> &str {
        &self.name
    }

    async fn create(server: Server, admin: Option<(String, &'static str)>) -> Self {
        let name = unique_name();
        let (url, dir) = match &admin {
            None => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                (url, Some(dir))
            }
            Some((admin_url, variable)) => {
                admin_execute_at(
                    server,
                    admin_url,
                    &format!("CREATE DATABASE {name}"),
                    variable,
                )
                .await;
                (with_database(admin_url, &name), None)
            }
        };
        let pool = match server {
            Server::Postgres => TypedPool::Postgres(
                sqlx::pool::PoolOptions::new()
                    .max_connections(2)
                    .connect_lazy(&url)
                    .expect("pool"),
            ),
            Server::MySql => TypedPool::MySql(
                sqlx::pool::PoolOptions::new()
                    .max_connections(2)
                    .connect_lazy(&url)
                    .expect("pool"),
            ),
            Server::Sqlite => TypedPool::Sqlite(
                sqlx::pool::PoolOptions::new()
                    .max_connections(2)
                    .connect_lazy(&url)
                    .expect("pool"),
            ),
        };
        Self {
            server,
            url,
            name,
            pool,
            dir,
            admin,
        }
    }

    /// The SQLite database file.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.path().join("test.db"))
    }

    /// A directory that lives as long as the database (SQLite only), for files a test writes beside it.
    pub fn directory(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(tempfile::TempDir::path)
    }

    /// Runs SQL (several statements allowed), failing the test with the statement on error.
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

    /// Every row as text columns (cast in SQL where a column is not text).
    pub async fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        use sqlx::Row as _;
        let result = on_pool!(&self.pool, p => sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).fetch_all(p).await.map(|rows| {
            rows.iter()
                .map(|row| (0..row.len()).map(|i| row.try_get::<Option<String>, _>(i).unwrap_or_else(|e| panic!("{sql}: column {i}: {e}"))).collect())
                .collect::<Vec<_>>()
        }));
        result.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Whether a table exists in this test's database.
    pub async fn has_table(&self, table: &str) -> bool {
        let sql = match self.server {
            Server::Sqlite => format!(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
            ),
            Server::Postgres => format!(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '{table}'"
            ),
            Server::MySql => {
                format!(
                    "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '{table}'"
                )
            }
        };
        self.integer(&sql).await > 0
    }

    /// The names of the columns of `table`, in order.
    pub async fn columns(&self, table: &str) -> Vec<String> {
        let sql = match self.server {
            Server::Sqlite => format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
            Server::Postgres => format!(
                "SELECT CAST(column_name AS TEXT) FROM information_schema.columns WHERE table_schema = current_schema() \
                 AND table_name = '{table}' ORDER BY ordinal_position"
            ),
            Server::MySql => format!(
                "SELECT CAST(column_name AS CHAR) FROM information_schema.columns WHERE table_schema = DATABASE() \
                 AND table_name = '{table}' ORDER BY ordinal_position"
            ),
        };
        self.texts(&sql).await.into_iter().flatten().collect()
    }

    /// Waits until `table` exists (committed by another connection), for at most 20 seconds.
    pub async fn wait_for_table(&self, table: &str) {
        let started = Instant::now();
        while !self.has_table(table).await {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "table {table} never appeared"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The versions in the history table, in order.
    pub async fn applied_versions(&self) -> Vec<i64> {
        self.applied_versions_in("refinery_schema_history").await
    }

    /// The versions in a history table, in order.
    pub async fn applied_versions_in(&self, table: &str) -> Vec<i64> {
        let cast = if self.server == Server::MySql {
            "CAST(version AS CHAR)"
        } else {
            "CAST(version AS TEXT)"
        };
        // Named apart from the column, so that PostgreSQL orders by the number, not by the text.
        self.texts(&format!(
            "SELECT {cast} AS version_text FROM {table} ORDER BY version"
        ))
        .await
        .into_iter()
        .map(|v| v.expect("version").parse().expect("integer version"))
        .collect()
    }
}

/// A transaction another session keeps open, holding the locks its statement took, until
/// [`HeldTransaction::release`] rolls it back.
pub struct HeldTransaction {
    release: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl HeldTransaction {
    /// Rolls the transaction back and closes its connection.
    pub async fn release(mut self) {
        if let Some(release) = self.release.take() {
            let _ = release.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Database {
    /// Opens a connection of its own, begins a transaction (SQLite: taking the write lock), runs
    /// `sql` in it and keeps it open, as a busy application would, until released.
    pub async fn hold(&self, sql: &str) -> HeldTransaction {
        let (ready_tx, ready) = tokio::sync::oneshot::channel::<Result<(), String>>();
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let (server, url, sql) = (self.server, self.url.clone(), sql.to_string());
        macro_rules! hold_on {
            ($connection:ty, $begin:expr) => {{
                let opened = async {
                    let mut c = <$connection>::connect(&url).await?;
                    sqlx::raw_sql($begin).execute(&mut c).await?;
                    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut c)
                        .await?;
                    Ok::<_, sqlx::Error>(c)
                }
                .await;
                match opened {
                    Ok(mut c) => {
                        let _ = ready_tx.send(Ok(()));
                        let _ = released.await;
                        let _ = sqlx::raw_sql("ROLLBACK").execute(&mut c).await;
                    }
                    Err(error) => {
                        let _ = ready_tx.send(Err(error.to_string()));
                    }
                }
            }};
        }
        let task = tokio::spawn(async move {
            match server {
                Server::Postgres => hold_on!(sqlx::PgConnection, "BEGIN"),
                Server::MySql => hold_on!(sqlx::MySqlConnection, "START TRANSACTION"),
                Server::Sqlite => hold_on!(sqlx::SqliteConnection, "BEGIN IMMEDIATE"),
            }
        });
        match ready.await {
            Ok(Ok(())) => HeldTransaction {
                release: Some(release),
                task: Some(task),
            },
            Ok(Err(error)) => panic!("holding a transaction on {server:?}: {error}"),
            Err(_) => panic!("holding a transaction on {server:?}: the task ended"),
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let Some((admin_url, variable)) = self.admin.clone() else {
            return;
        };
        let (server, name) = (self.server, self.name.clone());
        // Drop runs outside async code; a thread with its own runtime may block as it likes.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let sql = match server {
                    Server::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                    _ => format!("DROP DATABASE IF EXISTS {name}"),
                };
                admin_execute_at(server, &admin_url, &sql, variable).await;
            });
        })
        .join();
    }
}

/// Expands to one `#[tokio::test]` per server, each running `$body` with `$db` bound to
/// `crate::support::TestDb::new(server).await` (each test suite defines its own `TestDb`).
#[macro_export]
// `crate` is meant: the macro builds tests around the calling suite's own `support::TestDb`.
#[allow(clippy::crate_in_macro_def)]
macro_rules! on_every_backend {
    ($(#[$attr:meta])* async fn $name:ident($db:ident) $body:block) => {
        $(#[$attr])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn test($db: crate::support::TestDb) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                test(crate::support::TestDb::new($crate::Server::Sqlite).await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                test(crate::support::TestDb::new($crate::Server::Postgres).await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                test(crate::support::TestDb::new($crate::Server::MySql).await).await
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_in_a_url() {
        assert_eq!(
            with_database("postgres://root@127.0.0.1:5432/test", "x"),
            "postgres://root@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("mysql://root@h:3306/test?ssl-mode=disabled", "y"),
            "mysql://root@h:3306/y?ssl-mode=disabled"
        );
        assert_eq!(with_database("postgres://h", "z"), "postgres://h/z");
    }
}
