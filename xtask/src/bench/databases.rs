//! The database servers the workloads run on, a fresh database for every timed run, and the command-line
//! clients the limits use.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context as _, bail};
use sqlx::Connection as _;

/// Every database this harness creates starts with this, so leftovers of an interrupted run can be
/// found and dropped.
const PREFIX: &str = "dbmigrate_bench_";

#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Server {
    Postgres,
    #[value(name = "mariadb")]
    MariaDb,
    Sqlite,
}

impl Server {
    pub fn label(self) -> &'static str {
        match self {
            Server::Postgres => "PostgreSQL",
            Server::MariaDb => "MariaDB",
            Server::Sqlite => "SQLite",
        }
    }

    /// The server's URL, from the same variables as the test suite, with the same defaults.
    fn admin_url(self) -> String {
        let (variable, default) = match self {
            Server::Postgres => (
                "DBMIGRATE_TEST_POSTGRES_URL",
                "postgres://root@127.0.0.1:5432/test",
            ),
            Server::MariaDb => (
                "DBMIGRATE_TEST_MYSQL_URL",
                "mysql://root@127.0.0.1:3306/test",
            ),
            Server::Sqlite => return String::new(),
        };
        std::env::var(variable).unwrap_or_else(|_| default.to_string())
    }

    /// The server's version, as it reports it.
    pub async fn version(self) -> anyhow::Result<String> {
        Ok(match self {
            Server::Postgres => {
                let mut conn = self.admin_postgres().await?;
                let (version,): (String,) = sqlx::query_as("SHOW server_version")
                    .fetch_one(&mut conn)
                    .await?;
                version
            }
            Server::MariaDb => {
                let mut conn = self.admin_mysql().await?;
                let (version,): (String,) = sqlx::query_as("SELECT VERSION()")
                    .fetch_one(&mut conn)
                    .await?;
                version
            }
            Server::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:").await?;
                let (version,): (String,) = sqlx::query_as("SELECT sqlite_version()")
                    .fetch_one(&mut conn)
                    .await?;
                format!("{version} (linked into sqlx, refinery and ours)")
            }
        })
    }

    async fn admin_postgres(self) -> anyhow::Result<sqlx::PgConnection> {
        let url = self.admin_url();
        sqlx::PgConnection::connect(&url).await.with_context(|| {
            format!(
                "cannot connect to PostgreSQL at {} (set DBMIGRATE_TEST_POSTGRES_URL)",
                dbmigrate_runtime::redact_url(&url)
            )
        })
    }

    async fn admin_mysql(self) -> anyhow::Result<sqlx::MySqlConnection> {
        let url = self.admin_url();
        sqlx::MySqlConnection::connect(&url).await.with_context(|| {
            format!(
                "cannot connect to MariaDB at {} (set DBMIGRATE_TEST_MYSQL_URL)",
                dbmigrate_runtime::redact_url(&url)
            )
        })
    }

    /// Drops databases an interrupted earlier run left behind.
    pub async fn drop_leftovers(self) -> anyhow::Result<()> {
        let pattern = format!("{PREFIX}%");
        match self {
            Server::Postgres => {
                let mut conn = self.admin_postgres().await?;
                let names: Vec<(String,)> =
                    sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE $1")
                        .bind(&pattern)
                        .fetch_all(&mut conn)
                        .await?;
                for (name,) in names {
                    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                        .execute(&mut conn)
                        .await?;
                }
            }
            Server::MariaDb => {
                let mut conn = self.admin_mysql().await?;
                let names: Vec<(String,)> = sqlx::query_as(
                    "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE ?",
                )
                .bind(&pattern)
                .fetch_all(&mut conn)
                .await?;
                for (name,) in names {
                    let drop = format!("DROP DATABASE IF EXISTS {name}");
                    sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                        .execute(&mut conn)
                        .await?;
                }
            }
            Server::Sqlite => {}
        }
        Ok(())
    }
}

/// A database of its own for one run, dropped by [`Scratch::drop_database`].
pub struct Scratch {
    pub server: Server,
    name: String,
    /// The URL sqlx, refinery and ours connect with.
    pub url: String,
    /// The SQLite file; `None` on the servers.
    pub file: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
}

