//! SQL text as dbmigrate needs to see it: split into statements (with their line numbers), sorted into
//! those that MySQL commits implicitly, and with portable `?` placeholders rewritten for PostgreSQL.
//!
//! This is a lexer, not a parser: it knows where strings, quoted identifiers, comments, dollar quotes
//! and `BEGIN ... END` bodies start and end, which is all that splitting needs.

mod lexer;
pub mod placeholders;
pub mod script;

use crate::backend::Backend;

pub use lexer::Token;
pub use placeholders::placeholders;

/// One statement of a revision, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The statement text without its terminating semicolon, surrounding whitespace or trailing comments.
    pub text: String,
    /// 1-based line in the section where the statement starts (add the section's first line - 1 for the file).
    pub line: u32,
}

impl Statement {
    /// Whether MySQL/MariaDB commits the open transaction around this statement, so it cannot be
    /// rolled back (DDL, account management, table maintenance, explicit transaction control).
    pub fn commits_implicitly_on_mysql(&self) -> bool {
        commits_implicitly_on_mysql(&self.text)
    }
}

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

/// Splits SQL into statements on semicolons that end a statement, never on one inside a string,
/// quoted identifier, comment, dollar-quoted body or trigger/procedure body. Statements holding only
/// comments are dropped.
pub fn split(sql: &str, backend: Backend) -> Vec<Statement> {
    let mut statements = Vec::new();
    let mut start: Option<(usize, u32)> = None;
    let mut end = 0;
    let mut line: u32 = 1;
    let mut offset = 0;
    // Inside CREATE TRIGGER/PROCEDURE/FUNCTION/EVENT, semicolons inside BEGIN ... END belong to the body.
    let mut routine = false;
    let mut depth: u32 = 0;
    let mut words_in_statement = 0;
    let mut first_word = String::new();
    let mut previous_word = String::new();
    for token in lexer::tokens(sql, backend) {
        let length = token.len();
        let text = &sql[offset..offset + length];
        let newlines = u32::try_from(text.matches('\n').count()).unwrap_or(u32::MAX);
        match token {
            Token::Semicolon if depth == 0 => {
                if let Some((from, first_line)) = start.take() {
                    statements.push(Statement {
                        text: sql[from..end].to_string(),
                        line: first_line,
                    });
                }
                routine = false;
                words_in_statement = 0;
                first_word.clear();
                previous_word.clear();
            }
            Token::Whitespace(_) | Token::Comment(_) => {}
            _ => {
                if start.is_none() {
                    start = Some((offset, line));
                }
                end = offset + length;
                if let Token::Word(word) = token {
                    let upper = word.to_ascii_uppercase();
                    words_in_statement += 1;
                    if words_in_statement == 1 {
                        first_word.clone_from(&upper);
                    } else if words_in_statement <= 6
                        && first_word == "CREATE"
                        && matches!(
                            upper.as_str(),
                            "TRIGGER" | "PROCEDURE" | "FUNCTION" | "EVENT"
                        )
                    {
                        routine = true;
                    }
                    if routine {
                        match upper.as_str() {
                            // `END CASE` closes the CASE counted when it opened.
                            "CASE" if previous_word == "END" => {}
                            // `END IF`, `END LOOP`...: those blocks were never counted as opened, so
                            // give back what the END took.
                            "IF" | "LOOP" | "WHILE" | "REPEAT" if previous_word == "END" => {
                                depth += 1
                            }
                            "BEGIN" | "CASE" => depth += 1,
                            "END" => depth = depth.saturating_sub(1),
                            _ => {}
                        }
                    }
                    previous_word = upper;
                }
            }
        }
        line = line.saturating_add(newlines);
        offset += length;
    }
    if let Some((from, first_line)) = start {
        statements.push(Statement {
            text: sql[from..end].to_string(),
            line: first_line,
        });
    }
    statements
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str, backend: Backend) -> Vec<(String, u32)> {
        split(sql, backend)
            .into_iter()
            .map(|s| (s.text, s.line))
            .collect()
    }

    #[test]
    fn splits_on_semicolons_and_keeps_line_numbers() {
        let sql = "CREATE TABLE a(id int);\n\n-- a comment; with a semicolon\nINSERT INTO a VALUES (1);\nSELECT 2";
        assert_eq!(
            texts(sql, Backend::Postgres),
            [
                ("CREATE TABLE a(id int)".to_string(), 1),
                ("INSERT INTO a VALUES (1)".to_string(), 4),
                ("SELECT 2".to_string(), 5)
            ]
        );
    }

    #[test]
    fn never_splits_inside_strings_identifiers_or_comments() {
        let sql = "INSERT INTO t VALUES ('a;b', 'it''s;', \"c;d\"); /* x; y */ SELECT 1;";
        assert_eq!(texts(sql, Backend::Postgres).len(), 2);
        let mysql = "INSERT INTO t VALUES ('a\\';b', `c;d`); # comment; here\nSELECT 1;";
        assert_eq!(
            texts(mysql, Backend::MySql),
            [
                ("INSERT INTO t VALUES ('a\\';b', `c;d`)".to_string(), 1),
                ("SELECT 1".to_string(), 2)
            ]
        );
    }

    #[test]
    fn keeps_dollar_quoted_bodies_whole() {
        let sql = "CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql;\nSELECT f();";
        let statements = texts(sql, Backend::Postgres);
        assert_eq!(statements.len(), 2);
        assert!(statements[0].0.ends_with("LANGUAGE plpgsql"));
    }

    #[test]
    fn keeps_trigger_and_procedure_bodies_whole() {
        let sqlite = "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE a SET n = CASE WHEN n > 0 THEN n END;\n  DELETE FROM b;\nEND;\nSELECT 1;";
        let statements = texts(sqlite, Backend::Sqlite);
        assert_eq!(statements.len(), 2, "{statements:?}");
        assert!(statements[0].0.ends_with("END"));
        let mysql = "CREATE PROCEDURE p() BEGIN\n IF 1 THEN SELECT 1; END IF;\n WHILE 0 DO SELECT 2; END WHILE;\nEND;\nCALL p();";
        assert_eq!(texts(mysql, Backend::MySql).len(), 2);
    }

    #[test]
    fn a_file_of_only_comments_has_no_statements() {
        assert!(split("-- nothing\n/* at all */\n", Backend::Sqlite).is_empty());
        assert!(split("  ;\n;", Backend::Sqlite).is_empty());
    }

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
