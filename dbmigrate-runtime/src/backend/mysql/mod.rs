//! MySQL and MariaDB: their dialect (DDL commits implicitly, backslash escapes, backticks), and (with
//! the `mysql` feature) their live connections: the `GET_LOCK` lock, and how a revision goes to the
//! server statement by statement where it must.

#[cfg(feature = "mysql")]
mod codec;
#[cfg(feature = "mysql")]
mod driver;
#[cfg(feature = "mysql")]
pub(crate) use driver::*;

use super::Backend;
use super::dialect::{
    Dialect, Lexical, Nan, Placeholders, RunnerTraits, ValueRules, common_transaction_control,
};

/// MySQL's and MariaDB's SQL.
pub(crate) static DIALECT: Dialect = Dialect {
    backend: Backend::MySql,
    lexical: Lexical {
        nested_block_comments: false,
        backslash_escapes: true,
        double_quoted_strings: true,
        backtick_identifiers: true,
        bracket_identifiers: false,
        dollar_quotes: false,
        hash_comments: true,
        executable_comments: true,
        anonymous_blocks: true,
    },
    placeholders: Placeholders::Question,
    // Longer names are refused.
    identifier_limit: Some(64),
    identifier_quotes: ('`', '`'),
    folds_identifiers_to_lowercase: false,
    case_insensitive_identifiers: true,
    transactional_ddl: false,
    begin: "START TRANSACTION",
    bigint_cast: "SIGNED",
    bigint_column: "BIGINT",
    text_cast: "CHAR",
    binary_comparison: |expr| format!("BINARY {expr}"),
    upsert: |columns| {
        let assignments: Vec<String> = columns
            .iter()
            .map(|column| format!("{column} = VALUES({column})"))
            .collect();
        format!("ON DUPLICATE KEY UPDATE {}", assignments.join(", "))
    },
    now_rfc3339: "DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ')",
    // Backslashes in literals are escapes unless NO_BACKSLASH_ESCAPES is set.
    string_literal: |text| format!("'{}'", text.replace('\'', "''").replace('\\', "\\\\")),
    transaction_control,
    commits_implicitly,
    parameter_limit: 65_535,
    values: ValueRules {
        nan: Nan::Refused,
        infinities: false,
        integers_above_i64: true,
        special_decimals: false,
        nul_in_text: true,
        sub_microsecond_times: false,
        years_before_one: false,
    },
    implicit_commits: true,
    copy_from_stdin: false,
    decimal_parameter: "CAST(? AS DECIMAL(65,30))",
    runner: RunnerTraits {
        groups_revisions: false,
        one_message_per_revision: false,
        writes_times_at_the_end: false,
        batches_transactional_statements: false,
        in_process: false,
        // The batch's first statement sets the variable (see `batch_start_marker`).
        batch_elapsed_ms: Some(|before_micros| {
            format!(
                "({before_micros} + TIMESTAMPDIFF(MICROSECOND, @dbmigrate_batch_started, SYSDATE(6))) DIV 1000"
            )
        }),
        batch_start_marker: Some("SET @dbmigrate_batch_started = SYSDATE(6)"),
        leaves_invalid_concurrent_indexes: false,
        statement_text_names_parameter_types: false,
    },
};

fn transaction_control(words: [&str; 3]) -> Option<String> {
    match words[0] {
        // MariaDB's anonymous block is not a transaction.
        "BEGIN" if words[1] == "NOT" && words[2] == "ATOMIC" => None,
        "START" if words[1] == "TRANSACTION" => Some("START TRANSACTION".to_string()),
        "XA" => Some(format!("XA {}", words[1]).trim_end().to_string()),
        _ => common_transaction_control(words),
    }
}

/// Whether MySQL/MariaDB commits the open transaction around a statement starting with these
/// words (DDL, account management, table maintenance, explicit transaction control).
fn commits_implicitly(words: [&str; 2]) -> bool {
    match words[0] {
        // Temporary tables are the documented exception.
        "CREATE" | "DROP" => words[1] != "TEMPORARY",
        "ALTER" | "RENAME" | "TRUNCATE" | "LOCK" | "UNLOCK" | "GRANT" | "REVOKE" | "ANALYZE"
        | "OPTIMIZE" | "REPAIR" | "CHECK" | "INSTALL" | "UNINSTALL" | "FLUSH" | "RESET"
        | "BEGIN" | "START" | "COMMIT" | "ROLLBACK" | "LOAD" | "CACHE" => true,
        "SET" => words[1] == "PASSWORD" || words[1] == "AUTOCOMMIT",
        _ => false,
    }
}
