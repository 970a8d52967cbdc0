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
//!
//! # Placeholders
//!
//! `?` binds the parameters in order, on every backend. The number of placeholders must equal the
//! number of parameters, or the helper refuses the statement before sending it. On PostgreSQL,
//! `$1, $2...` may be used instead (never mixed with `?`), and `??` is a literal `?` for the jsonb
//! operators (`data ?? 'key'`, `??|`, `??&`). SQLite's `?1`, `:name`, `@name` and `$name` are refused.
//!
//! # Values
//!
//! Parameters and columns are [`Value`]s, with one mapping on every backend. Columns are read by
//! the type the database reports, never guessed. A value a backend cannot store exactly is refused
//! before the statement is sent, naming the parameter (or the row and column of a bulk insert).
//!
//! | `Value` | PostgreSQL | MySQL / MariaDB | SQLite |
//! | --- | --- | --- | --- |
//! | `Null` | NULL, typed by the statement | NULL | NULL |
//! | `Bool` | `BOOLEAN` | `BOOLEAN` (`TINYINT(1)`): reads `Bool` for 0 and 1, `Int` for any other value it holds | a `BOOLEAN` column: the same rule |
//! | `Int` (`i64`) | `SMALLINT`, `INTEGER`, `BIGINT`, `OID` | every integer type, `UNSIGNED` ones included up to `i64::MAX`; `YEAR`, `BIT` | `INTEGER` |
//! | `UInt` (`u64` above `i64::MAX`) | bound as `NUMERIC` | `BIGINT UNSIGNED` | refused (SQLite integers are 64-bit signed) |
//! | `Float` (`f64`) | `REAL`, `DOUBLE PRECISION`; NaN, ±infinity and -0.0 kept | `FLOAT`, `DOUBLE`; NaN and ±infinity refused; -0.0 reads back as 0.0 | `REAL`; NaN refused (SQLite would store NULL); ±infinity kept; -0.0 reads back as 0.0 |
//! | `Decimal` (exact, as text) | `NUMERIC`, digit for digit with its scale; `NaN`, `Infinity` | `DECIMAL`, padded or rounded to the column's scale as SQL does | stored as text; reads back as `Text` |
//! | `Text` | `TEXT`, `VARCHAR`, `CHAR`, `NAME`, `citext`, enums; the NUL character refused | `CHAR`, `VARCHAR`, the `TEXT`s, `ENUM`, `SET` (any collation but `binary`) | `TEXT` |
//! | `Bytes` | `BYTEA` | `BINARY`, `VARBINARY`, the `BLOB`s | `BLOB` |
//! | `Json` (`serde_json::Value`) | `JSON`, `JSONB` (which refuses `\u0000` in strings) | MySQL's `JSON`; bound as text; MariaDB's `JSON` is a `LONGTEXT` and reads back as `Text` | stored as text; reads back as `Text` |
//! | `Uuid` | `UUID` | bound as its hyphenated text (`CHAR(36)`, MariaDB's `UUID`); reads back as `Text` | the same |
//! | `Date` (`time::Date`) | `DATE` | `DATE`, from year 0 | text (`2024-02-29`); reads back as `Date` from a `DATE` column |
//! | `Time` (`time::Time`) | `TIME` | `TIME` from 00:00 to 24:00 | text (`13:05:09.25`); reads back as `Time` from a `TIME` column |
//! | `DateTime` (`time::PrimitiveDateTime`) | `TIMESTAMP` | `DATETIME` | text (`2024-02-29 13:05:09`); reads back from a `DATETIME` or `TIMESTAMP` column |
//! | `Timestamp` (`time::OffsetDateTime`) | `TIMESTAMPTZ`, read back in UTC | `TIMESTAMP` (sqlx's session is in UTC), read back in UTC | text with its offset (`2024-02-29 13:05:09+01:00`); reads back from a `DATETIME` or `TIMESTAMP` column, offset kept |
//!
//! PostgreSQL and MySQL keep times to the microsecond: a time with nanoseconds is refused there.
//! `Value::to_json` and `Value::as_uuid` parse the text the backends without such types return.
//! Other types (PostgreSQL's `INTERVAL`, `MONEY`, arrays; MySQL's spatial types) are refused with
//! the cast that reads them as text.

mod backfill;
mod bulk;
pub(crate) mod codec;
mod identifier;
pub(crate) mod numeric;
mod value;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

pub use backfill::{Backfill, BackfillReport};
pub use value::{InvalidDecimal, Row, Value};

use crate::backend::Backend;
use crate::backend::connection::{Connection, FetchError};
use crate::sql::placeholders::{self, PlaceholderError};

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
    /// Rows to do in all, when known (a bulk insert from an iterator of known length).
    pub total: Option<u64>,
    /// Time since the task started.
    pub elapsed: Duration,
}

/// A progress callback, set with the migrator's `on_progress`.
pub type ProgressFn = dyn Fn(&Progress) + Send + Sync;

/// A step's progress reporting: the `tracing` event and the callback.
#[derive(Clone, Copy)]
struct ProgressSink<'c> {
    version: i64,
    callback: Option<&'c ProgressFn>,
}

