//! SQL text as dbmigrate needs to see it: split into statements (with their line numbers), sorted into
//! those that MySQL commits implicitly, checked for what would make a revision run other than as
//! written ([`lint`]), and with portable `?` placeholders rewritten for PostgreSQL.
//!
//! This is a lexer, not a parser: it knows where strings, quoted identifiers, comments, dollar quotes
//! and `BEGIN ... END` bodies start and end, which is all that splitting needs.

mod lexer;
pub mod lint;
pub mod script;
mod split;

use crate::backend::Backend;

pub use lexer::{Construct, Token};
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

/// Rewrites portable `?` placeholders to PostgreSQL's `$1, $2, ...`; other backends take `?` as is.
/// Question marks inside strings, identifiers and comments are left alone.
pub fn placeholders(sql: &str, backend: Backend) -> String {
    if backend != Backend::Postgres {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut offset = 0;
    let mut index = 0;
    for token in lexer::tokens(sql, backend) {
        let length = token.len();
        if matches!(token, Token::Question) {
            index += 1;
            out.push('$');
            out.push_str(&index.to_string());
        } else {
            out.push_str(&sql[offset..offset + length]);
        }
        offset += length;
    }
    out
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

    #[test]
    fn rewrites_placeholders_for_postgres_only() {
        let sql = "SELECT '?', \"?\" FROM t WHERE a = ? AND b = ? -- ?";
        assert_eq!(
            placeholders(sql, Backend::Postgres),
            "SELECT '?', \"?\" FROM t WHERE a = $1 AND b = $2 -- ?"
        );
        assert_eq!(placeholders(sql, Backend::MySql), sql);
    }
}
