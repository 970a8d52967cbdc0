//! Rust data steps: the [`Context`] a `.rs` revision's `upgrade` and `downgrade` functions receive.
//!
//! The context holds the live connection, inside the same transaction that writes the revision's
//! history row (unless the revision says `Transaction: none`). Any sqlx query runs on it through
//! [`Context::postgres`], [`Context::mysql`] or [`Context::sqlite`]; the portable helpers
//! ([`Context::execute`], [`Context::fetch_all`], [`Context::bulk_insert`], [`Context::backfill`])
//! work unchanged on all three backends, with `?` placeholders.
//!
//! ```ignore
//! //! Message: move team names into a table
//! //! Revises: 3
//!
//! use dbmigrate_runtime::data::Context;
//!
//! pub async fn upgrade(cx: &mut Context<'_>) -> Result<(), dbmigrate_runtime::BoxError> {
//!     cx.execute("INSERT INTO teams (name) SELECT DISTINCT team FROM players", &[]).await?;
//!     Ok(())
//! }
//! ```

mod backfill;
mod bulk;
mod value;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

pub use backfill::{Backfill, BackfillReport};
pub use value::{Row, Value};

use crate::backend::Backend;
use crate::backend::session::{Conn, each_conn};

/// The error type of data steps: anything that is an error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The future a data step returns, boxed so steps of every revision share one type.
pub type StepFuture<'a> = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send + 'a>>;

/// A data step function, as registered by the generated code.
pub type StepFn = for<'a, 'c> fn(&'a mut Context<'c>) -> StepFuture<'a>;

/// A compiled `.rs` revision: its version and its functions. Written by the build script.
#[derive(Clone, Copy)]
pub struct RustStep {
    /// The revision's version.
    pub version: i64,
    /// `upgrade`.
    pub upgrade: StepFn,
    /// `downgrade`, if the file defines one.
    pub downgrade: Option<StepFn>,
}

impl std::fmt::Debug for RustStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RustStep")
            .field("version", &self.version)
            .field("downgrade", &self.downgrade.is_some())
            .finish()
    }
}

/// How far a long data step has got; passed to the progress callback and logged with `tracing`.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// The revision running.
    pub version: i64,
    /// What is being done (`backfill players`, `bulk insert into teams`).
    pub task: String,
    /// Rows done so far.
    pub rows: u64,
    /// Time since the task started.
    pub elapsed: Duration,
}

/// A progress callback, set with the migrator's `on_progress`.
pub type ProgressFn = dyn Fn(&Progress) + Send + Sync;

/// Why a helper of the context failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The database refused a statement.
    #[error("{source}\n  in: {statement}")]
    Database {
        /// The statement, as sent.
        statement: String,
        /// The database's error.
        source: sqlx::Error,
    },
    /// A column holds a type the portable [`Value`] cannot represent.
    #[error(
        "column {column} has type {type_name}, which dbmigrate's Value cannot hold; cast it in SQL, e.g. CAST({column} AS TEXT)"
    )]
    UnsupportedType {
        /// The column's name.
        column: String,
        /// The database's name for its type.
        type_name: String,
    },
    /// The helper was called in a way it cannot honour.
    #[error("{0}")]
    Usage(String),
}

