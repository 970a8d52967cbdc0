//! What one database's SQL text is like, as dbmigrate needs to know it: how its lexer reads
//! strings, identifiers and comments, how it quotes and writes literals, what its placeholders look
//! like, which statements end a transaction, the history tables' DDL and upserts, and what the
//! runner may rely on when it sends revisions. Each backend's file defines its own (`DIALECT`);
//! everything above `backend/` asks the dialect instead of asking which database it is.
//!
//! Always compiled, without a backend feature: `check` and `--sql` read SQL without connecting.

use super::Backend;

/// How a dialect's lexer tells code from strings, quoted identifiers and comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lexical {
    /// `/* /* */ */` needs a `*/` per `/*` (PostgreSQL).
    pub nested_block_comments: bool,
    /// A backslash escapes the next character inside `'...'` and `"..."` (MySQL).
    pub backslash_escapes: bool,
    /// `"..."` is a string, not a quoted identifier (MySQL without ANSI_QUOTES).
    pub double_quoted_strings: bool,
    /// `` `...` `` is a quoted identifier (MySQL, SQLite).
    pub backtick_identifiers: bool,
    /// `[...]` is a quoted identifier (SQLite).
    pub bracket_identifiers: bool,
    /// `$tag$ ... $tag$` bodies and `E'...'` strings with backslash escapes (PostgreSQL).
    pub dollar_quotes: bool,
    /// `# ...` is a line comment, and `--` starts one only before whitespace, so `1--1` is
    /// arithmetic (MySQL).
    pub hash_comments: bool,
    /// `/*! ... */` (and MariaDB's `/*M! ... */`) is code the server runs, not a comment (MySQL).
    pub executable_comments: bool,
    /// `BEGIN NOT ATOMIC ... END` is an anonymous block whose body holds semicolons (MariaDB).
    pub anonymous_blocks: bool,
}

/// How parameters are written in statements sent to the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholders {
    /// `$1, $2, ...`: portable `?` are numbered, `??` is a literal `?` (jsonb operators), and a
    /// statement may use `$n` itself (PostgreSQL).
    Numbered,
    /// `?` as written (MySQL).
    Question,
    /// `?` as written; SQLite's other styles (`?1`, `:name`, `@name`, `$name`) are refused, because
    /// dbmigrate's parameters are positional.
    QuestionOnly,
}

/// What a database can store exactly of the values data steps move (anything else is refused before
/// a statement is sent, naming the row and column or the parameter).
#[derive(Debug, Clone, Copy)]
pub struct ValueRules {
    /// NaN in a float column: stored, refused by the server, or (SQLite) silently stored as NULL.
    pub nan: Nan,
    /// Infinities in a float column.
    pub infinities: bool,
    /// Integers above `i64::MAX`.
    pub integers_above_i64: bool,
    /// `NaN` and `Infinity` as decimals.
    pub special_decimals: bool,
    /// The NUL character in text.
    pub nul_in_text: bool,
    /// Times finer than a microsecond.
    pub sub_microsecond_times: bool,
    /// Dates before year 1.
    pub years_before_one: bool,
}

/// What a database does with a float NaN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nan {
    /// Stored as NaN.
    Stored,
    /// Refused by the server.
    Refused,
    /// Stored as NULL without an error (SQLite).
    BecomesNull,
}

/// One database's SQL, as the rest of dbmigrate sees it.
#[derive(Debug)]
pub struct Dialect {
    /// Which database this is, for messages only.
    pub backend: Backend,
    /// The lexer's rules.
    pub lexical: Lexical,
    /// How parameters are written.
    pub placeholders: Placeholders,
    /// The longest identifier kept as written, in bytes (`None`: no limit).
    pub identifier_limit: Option<usize>,
    /// The quotes around an identifier (opening, closing; a closing one inside is doubled).
    pub identifier_quotes: (char, char),
    /// Unquoted identifiers are folded to lowercase, so a quoted name that must denote the same
    /// table as an unquoted one is folded too (PostgreSQL).
    pub folds_identifiers_to_lowercase: bool,
    /// Identifiers compare without regard to case (MySQL table names on most systems, SQLite).
    pub case_insensitive_identifiers: bool,
    /// DDL takes part in transactions, so a failed revision leaves nothing behind.
    pub transactional_ddl: bool,
    /// The statement that opens a revision's transaction.
    pub begin: &'static str,
    /// The type a 64-bit integer is cast to (`CAST(x AS ...)`).
    pub bigint_cast: &'static str,
    /// The type of the side table's 64-bit columns.
    pub bigint_column: &'static str,
    /// The type a value is cast to for text (`CAST(x AS ...)`): MySQL's CAST has no TEXT.
    pub text_cast: &'static str,
    /// Text compared byte for byte, as `RunState::parse` compares (MySQL's default collation would
    /// take `APPLIED` for `applied`).
    pub binary_comparison: fn(&str) -> String,
    /// The clause that turns an `INSERT` of the side table into an upsert of the given columns.
    pub upsert: fn(&[&str]) -> String,
    /// The current UTC time as RFC 3339, computed by the database (for printed scripts).
    pub now_rfc3339: &'static str,
    /// Writes a string literal.
    pub string_literal: fn(&str) -> String,
    /// The leading keywords of a statement that starts, ends or hands over a transaction, given
    /// the statement's first three words in upper case.
    pub transaction_control: fn([&str; 3]) -> Option<String>,
    /// Whether a statement commits the open transaction around it by itself (MySQL's DDL), given
    /// its first two words in upper case.
    pub commits_implicitly: fn([&str; 2]) -> bool,
    /// The largest number of parameters one statement may bind.
    pub parameter_limit: usize,
    /// What it stores exactly.
    pub values: ValueRules,
    /// Some statements commit the open transaction by themselves (MySQL's DDL): revisions holding
    /// them run statement by statement with their progress recorded.
    pub implicit_commits: bool,
    /// Bulk inserts go through `COPY ... FROM STDIN` (one statement, so all rows or none).
    pub copy_from_stdin: bool,
    /// The placeholder for an exact decimal compared with a column: MySQL compares a string
    /// parameter with a `DECIMAL` column as floating point, so it is cast back to `DECIMAL`.
    pub decimal_parameter: &'static str,
    /// What the runner may rely on.
    pub runner: RunnerTraits,
}