impl ProgressSink<'_> {
    fn report(self, task: &str, rows: u64, total: Option<u64>, elapsed: Duration) {
        let progress = Progress {
            version: self.version,
            task: task.to_string(),
            rows,
            total,
            elapsed,
        };
        tracing::info!(
            version = self.version,
            task,
            rows,
            elapsed_ms = elapsed.as_millis() as u64,
            "data step progress"
        );
        if let Some(callback) = self.callback {
            callback(&progress);
        }
    }
}

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
    /// The statement's placeholders do not fit the parameters given; nothing was sent.
    #[error("{source}\n  in: {statement}")]
    Placeholders {
        /// The statement, as given.
        statement: String,
        /// What does not fit.
        source: PlaceholderError,
    },
    /// A value the backend cannot store exactly; refused before anything was sent.
    #[error("{}: {reason}", describe_position(*row, column.as_deref(), *parameter))]
    Unstorable {
        /// The row of a bulk insert (1-based).
        row: Option<u64>,
        /// The column of a bulk insert.
        column: Option<String>,
        /// The parameter of a statement (1-based).
        parameter: Option<usize>,
        /// Why, and what to do.
        reason: String,
    },
    /// The database refused a row of a bulk insert.
    #[error(
        "the bulk insert into {table} failed at {}: {source}",
        match (row, column) {
            (Some(row), Some(column)) => format!("row {row}, column {column}"),
            (Some(row), None) => format!("row {row}"),
            (None, _) => format!("one of rows {} to {} (sent as one statement)", rows.0, rows.1),
        }
    )]
    BulkInsert {
        /// The table, as given.
        table: String,
        /// The row the database names, if it names one (1-based, counted over the whole insert).
        row: Option<u64>,
        /// The column the database names, if it names one.
        column: Option<String>,
        /// The rows of the statement that failed (1-based, inclusive).
        rows: (u64, u64),
        /// The database's error.
        source: Box<sqlx::Error>,
    },
    /// A column holds a type the portable [`Value`] cannot represent.
    #[error(
        "column {column} has type {type_name}, which dbmigrate's Value cannot hold; cast it in SQL, e.g. CAST({column} AS {})",
        text_type(*backend)
    )]
    UnsupportedType {
        /// The column's name.
        column: String,
        /// The database's name for its type.
        type_name: String,
        /// The database.
        backend: Backend,
    },
    /// A column's value does not fit the [`Value`] kind of its type (a date beyond year 9999, a MySQL
    /// `TIME` beyond 24 hours).
    #[error(
        "column {column} ({type_name}) holds a value dbmigrate's Value cannot hold exactly ({reason}); cast it in SQL, e.g. CAST({column} AS {})",
        text_type(*backend)
    )]
    Undecodable {
        /// The column's name.
        column: String,
        /// The database's name for its type.
        type_name: String,
        /// The database.
        backend: Backend,
        /// What the decoder said.
        reason: String,
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
            Self::BulkInsert { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The type a cast to text names on `backend`: MySQL's `CAST` has no `TEXT`.
fn text_type(backend: Backend) -> &'static str {
    backend.dialect().text_cast
}

fn describe_position(row: Option<u64>, column: Option<&str>, parameter: Option<usize>) -> String {
    match (row, column, parameter) {
        (Some(row), Some(column), _) => format!("row {row}, column {column}, of the bulk insert"),
        (Some(row), None, _) => format!("row {row} of the bulk insert"),
        (None, _, Some(parameter)) => format!("parameter {parameter}"),
        _ => "a value".to_string(),
    }
}

/// What a data step works with: the live connection and the revision it belongs to.
pub struct Context<'c> {
    conn: &'c mut dyn Connection,
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
    pub(crate) fn new(conn: &'c mut dyn Connection, scope: StepScope<'c>) -> Self {
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
        if !self.transactional || self.implicitly_committed {
            return Ok(());
        }
        // Helpers run one prepared statement at a time, so its first words decide.
        if !crate::sql::commits_implicitly(sql, self.conn.dialect()) {
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
        crate::history::table::write_state(&mut *self.conn, self.history_table, &row)
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
        self.conn.as_postgres()
    }

    /// The MySQL/MariaDB connection (inside the revision's transaction); `None` on other backends.
    #[cfg(feature = "mysql")]
    pub fn mysql(&mut self) -> Option<&mut sqlx::MySqlConnection> {
        self.conn.as_mysql()
    }

    /// The SQLite connection (inside the revision's transaction); `None` on other backends.
    #[cfg(feature = "sqlite")]
    pub fn sqlite(&mut self) -> Option<&mut sqlx::SqliteConnection> {
        self.conn.as_sqlite()
    }

    /// Runs one statement with `?` placeholders bound to `params`; returns the rows it affected.
    ///
    /// Refused before anything is sent: a statement whose placeholders do not match `params` in
    /// number, and a value the backend cannot store exactly (see the module documentation).
    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DataError> {
        self.execute_owned(sql, params.to_vec()).await
    }

    async fn execute_owned(&mut self, sql: &str, params: Vec<Value>) -> Result<u64, DataError> {
        let statement = self.checked(sql, &params)?;
        // Only once the statement is known to run: a refused one must leave no mark behind.
        self.mark_before_implicit_commit(sql).await?;
        let database = |source| DataError::Database {
            statement: sql.to_string(),
            source,
        };
        self.conn
            .execute_with(statement, params)
            .await
            .map_err(database)
    }

    /// Runs a query with `?` placeholders bound to `params` and returns every row, with each column
    /// as a portable [`Value`], read by the type the database reports for it.
    pub async fn fetch_all(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DataError> {
        let statement = self.checked(sql, params)?;
        let database = |source| DataError::Database {
            statement: sql.to_string(),
            source,
        };
        match self.conn.fetch_with(statement, params.to_vec()).await {
            Ok(rows) => Ok(rows),
            Err(FetchError::Database(source)) => Err(database(source)),
            Err(FetchError::Decode(error)) => Err(error),
        }
    }

    /// The statement as the backend takes it, once its placeholders match `params` and every
    /// parameter can be stored exactly.
    fn checked(&self, sql: &str, params: &[Value]) -> Result<String, DataError> {
        let backend = self.backend();
        let statement = placeholders::prepare(sql, backend, params.len()).map_err(|source| {
            DataError::Placeholders {
                statement: sql.to_string(),
                source,
            }
        })?;
        for (index, value) in params.iter().enumerate() {
            if let Some(reason) = codec::unstorable(value, backend) {
                return Err(DataError::Unstorable {
                    row: None,
                    column: None,
                    parameter: Some(index + 1),
                    reason,
                });
            }
        }
        if self
            .conn
            .dialect()
            .runner
            .statement_text_names_parameter_types
            && !params.is_empty()
        {
            let mut statement = statement.into_owned();
            statement.push_str(&codec::postgres_signature(params));
            return Ok(statement);
        }
        Ok(statement.into_owned())
    }

    /// Runs a statement dbmigrate built itself (placeholders counted and values checked as it was
    /// built), without the checks and the copy `execute` makes.
    async fn execute_built(
        &mut self,
        statement: &std::sync::Arc<str>,
        params: Vec<Value>,
    ) -> Result<u64, sqlx::Error> {
        self.conn.execute_with(statement.to_string(), params).await
    }

    /// Sends transaction control (`BEGIN`, `COMMIT`, `ROLLBACK`) as is.
    async fn control(&mut self, sql: &'static str) -> Result<(), DataError> {
        let result = self.conn.execute(sql).await.map(drop);
        result.map_err(|source| DataError::Database {
            statement: sql.to_string(),
            source,
        })
    }

    /// Whether statements now commit one by one: `Transaction: none`, or a MySQL step whose DDL has
    /// committed the revision's transaction.
    fn autocommitting(&self) -> bool {
        !self.transactional || self.implicitly_committed
    }

    /// Inserts many rows into `table`: with `COPY ... FROM STDIN` on PostgreSQL, and with multi-row
    /// `INSERT` statements in batches as large as the backend's parameter limit elsewhere. Returns the
    /// number of rows inserted.
    ///
    /// All rows or none: a bad row (a value the backend cannot store, a row the database refuses)
    /// fails the insert, naming the row and, where known, the column, and leaves none of its rows
    /// behind. Inside the revision's transaction the insert runs in a savepoint, so the transaction
    /// stays usable after the error (on PostgreSQL too); where statements commit one by one
    /// (`Transaction: none`, or MySQL after DDL committed implicitly) it runs in a transaction of
    /// its own (PostgreSQL's `COPY` is one statement already), so a rerun after a failure never
    /// duplicates rows.
    ///
    /// `table` and `columns` are names as SQL reads them: `players`, `Sales."Order Items"`,
    /// `` `order` ``; each part is quoted for the backend. A column named twice is refused.
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
    ///
    /// Every row the filter selects when the backfill starts is updated exactly once, and the
    /// report's `rows` counts them:
    /// - the key is one column of any type whose values read back exactly (integers, `UNSIGNED`
    ///   ones included, text, decimals, dates and times, UUIDs); it need not be unique. A composite
    ///   key is not supported: walk by one of its columns (duplicates are fine) or a unique column;
    /// - rows whose key is NULL are updated by one last statement, not in batches;
    /// - the walk ends at the last key present at the start, so rows moved or added past it are not
    ///   visited, and a SET that assigns the key column is refused;
    /// - `table` and `key` are names as SQL reads them (see [`Context::bulk_insert`]); the SET and
    ///   the filter are SQL, put into the statements as written, and take no placeholders.
    pub fn backfill<'a>(&'a mut self, table: &str, key: &str, set: &str) -> Backfill<'a, 'c> {
        Backfill::new(self, table, key, set)
    }

    fn report(&self, task: &str, rows: u64, total: Option<u64>, elapsed: Duration) {
        self.progress_sink().report(task, rows, total, elapsed);
    }

    /// Where this step's progress goes, held apart from the connection so a task streaming on it
    /// (a `COPY`) can report as it goes.
    fn progress_sink(&self) -> ProgressSink<'c> {
        ProgressSink {
            version: self.version,
            callback: self.progress,
        }
    }
}