impl DataError {
    /// The database's error, when the database refused a statement.
    pub fn database_error(&self) -> Option<&sqlx::Error> {
        match self {
            Self::Database { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// What a data step works with: the live connection and the revision it belongs to.
pub struct Context<'c> {
    conn: Conn<'c>,
    version: i64,
    path: &'c Path,
    transactional: bool,
    progress: Option<&'c ProgressFn>,
    history_table: &'c str,
    direction: &'static str,
    implicitly_committed: bool,
}

/// Where a step runs: its revision, and how its run is recorded.
pub(crate) struct StepScope<'c> {
    pub version: i64,
    pub path: &'c Path,
    pub transactional: bool,
    pub progress: Option<&'c ProgressFn>,
    pub history_table: &'c str,
    pub direction: &'static str,
}

impl<'c> Context<'c> {
    pub(crate) fn new(conn: Conn<'c>, scope: StepScope<'c>) -> Self {
        Self {
            conn,
            version: scope.version,
            path: scope.path,
            transactional: scope.transactional,
            progress: scope.progress,
            history_table: scope.history_table,
            direction: scope.direction,
            implicitly_committed: false,
        }
    }

    /// Whether the step ran a statement MySQL commits implicitly (through the helpers), so its
    /// transaction no longer covers everything it did.
    pub(crate) fn implicitly_committed(&self) -> bool {
        self.implicitly_committed
    }

    /// On MySQL, before the first statement that commits implicitly, marks the revision as running
    /// in the side table. The mark is written inside the transaction the statement is about to
    /// commit, so it becomes durable exactly when the first irreversible change does: a crash before
    /// leaves nothing, a crash after leaves the mark for `status` to report.
    async fn mark_before_implicit_commit(&mut self, sql: &str) -> Result<(), DataError> {
        if self.conn.backend() != Backend::MySql || !self.transactional || self.implicitly_committed
        {
            return Ok(());
        }
        // Helpers run one prepared statement at a time, so its first words decide.
        let commits = crate::sql::commits_implicitly_on_mysql(sql);
        if !commits {
            return Ok(());
        }
        let row = crate::history::StateRow {
            version: self.version,
            state: Some(crate::history::RunState::Running),
            direction: Some(self.direction.to_string()),
            execution_ms: None,
            statement_index: None,
            statement_count: None,
            statement_line: None,
            completed_checksum: None,
            error: None,
            updated_on: crate::history::now_rfc3339(),
        };
        crate::history::table::write_state(&mut self.conn, self.history_table, &row)
            .await
            .map_err(|source| DataError::Database {
                statement: sql.to_string(),
                source,
            })?;
        self.implicitly_committed = true;
        Ok(())
    }

    /// The database the step runs on.
    pub fn backend(&self) -> Backend {
        self.conn.backend()
    }

    /// The revision's version.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The revision file.
    pub fn path(&self) -> &Path {
        self.path
    }

    /// Whether the step runs inside the revision's transaction (the default), so everything it does
    /// commits with the history row or not at all. With `Transaction: none` in the header it does not,
    /// and [`Context::backfill`] commits each batch on its own.
    pub fn in_transaction(&self) -> bool {
        self.transactional
    }

    /// The PostgreSQL connection (inside the revision's transaction), for any sqlx query; `None` on
    /// other backends.
    #[cfg(feature = "postgres")]
    pub fn postgres(&mut self) -> Option<&mut sqlx::PgConnection> {
        match &mut self.conn {
            Conn::Postgres(c) => Some(c),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The MySQL/MariaDB connection (inside the revision's transaction); `None` on other backends.
    #[cfg(feature = "mysql")]
    pub fn mysql(&mut self) -> Option<&mut sqlx::MySqlConnection> {
        match &mut self.conn {
            Conn::MySql(c) => Some(c),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The SQLite connection (inside the revision's transaction); `None` on other backends.
    #[cfg(feature = "sqlite")]
    pub fn sqlite(&mut self) -> Option<&mut sqlx::SqliteConnection> {
        match &mut self.conn {
            Conn::Sqlite(c) => Some(c),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// Runs one statement with `?` placeholders bound to `params`; returns the rows it affected.
    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DataError> {
        self.execute_owned(sql, params.to_vec()).await
    }

    async fn execute_owned(&mut self, sql: &str, params: Vec<Value>) -> Result<u64, DataError> {
        self.mark_before_implicit_commit(sql).await?;
        let statement = crate::sql::placeholders(sql, self.backend());
        let database = |source| DataError::Database {
            statement: sql.to_string(),
            source,
        };
        each_conn!(&mut self.conn, c => {
            let query = value::bind_all(sqlx::query(sqlx::AssertSqlSafe(statement)), params);
            Ok(query.execute(&mut **c).await.map_err(database)?.rows_affected())
        })
    }

    /// Runs a query with `?` placeholders bound to `params` and returns every row, with each column
    /// as a portable [`Value`].
    pub async fn fetch_all(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DataError> {
        let statement = crate::sql::placeholders(sql, self.backend());
        let database = |source| DataError::Database {
            statement: sql.to_string(),
            source,
        };
        each_conn!(&mut self.conn, c => {
            let query = value::bind_all(sqlx::query(sqlx::AssertSqlSafe(statement)), params.iter().cloned());
            let rows = query.fetch_all(&mut **c).await.map_err(database)?;
            value::decode_rows(&rows)
        })
    }

    /// Inserts many rows into `table`: with `COPY ... FROM STDIN` on PostgreSQL, and with multi-row
    /// `INSERT` statements in batches as large as the backend's parameter limit elsewhere. Returns the
    /// number of rows inserted.
    ///
    /// ```ignore
    /// let rows = names.iter().zip(1_i64..).map(|(name, id)| [Value::from(id), Value::from(name.as_str())]);
    /// cx.bulk_insert("teams", &["id", "name"], rows).await?;
    /// ```
    ///
    /// The rows are streamed from the iterator, never collected.
    pub fn bulk_insert<'a, I, R>(
        &'a mut self,
        table: &'a str,
        columns: &'a [&'a str],
        rows: I,
    ) -> Pin<Box<dyn Future<Output = Result<u64, DataError>> + Send + 'a>>
    where
        I: IntoIterator<Item = R>,
        I::IntoIter: Send + 'a,
        R: AsRef<[Value]> + Send + 'a,
    {
        // The iterator is boxed here, outside any future: a step's future then holds only a
        // `dyn Iterator + Send`, so rustc never has to prove `Send` for a closure over borrowed data
        // across an await (where it cannot, for higher-ranked lifetimes).
        let rows: Box<dyn Iterator<Item = R> + Send + 'a> = Box::new(rows.into_iter());
        Box::pin(bulk::insert(self, table, columns, rows))
    }

    /// Updates a large table in key-ordered batches: `UPDATE table SET <set> WHERE <key range>`.
    /// Inside the revision's transaction the batches only bound each statement's size; with
    /// `Transaction: none` each batch commits on its own, so no lock is held for long.
    ///
    /// ```ignore
    /// let report = cx.backfill("players", "id", "email_lower = lower(email)").filter("email_lower IS NULL").batch_size(5_000).run().await?;
    /// ```
    pub fn backfill<'a>(&'a mut self, table: &str, key: &str, set: &str) -> Backfill<'a, 'c> {
        Backfill::new(self, table, key, set)
    }

    fn report(&self, task: &str, rows: u64, elapsed: Duration) {
        let progress = Progress {
            version: self.version,
            task: task.to_string(),
            rows,
            elapsed,
        };
        tracing::info!(
            version = self.version,
            task,
            rows,
            elapsed_ms = elapsed.as_millis() as u64,
            "data step progress"
        );
        if let Some(callback) = self.progress {
            callback(&progress);
        }
    }
}

/// Checks that `name` is a plain (optionally schema-qualified) SQL identifier, so helpers can put it
/// into statements as is.
fn identifier(name: &str) -> Result<&str, DataError> {
    let valid = !name.is_empty()
        && name.split('.').all(|part| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if valid {
        Ok(name)
    } else {
        Err(DataError::Usage(format!(
            "`{name}` is not a plain identifier (letters, digits, underscores, optionally schema.table); \
             data helpers do not quote names, so rename it or use the connection directly"
        )))
    }
}
