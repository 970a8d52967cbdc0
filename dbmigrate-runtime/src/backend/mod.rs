//! The databases dbmigrate migrates: which backend a URL or connection speaks, the SQL each one needs
//! for the history tables, and (with a backend feature) live sessions on sqlx pools.
//!
//! The kind and its SQL text are always compiled, because `--sql` prints scripts without connecting.

#[cfg(feature = "__apply")]
pub(crate) mod connection;
#[cfg(feature = "__apply")]
pub(crate) mod errors;
// Read by the live code too: without a backend feature only `check` and `--sql` use it.
#[cfg_attr(not(feature = "__apply"), allow(dead_code))]
pub(crate) mod dialect;
mod mysql;
#[cfg(feature = "__apply")]
pub mod pool;
mod postgres;
#[cfg(feature = "__apply")]
pub mod session;
mod sqlite;

use std::fmt;

pub(crate) use dialect::Dialect;

use crate::revision::VersionWidth;

/// A database dbmigrate can migrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// PostgreSQL: transactional DDL, advisory locks.
    Postgres,
    /// MySQL or MariaDB: DDL commits implicitly, `GET_LOCK` locks.
    #[serde(rename = "mysql")]
    MySql,
    /// SQLite: transactional DDL, serialised by SQLite's own file locking.
    Sqlite,
}

impl Backend {
    /// Every backend, in the order messages list them.
    pub const ALL: [Self; 3] = [Self::Postgres, Self::MySql, Self::Sqlite];

    /// The backend a connection URL names by its scheme (`postgres://`, `mysql://`, `mariadb://`, `sqlite:`).
    pub fn from_url(url: &str) -> Option<Self> {
        let scheme = url.split(':').next()?.to_ascii_lowercase();
        match scheme.as_str() {
            "postgres" | "postgresql" => Some(Self::Postgres),
            "mysql" | "mariadb" => Some(Self::MySql),
            "sqlite" => Some(Self::Sqlite),
            _ => None,
        }
    }

    /// Its SQL: quoting, literals, lexical rules, DDL, what the runner may rely on. The one place
    /// that asks which database this is; everything else asks the dialect.
    pub(crate) fn dialect(self) -> &'static Dialect {
        match self {
            Self::Postgres => &postgres::DIALECT,
            Self::MySql => &mysql::DIALECT,
            Self::Sqlite => &sqlite::DIALECT,
        }
    }

    /// Whether DDL statements take part in transactions (so a failed revision leaves nothing behind).
    pub fn transactional_ddl(self) -> bool {
        self.dialect().transactional_ddl
    }

    /// The longest identifier the database keeps as written, in bytes (names are ASCII, so bytes
    /// and characters agree): PostgreSQL truncates longer ones to 63 bytes (so a long
    /// `<table>_dbmigrate` would silently name the history table itself), MySQL/MariaDB refuse names
    /// over 64 characters. SQLite has no limit.
    pub fn identifier_limit(self) -> Option<usize> {
        self.dialect().identifier_limit
    }

    /// `name` quoted as an identifier, denoting the same table as refinery's unquoted `name`:
    /// PostgreSQL folds unquoted names to lowercase, so the quoted name is folded too; MySQL and
    /// SQLite compare a quoted name as they do an unquoted one. Quotes inside are doubled, so no
    /// name can end the identifier early.
    pub fn quote_identifier(self, name: &str) -> String {
        self.dialect().quote_identifier(name)
    }

    /// The statement that creates refinery's history table: refinery's text, with the name quoted
    /// (the same table as refinery's unquoted name, see [`Backend::quote_identifier`]).
    pub fn create_history_table(self, table: &str, width: VersionWidth) -> String {
        let version_type = match width {
            VersionWidth::I32 => "INT4",
            VersionWidth::I64 => "INT8",
        };
        // refinery uses this text on all three databases; MySQL and SQLite accept INT4/INT8.
        format!(
            "CREATE TABLE IF NOT EXISTS {}(version {version_type} PRIMARY KEY, name VARCHAR(255), \
             applied_on VARCHAR(255), checksum VARCHAR(255))",
            self.quote_identifier(table)
        )
    }

    /// The statement that creates dbmigrate's side table, which holds what refinery's table cannot:
    /// execution times, and revisions that are running, failed part-way or were interrupted.
    pub fn create_state_table(self, table: &str) -> String {
        let big = self.dialect().bigint_column;
        format!(
            "CREATE TABLE IF NOT EXISTS {state}(version {big} PRIMARY KEY, state VARCHAR(16) NOT NULL, direction VARCHAR(16), \
             execution_ms {big}, statement_index INT, statement_count INT, statement_line INT, \
             completed_checksum VARCHAR(32), error TEXT, updated_on VARCHAR(255) NOT NULL)",
            state = self.quote_identifier(&state_table(table)),
        )
    }

    /// Renders a value as an SQL string literal for printed scripts (`--sql`).
    pub fn string_literal(self, text: &str) -> String {
        (self.dialect().string_literal)(text)
    }

    /// The statement that opens a revision's transaction.
    pub fn begin_statement(self) -> &'static str {
        self.dialect().begin
    }

    /// A short lowercase name, as used in URLs and `--backend`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::MySql => "mysql",
            Self::Sqlite => "sqlite",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Postgres => "PostgreSQL",
            Self::MySql => "MySQL/MariaDB",
            Self::Sqlite => "SQLite",
        })
    }
}

