//! SQL text as dbmigrate needs to see it: split into statements (with their line numbers), sorted into
//! those that MySQL commits implicitly, checked for what would make a revision run other than as
//! written ([`lint`]), and with portable `?` placeholders rewritten for PostgreSQL.
//!
//! This is a lexer, not a parser: it knows where strings, quoted identifiers, comments, dollar quotes
//! and `BEGIN ... END` bodies start and end, which is all that splitting needs.

mod lexer;
pub mod lint;
pub mod placeholders;
pub mod script;
mod split;

use crate::backend::Backend;

pub use lexer::{Construct, Token};
pub use placeholders::placeholders;
pub use split::{Span, Statement, has_statement, spans, split};

/// Whether the statement `sql` starts with is one MySQL/MariaDB commits implicitly. Only its first
/// words are read, so this is cheap even on a long multi-row `INSERT`.
pub fn commits_implicitly_on_mysql(sql: &str) -> bool {
    let words: Vec<String> = lexer::tokens(sql, Backend::MySql)
        .filter_map(|t| match t {
            Token::Word(w) => Some(w.to_ascii_uppercase()),
            _ => None,
        })
        .take(2)
        .collect();
    let word = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    match word(0) {
        // Temporary tables are the documented exception.
        "CREATE" | "DROP" => word(1) != "TEMPORARY",
        "ALTER" | "RENAME" | "TRUNCATE" | "LOCK" | "UNLOCK" | "GRANT" | "REVOKE" | "ANALYZE"
        | "OPTIMIZE" | "REPAIR" | "CHECK" | "INSTALL" | "UNINSTALL" | "FLUSH" | "RESET"
        | "BEGIN" | "START" | "COMMIT" | "ROLLBACK" | "LOAD" | "CACHE" => true,
        "SET" => word(1) == "PASSWORD" || word(1) == "AUTOCOMMIT",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_statements_mysql_commits() {
        let commits = |sql: &str| split(sql, Backend::MySql)[0].commits_implicitly_on_mysql();
        assert!(commits("CREATE TABLE t(id int)"));
        assert!(commits("alter table t add column x int"));
        assert!(!commits("CREATE TEMPORARY TABLE t(id int)"));
        assert!(!commits("INSERT INTO t VALUES (1)"));
        assert!(!commits("/* c */ UPDATE t SET x = 1"));
    }
}
