//! PostgreSQL: its dialect, and (with the `postgres` feature) its live connections: the advisory
//! lock, `COPY`, and how a revision goes to the server.

#[cfg(feature = "postgres")]
mod codec;
#[cfg(feature = "postgres")]
mod driver;
#[cfg(feature = "postgres")]
pub(crate) use driver::*;

use super::Backend;
use super::dialect::{
    Dialect, Lexical, Nan, Placeholders, RunnerTraits, ValueRules, common_transaction_control,
    never_commits_implicitly, on_conflict_upsert, plain_comparison, standard_string_literal,
};

/// PostgreSQL's SQL.
pub(crate) static DIALECT: Dialect = Dialect {
    backend: Backend::Postgres,
    lexical: Lexical {
        nested_block_comments: true,
        backslash_escapes: false,
        double_quoted_strings: false,
        backtick_identifiers: false,
        bracket_identifiers: false,
        dollar_quotes: true,
        hash_comments: false,
        executable_comments: false,
        anonymous_blocks: false,
    },
    placeholders: Placeholders::Numbered,
    // Longer names are truncated to 63 bytes: a long `<table>_dbmigrate` would silently name the
    // history table itself.
    identifier_limit: Some(63),
    identifier_quotes: ('"', '"'),
    folds_identifiers_to_lowercase: true,
    case_insensitive_identifiers: false,
    transactional_ddl: true,
    begin: "BEGIN",
    bigint_cast: "BIGINT",
    bigint_column: "BIGINT",
    text_cast: "TEXT",
    binary_comparison: plain_comparison,
    upsert: on_conflict_upsert,
    now_rfc3339: "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
    string_literal: standard_string_literal,
    transaction_control,
    commits_implicitly: never_commits_implicitly,
    parameter_limit: 65_535,
    values: ValueRules {
        nan: Nan::Stored,
        infinities: true,
        integers_above_i64: true,
        special_decimals: true,
        nul_in_text: false,
        sub_microsecond_times: false,
        years_before_one: true,
    },
    implicit_commits: false,
    copy_from_stdin: true,
    decimal_parameter: "?",
    runner: RunnerTraits {
        groups_revisions: false,
        one_message_per_revision: true,
        writes_times_at_the_end: true,
        batches_transactional_statements: true,
        in_process: false,
        // `statement_timestamp()` is when the server received the batch's message.
        batch_elapsed_ms: Some(|before_micros| {
            format!(
                "({before_micros} + CAST(EXTRACT(EPOCH FROM clock_timestamp() - statement_timestamp()) * 1000000 AS BIGINT)) / 1000"
            )
        }),
        batch_start_marker: None,
        leaves_invalid_concurrent_indexes: true,
        statement_text_names_parameter_types: true,
    },
};

fn transaction_control(words: [&str; 3]) -> Option<String> {
    let keywords = match words[0] {
        "START" if words[1] == "TRANSACTION" => "START TRANSACTION",
        "END" => "END",
        "ABORT" => "ABORT",
        "PREPARE" if words[1] == "TRANSACTION" => "PREPARE TRANSACTION",
        _ => return common_transaction_control(words),
    };
    Some(keywords.to_string())
}