impl std::str::FromStr for Backend {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" | "pg" => Ok(Self::Postgres),
            "mysql" | "mariadb" => Ok(Self::MySql),
            "sqlite" => Ok(Self::Sqlite),
            _ => Err(format!(
                "unknown backend `{text}`; use postgres, mysql or sqlite"
            )),
        }
    }
}

/// What a server is in its replication setup, as far as writing to it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ServerRole {
    /// It accepts writes: a primary, a lone server, a Galera node, a SQLite file.
    Writable,
    /// A PostgreSQL hot standby: in recovery (`pg_is_in_recovery()`), replaying its primary's WAL.
    PostgresStandby,
    /// A MariaDB/MySQL server with `read_only` (or `innodb_read_only`) on, as replicas run.
    MySqlReadOnly {
        /// The setting that is on.
        setting: &'static str,
    },
}

impl fmt::Display for ServerRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Writable => f.write_str("a server that accepts writes"),
            Self::PostgresStandby => {
                f.write_str("a PostgreSQL standby (in recovery: pg_is_in_recovery() is true)")
            }
            Self::MySqlReadOnly { setting } => write!(
                f,
                "a read-only MariaDB/MySQL server (`{setting}` is ON, as on a replica)"
            ),
        }
    }
}

/// The side table that goes with a history table: `<table>_dbmigrate`, which refinery never reads.
pub fn state_table(history_table: &str) -> String {
    format!("{history_table}{STATE_TABLE_SUFFIX}")
}

/// What the side table's name adds to the history table's.
pub const STATE_TABLE_SUFFIX: &str = "_dbmigrate";

/// The suffixes of every table dbmigrate derives, or reserves, from the history table's name: the
/// side table, and `<table>_lock` for a lease table. Each derived name must fit every backend's
/// identifier limit, which is checked when the name is configured (see
/// [`crate::config::check_table_name`]). The lock names are hashed, so they never grow with it.
pub const DERIVED_TABLE_SUFFIXES: [&str; 2] = [STATE_TABLE_SUFFIX, "_lock"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_backend_from_the_url_scheme() {
        for (url, backend) in [
            ("postgres://root@127.0.0.1/test", Some(Backend::Postgres)),
            ("postgresql://x", Some(Backend::Postgres)),
            ("mysql://root@127.0.0.1/test", Some(Backend::MySql)),
            ("mariadb://root@127.0.0.1/test", Some(Backend::MySql)),
            ("sqlite://app.db?mode=rwc", Some(Backend::Sqlite)),
            ("sqlite::memory:", Some(Backend::Sqlite)),
            ("oracle://x", None),
            ("", None),
        ] {
            assert_eq!(Backend::from_url(url), backend, "{url}");
        }
    }

    #[test]
    fn the_history_table_is_refinerys() {
        assert_eq!(
            Backend::Postgres.create_history_table("refinery_schema_history", VersionWidth::I32),
            "CREATE TABLE IF NOT EXISTS \"refinery_schema_history\"(version INT4 PRIMARY KEY, name VARCHAR(255), \
             applied_on VARCHAR(255), checksum VARCHAR(255))"
        );
        assert!(
            Backend::Sqlite
                .create_history_table("h", VersionWidth::I64)
                .contains("version INT8 PRIMARY KEY")
        );
    }

    #[test]
    fn identifiers_are_quoted_as_refinerys_unquoted_names_read() {
        assert_eq!(Backend::Postgres.quote_identifier("History"), "\"history\"");
        assert_eq!(Backend::MySql.quote_identifier("History"), "`History`");
        assert_eq!(Backend::Sqlite.quote_identifier("History"), "\"History\"");
        // Whatever reaches the quoting cannot end the identifier early.
        assert_eq!(Backend::Postgres.quote_identifier("a\"b"), "\"a\"\"b\"");
        assert_eq!(Backend::MySql.quote_identifier("a`b"), "`a``b`");
        assert_eq!(Backend::Sqlite.quote_identifier("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn literals_are_escaped_per_dialect() {
        assert_eq!(Backend::Postgres.string_literal("it's \\n"), "'it''s \\n'");
        assert_eq!(Backend::MySql.string_literal("it's \\n"), "'it''s \\\\n'");
    }
}

#[cfg(test)]
mod only_here {
    /// Everything above `backend/` asks the dialect or the connection, never which database it is:
    /// a branch on the backend kind elsewhere is where per-backend behaviour hides from the trait.
    #[test]
    fn only_the_backend_module_asks_which_database_it_is() {
        let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut offenders = Vec::new();
        let mut pending = vec![source.clone()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    if path != source.join("backend") {
                        pending.push(path);
                    }
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                // Tests may name backends: they pick the dialect to test.
                let code = text.split("#[cfg(test)]").next().unwrap_or("");
                for (number, line) in code.lines().enumerate() {
                    let asks = [
                        "Backend::Postgres",
                        "Backend::MySql",
                        "Backend::Sqlite",
                        "Backend::{",
                    ]
                    .iter()
                    .any(|kind| line.contains(kind));
                    if asks {
                        offenders.push(format!(
                            "{}:{}: {}",
                            path.display(),
                            number + 1,
                            line.trim()
                        ));
                    }
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "code outside backend/ branches on the backend kind; ask the dialect or the connection:\n{}",
            offenders.join("\n")
        );
    }
}
