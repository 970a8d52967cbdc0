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

/// The first `n` words of a statement, in upper case (empty past its end).
pub(crate) fn first_words<const N: usize>(sql: &str, backend: Backend) -> [String; N] {
    let mut words = lexer::tokens(sql, backend)
        .filter(|t| !t.is_trivia())
        .map(|t| match t {
            Token::Word(w) => w.to_ascii_uppercase(),
            _ => String::new(),
        });
    std::array::from_fn(|_| words.next().unwrap_or_default())
}

/// Whether the database commits the open transaction around the statement `sql` starts with (MySQL's
/// DDL; never on PostgreSQL and SQLite). Only its first words are read, so this is cheap even on a
/// long multi-row `INSERT`.
#[cfg_attr(not(feature = "__apply"), allow(dead_code))]
pub(crate) fn commits_implicitly(sql: &str, dialect: &crate::backend::dialect::Dialect) -> bool {
    let [first, second] = first_words::<2>(sql, dialect.backend);
    dialect.statement_commits_implicitly([&first, &second])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_statements_mysql_commits() {
        let commits = |sql: &str| {
            commits_implicitly(
                &split(sql, Backend::MySql)[0].text,
                Backend::MySql.dialect(),
            )
        };
        assert!(commits("CREATE TABLE t(id int)"));
        assert!(commits("alter table t add column x int"));
        assert!(!commits("CREATE TEMPORARY TABLE t(id int)"));
        assert!(!commits("INSERT INTO t VALUES (1)"));
        assert!(!commits("/* c */ UPDATE t SET x = 1"));
    }
}
