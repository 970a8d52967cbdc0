//! SQLite: its dialect, and (with the `sqlite` feature) its live connections: the lock file beside
//! the database, the watch over transactions SQLite abandons by itself, and savepoint groups.

#[cfg(feature = "sqlite")]
mod codec;
#[cfg(feature = "sqlite")]
mod driver;
#[cfg(feature = "sqlite")]
pub(crate) use driver::*;

use super::Backend;
use super::dialect::{
    Dialect, Lexical, Nan, Placeholders, RunnerTraits, ValueRules, common_transaction_control,
    never_commits_implicitly, on_conflict_upsert, plain_comparison, standard_string_literal,
};

/// SQLite's SQL.
pub(crate) static DIALECT: Dialect = Dialect {
    backend: Backend::Sqlite,
    lexical: Lexical {
        nested_block_comments: false,
        backslash_escapes: false,
        double_quoted_strings: false,
        backtick_identifiers: true,
        bracket_identifiers: true,
        dollar_quotes: false,
        hash_comments: false,
        executable_comments: false,
        anonymous_blocks: false,
    },
    placeholders: Placeholders::QuestionOnly,
    identifier_limit: None,
    identifier_quotes: ('"', '"'),
    folds_identifiers_to_lowercase: false,
    case_insensitive_identifiers: true,
    transactional_ddl: true,
    // IMMEDIATE takes SQLite's write lock up front, so a concurrent writer waits for it (busy
    // timeout) instead of failing when the transaction first writes.
    begin: "BEGIN IMMEDIATE",
    bigint_cast: "INTEGER",
    bigint_column: "INTEGER",
    text_cast: "TEXT",
    binary_comparison: plain_comparison,
    upsert: on_conflict_upsert,
    now_rfc3339: "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
    string_literal: standard_string_literal,
    transaction_control,
    commits_implicitly: never_commits_implicitly,
    parameter_limit: 32_766,
    values: ValueRules {
        nan: Nan::BecomesNull,
        infinities: true,
        integers_above_i64: false,
        special_decimals: false,
        nul_in_text: true,
        // Kept as text, exactly as written.
        sub_microsecond_times: true,
        years_before_one: true,
    },
    implicit_commits: false,
    copy_from_stdin: false,
    decimal_parameter: "?",
    runner: RunnerTraits {
        // A commit is a journal write and several fsyncs: a fresh database's 1,000 revisions ran
        // ten times slower with one transaction each than with the same SQL in one.
        groups_revisions: true,
        one_message_per_revision: false,
        writes_times_at_the_end: false,
        batches_transactional_statements: true,
        in_process: true,
        batch_elapsed_ms: None,
        batch_start_marker: None,
        leaves_invalid_concurrent_indexes: false,
        statement_text_names_parameter_types: false,
    },
};

fn transaction_control(words: [&str; 3]) -> Option<String> {
    match words[0] {
        "END" => Some("END".to_string()),
        _ => common_transaction_control(words),
    }
}