/// How the runner sends revisions to this database.
#[derive(Debug, Clone, Copy)]
pub struct RunnerTraits {
    /// Consecutive revisions share one transaction, each in a savepoint: a commit is a disk sync
    /// here, and revisions on one machine's file gain nothing from shorter transactions (SQLite).
    pub groups_revisions: bool,
    /// A revision's statements, its history rows and its `COMMIT` go to the server as one message
    /// (PostgreSQL's simple query protocol runs them in order and stops at the first error).
    pub one_message_per_revision: bool,
    /// Execution times are written once, when a run ends, rather than with each revision.
    pub writes_times_at_the_end: bool,
    /// A transactional revision's statements go as one batch, the database stopping at the first
    /// that fails and saying how many completed (otherwise one by one).
    pub batches_transactional_statements: bool,
    /// The connection runs in this process (SQLite): there is no network to lose or stall, and a
    /// statement cannot be abandoned half-way.
    pub in_process: bool,
    /// An SQL expression for the milliseconds since the batch it is in started, given the
    /// milliseconds spent before the batch (for a revision's execution time recorded in the same
    /// batch); `None` where batches record no time.
    pub batch_elapsed_ms: Option<fn(u128) -> String>,
    /// The statement that a batch begins with so that `batch_elapsed_ms` can measure from it.
    pub batch_start_marker: Option<&'static str>,
    /// Indexes that are built outside a transaction and left behind, marked invalid, when the
    /// build fails (`CREATE INDEX CONCURRENTLY` on PostgreSQL).
    pub leaves_invalid_concurrent_indexes: bool,
    /// Parameter types are part of how the server caches a statement, so a statement's text must
    /// say them (PostgreSQL reuses a prepared statement by its text).
    pub statement_text_names_parameter_types: bool,
}

impl Dialect {
    /// `name` quoted as an identifier, denoting the same table as refinery's unquoted `name`.
    pub fn quote_identifier(&self, name: &str) -> String {
        let (open, close) = self.identifier_quotes;
        let name = if self.folds_identifiers_to_lowercase {
            name.to_ascii_lowercase()
        } else {
            name.to_string()
        };
        let doubled = format!("{close}{close}");
        format!("{open}{}{close}", name.replace(close, &doubled))
    }

    /// `CAST(expr AS <64-bit integer>)`.
    pub fn bigint(&self, expr: &str) -> String {
        format!("CAST({expr} AS {})", self.bigint_cast)
    }

    /// Whether a statement commits implicitly, read from its first words.
    pub fn statement_commits_implicitly(&self, first_words: [&str; 2]) -> bool {
        (self.commits_implicitly)(first_words)
    }
}

/// A string literal with quotes doubled, for dialects without backslash escapes.
pub(super) fn standard_string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `column = excluded.column`, for dialects with `ON CONFLICT`.
pub(super) fn on_conflict_upsert(columns: &[&str]) -> String {
    let assignments: Vec<String> = columns
        .iter()
        .map(|column| format!("{column} = excluded.{column}"))
        .collect();
    format!(
        "ON CONFLICT (version) DO UPDATE SET {}",
        assignments.join(", ")
    )
}

/// No statement commits implicitly.
pub(super) fn never_commits_implicitly(_: [&str; 2]) -> bool {
    false
}

/// Text compared as the column's collation compares it.
pub(super) fn plain_comparison(expr: &str) -> String {
    expr.to_string()
}

/// The transaction control all three dialects share: `BEGIN`, `COMMIT`, `ROLLBACK` (not `ROLLBACK
/// TO` a savepoint) and their `PREPARED` forms.
pub(super) fn common_transaction_control(words: [&str; 3]) -> Option<String> {
    let to_savepoint =
        words[1] == "TO" || (matches!(words[1], "WORK" | "TRANSACTION") && words[2] == "TO");
    let prepared = words[1] == "PREPARED";
    let keywords = match words[0] {
        "BEGIN" => "BEGIN",
        "COMMIT" if prepared => "COMMIT PREPARED",
        "COMMIT" => "COMMIT",
        "ROLLBACK" if to_savepoint => return None,
        "ROLLBACK" if prepared => "ROLLBACK PREPARED",
        "ROLLBACK" => "ROLLBACK",
        _ => return None,
    };
    Some(keywords.to_string())
}