impl Scratch {
    pub async fn create(server: Server) -> anyhow::Result<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "{PREFIX}{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        match server {
            Server::Postgres | Server::MariaDb => {
                let create = format!("CREATE DATABASE {name}");
                if server == Server::Postgres {
                    let mut conn = server.admin_postgres().await?;
                    sqlx::raw_sql(sqlx::AssertSqlSafe(create))
                        .execute(&mut conn)
                        .await?;
                } else {
                    let mut conn = server.admin_mysql().await?;
                    sqlx::raw_sql(sqlx::AssertSqlSafe(create))
                        .execute(&mut conn)
                        .await?;
                }
                let mut url = url::Url::parse(&server.admin_url())?;
                url.set_path(&name);
                Ok(Self {
                    server,
                    name,
                    url: url.to_string(),
                    file: None,
                    _dir: None,
                })
            }
            Server::Sqlite => {
                let dir = tempfile::Builder::new().prefix(PREFIX).tempdir()?;
                let file = dir.path().join(format!("{name}.sqlite3"));
                Ok(Self {
                    server,
                    url: format!("sqlite://{}?mode=rwc", file.display()),
                    name,
                    file: Some(file),
                    _dir: Some(dir),
                })
            }
        }
    }

    /// The SQLite file (only on SQLite).
    pub fn sqlite_file(&self) -> &Path {
        self.file
            .as_deref()
            .expect("only SQLite databases are files")
    }

    /// Drops the database (with any connection still open to it).
    pub async fn drop_database(self) -> anyhow::Result<()> {
        match self.server {
            Server::Postgres => {
                let mut conn = self.server.admin_postgres().await?;
                let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
                sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                    .execute(&mut conn)
                    .await?;
                // Write out what the run left dirty now, outside the timing, rather than during the
                // next contender's run.
                sqlx::raw_sql("CHECKPOINT").execute(&mut conn).await?;
            }
            Server::MariaDb => {
                let mut conn = self.server.admin_mysql().await?;
                let drop = format!("DROP DATABASE IF EXISTS {}", self.name);
                sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                    .execute(&mut conn)
                    .await?;
            }
            // The temporary directory goes with `self`.
            Server::Sqlite => {}
        }
        Ok(())
    }

    /// The command-line client that runs a SQL script on this database: `psql -1` (one transaction,
    /// stop at the first error), `mariadb` (stops at the first error), or `sqlite3`.
    pub fn script_command(&self, script: &Path) -> anyhow::Result<Command> {
        let mut command = match self.server {
            Server::Postgres => {
                let mut c = Command::new("psql");
                c.args(["-q", "-X", "-1", "-v", "ON_ERROR_STOP=1", "-f"])
                    .arg(script)
                    .arg(&self.url);
                c
            }
            Server::MariaDb => {
                let mut c = Command::new("mariadb");
                c.args(mariadb_arguments(&self.url)?)
                    .stdin(std::fs::File::open(script)?);
                c
            }
            Server::Sqlite => {
                let mut c = Command::new("sqlite3");
                c.args(["-bail", "-batch"])
                    .arg(self.sqlite_file())
                    .stdin(std::fs::File::open(script)?);
                c
            }
        };
        command.stdout(Stdio::null());
        Ok(command)
    }
}

/// Creates a database, runs `work` on it, and drops it whatever happened.
pub fn with_fresh_database<T>(
    runtime: &tokio::runtime::Runtime,
    server: Server,
    work: impl AsyncFnOnce(&Scratch) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    runtime.block_on(async {
        let scratch = Scratch::create(server).await?;
        let result = work(&scratch).await;
        scratch.drop_database().await?;
        result
    })
}

/// Connects a typed sqlx pool of one connection (opened before timing), runs `$body` with it bound
/// to `$pool`, and closes it.
macro_rules! with_connected_pool {
    ($server:expr, $url:expr, $pool:ident => $body:expr) => {
        match $server {
            $crate::bench::databases::Server::Postgres => {
                let $pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect($url)
                    .await?;
                let result = $body;
                $pool.close().await;
                result
            }
            $crate::bench::databases::Server::MariaDb => {
                let $pool = sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(1)
                    .connect($url)
                    .await?;
                let result = $body;
                $pool.close().await;
                result
            }
            $crate::bench::databases::Server::Sqlite => {
                let $pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect($url)
                    .await?;
                let result = $body;
                $pool.close().await;
                result
            }
        }
    };
}

pub(crate) use with_connected_pool;

/// `-h host -P port -u user [--password=...] database` for the `mariadb` client.
fn mariadb_arguments(url: &str) -> anyhow::Result<Vec<String>> {
    let url = url::Url::parse(url)?;
    let mut arguments = vec![
        "-h".to_string(),
        url.host_str().unwrap_or("127.0.0.1").to_string(),
        "-P".to_string(),
        url.port().unwrap_or(3306).to_string(),
        "-u".to_string(),
        url.username().to_string(),
    ];
    if let Some(password) = url.password() {
        arguments.push(format!("--password={password}"));
    }
    arguments.push(url.path().trim_start_matches('/').to_string());
    Ok(arguments)
}

/// Runs `command`, failing with its stderr when it fails.
pub fn run_checked(command: &mut Command, what: &str) -> anyhow::Result<()> {
    let output = command
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("cannot start {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// Fails clearly when a command-line tool the limit needs is not installed.
pub fn require_tool(tool: &str, needed_for: &str, install: &str) -> anyhow::Result<String> {
    let output = Command::new(tool)
        .arg("--version")
        .stdin(Stdio::null())
        .output();
    match output {
        Ok(output) if output.status.success() => {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
        }
        Ok(output) => bail!(
            "`{tool} --version` failed ({}); {needed_for} needs it: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(error) => bail!(
            "`{tool}` is not installed or not on PATH ({error}); {needed_for} needs it ({install})"
        ),
    }
}

/// The client [`Scratch::script_command`] uses for `server`, checked to be installed.
pub fn require_client(server: Server, needed_for: &str) -> anyhow::Result<String> {
    match server {
        Server::Postgres => require_tool("psql", needed_for, "apt-get install postgresql-client"),
        Server::MariaDb => require_tool("mariadb", needed_for, "apt-get install mariadb-client"),
        Server::Sqlite => require_tool("sqlite3", needed_for, "apt-get install sqlite3"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mariadb_client_arguments_come_from_the_url() {
        assert_eq!(
            mariadb_arguments("mysql://root:secret@db.local:3307/bench").unwrap(),
            [
                "-h",
                "db.local",
                "-P",
                "3307",
                "-u",
                "root",
                "--password=secret",
                "bench"
            ]
        );
        assert_eq!(
            mariadb_arguments("mysql://root@127.0.0.1/bench").unwrap()[3],
            "3306"
        );
    }
}
