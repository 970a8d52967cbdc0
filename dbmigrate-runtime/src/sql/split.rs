//! Splitting SQL into statements, per dialect, as a partition of the text: every byte is either part
//! of exactly one statement or whitespace, a closed comment or a `;` between statements. Nothing a
//! server would run is ever dropped, not even text after an unterminated comment or string: that text
//! stays in the statement it belongs to (and `check` reports it, see [`super::lint`]).

use std::ops::Range;

use super::lexer::{self, Token};
use crate::backend::Backend;

/// One statement of a revision, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The statement text without its terminating semicolon, surrounding whitespace or trailing comments.
    pub text: String,
    /// 1-based line in the section where the statement starts (add the section's first line - 1 for the file).
    pub line: u32,
}

impl Statement {
    /// Whether the database commits the open transaction around this statement, so it cannot be
    /// rolled back (MySQL's DDL, account management, table maintenance, explicit transaction
    /// control; nothing on PostgreSQL and SQLite).
    #[cfg_attr(not(feature = "__apply"), allow(dead_code))]
    pub(crate) fn commits_implicitly(&self, dialect: &crate::backend::dialect::Dialect) -> bool {
        super::commits_implicitly(&self.text, dialect)
    }
}

/// Where a statement is in the text it was split from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// Byte range: from the statement's first token to the end of its last one (no semicolon).
    pub range: Range<usize>,
    /// 1-based line where it starts.
    pub line: u32,
}

/// Splits SQL into statements on semicolons that end a statement, never on one inside a string,
/// quoted identifier, comment, dollar-quoted body, parentheses or trigger/procedure body. Pieces
/// holding only whitespace and comments are not statements.
pub fn split(sql: &str, backend: Backend) -> Vec<Statement> {
    spans(sql, backend)
        .into_iter()
        .map(|span| Statement {
            text: sql[span.range].to_string(),
            line: span.line,
        })
        .collect()
}

/// The statements of `sql` as byte ranges; what lies between them is only whitespace, closed
/// comments and semicolons.
pub fn spans(sql: &str, backend: Backend) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut block = Block::default();
    let mut start: Option<(usize, u32)> = None;
    let mut end = 0;
    let mut line: u32 = 1;
    let mut offset = 0;
    for token in lexer::tokens(sql, backend) {
        let length = token.len();
        let text = &sql[offset..offset + length];
        let newlines = u32::try_from(text.matches('\n').count()).unwrap_or(u32::MAX);
        match token {
            Token::Semicolon if block.ends_at_semicolon() => {
                if let Some((from, first_line)) = start.take() {
                    spans.push(Span {
                        range: from..end,
                        line: first_line,
                    });
                }
                block = Block::default();
            }
            token if token.is_trivia() => {}
            token => {
                if start.is_none() {
                    start = Some((offset, line));
                }
                end = offset + length;
                block.see(token, backend);
            }
        }
        line = line.saturating_add(newlines);
        offset += length;
    }
    if let Some((from, first_line)) = start {
        spans.push(Span {
            range: from..end,
            line: first_line,
        });
    }
    spans
}

/// Whether `sql` holds a statement at all, not only whitespace, comments and semicolons; stops at
/// the first token a server would run.
pub fn has_statement(sql: &str, backend: Backend) -> bool {
    lexer::tokens(sql, backend).any(|token| !token.is_trivia() && token != Token::Semicolon)
}

/// What decides whether a `;` ends the statement: open parentheses, and `BEGIN ... END` bodies of
/// routines (triggers, procedures, functions, events, MariaDB's `BEGIN NOT ATOMIC` blocks, and
/// PostgreSQL's `BEGIN ATOMIC` function bodies), whose statements end with semicolons of their own.
#[derive(Default)]
struct Block {
    words: u32,
    first_word: String,
    previous_word: String,
    /// Whether a `(` was seen: `CREATE TABLE t (event INT)` is not a routine.
    seen_paren: bool,
    parens: u32,
    routine: bool,
    depth: u32,
}

impl Block {
    fn ends_at_semicolon(&self) -> bool {
        self.parens == 0 && self.depth == 0
    }

    fn see(&mut self, token: Token<'_>, backend: Backend) {
        match token {
            Token::Other("(") => {
                self.seen_paren = true;
                self.parens += 1;
            }
            Token::Other(")") => self.parens = self.parens.saturating_sub(1),
            Token::Word(word) => self.word(word.to_ascii_uppercase(), backend),
            _ => {}
        }
    }

    fn word(&mut self, upper: String, backend: Backend) {
        self.words += 1;
        if self.words == 1 {
            self.first_word.clone_from(&upper);
        } else if self.words <= 8
            && !self.seen_paren
            && self.first_word == "CREATE"
            && matches!(
                upper.as_str(),
                "TRIGGER" | "PROCEDURE" | "FUNCTION" | "EVENT"
            )
        {
            self.routine = true;
        } else if backend.dialect().lexical.anonymous_blocks
            && self.words == 3
            && self.first_word == "BEGIN"
            && self.previous_word == "NOT"
            && upper == "ATOMIC"
        {
            // MariaDB's anonymous block: the BEGIN that opened the statement opens its body.
            self.routine = true;
            self.depth += 1;
        }
        if self.routine {
            match upper.as_str() {
                // `END CASE` closes the CASE counted when it opened.
                "CASE" if self.previous_word == "END" => {}
                // `END IF`, `END LOOP`...: those blocks were never counted as opened, so give back
                // what the END took.
                "IF" | "LOOP" | "WHILE" | "REPEAT" if self.previous_word == "END" => {
                    self.depth += 1
                }
                "BEGIN" | "CASE" => self.depth += 1,
                "END" => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
        self.previous_word = upper;
    }
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
        let atomic = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;\nSELECT f();";
        assert_eq!(texts(atomic, Backend::Postgres).len(), 2);
        let mariadb = "BEGIN NOT ATOMIC\n  DECLARE x INT DEFAULT 1;\n  SELECT x;\nEND;\nSELECT 2;";
        assert_eq!(texts(mariadb, Backend::MySql).len(), 2);
    }

    #[test]
    fn a_table_with_routine_words_in_its_columns_is_no_routine() {
        let sql =
            "CREATE TABLE calendar (event INT, begin_at INT);\nINSERT INTO calendar VALUES (1, 2);";
        assert_eq!(texts(sql, Backend::MySql).len(), 2);
    }

    #[test]
    fn never_splits_inside_parentheses() {
        let sql = "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2));\nSELECT 1;";
        assert_eq!(texts(sql, Backend::Postgres).len(), 2);
    }

    #[test]
    fn a_file_of_only_comments_has_no_statements() {
        for sql in ["-- nothing\n/* at all */\n", "  ;\n;", ""] {
            assert!(split(sql, Backend::Sqlite).is_empty(), "{sql:?}");
            assert!(!has_statement(sql, Backend::Sqlite), "{sql:?}");
        }
        assert!(has_statement("/* a */ ; SELECT 1", Backend::Sqlite));
        assert!(has_statement("/* unclosed", Backend::Sqlite));
    }

    #[test]
    fn an_unterminated_comment_keeps_what_follows_it_in_a_statement() {
        let sql = "CREATE TABLE a (id int);\n/* a /* b */\nCREATE TABLE b (id int);\n";
        let postgres = texts(sql, Backend::Postgres);
        assert_eq!(postgres.len(), 2, "{postgres:?}");
        assert_eq!(
            postgres[1],
            ("/* a /* b */\nCREATE TABLE b (id int);\n".to_string(), 2)
        );
        assert_eq!(
            texts(sql, Backend::MySql)[1],
            ("CREATE TABLE b (id int)".to_string(), 3)
        );
    }

    #[test]
    fn mysql_executable_comments_are_statements() {
        let sql = "/*!40101 SET NAMES utf8mb4 */;\nSELECT 1;";
        assert_eq!(texts(sql, Backend::MySql).len(), 2);
        assert_eq!(texts(sql, Backend::Sqlite).len(), 1);
    }
}

#[cfg(test)]
mod proptests {
    //! Splitting is a partition of the text: whatever SQL-like text comes in, in every dialect, no
    //! token a server would run falls outside a statement.

    use proptest::prelude::*;

    use super::*;

    /// Text built from the pieces that make splitting hard: strings with escapes and doubled
    /// quotes, `E''` strings, dollar quotes with tags, quoted identifiers, line and nested block
    /// comments, routine bodies, parentheses, and stray quotes and comment openers that leave
    /// something unterminated.
    fn sql_like() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just(";".to_string()),
            Just("\n".to_string()),
            Just(" ".to_string()),
            Just("SELECT 1".to_string()),
            Just("CREATE TABLE t (id int)".to_string()),
            Just("CREATE TRIGGER tr AFTER INSERT ON t BEGIN".to_string()),
            Just("CREATE FUNCTION f() RETURNS int AS".to_string()),
            Just("CREATE PROCEDURE p() BEGIN".to_string()),
            Just("BEGIN NOT ATOMIC".to_string()),
            Just("BEGIN".to_string()),
            Just("END".to_string()),
            Just("END IF".to_string()),
            Just("CASE WHEN 1 THEN 2 END".to_string()),
            Just("(".to_string()),
            Just(")".to_string()),
            Just("'it''s; fine'".to_string()),
            Just("'a\\'b;'".to_string()),
            Just("E'x\\'y;'".to_string()),
            Just("\"quoted;id\"".to_string()),
            Just("`back;tick`".to_string()),
            Just("[bra;cket]".to_string()),
            Just("$$ body; $$".to_string()),
            Just("$tag$ a $$ b; $tag$".to_string()),
            Just("-- line; comment\n".to_string()),
            Just("# hash; comment\n".to_string()),
            Just("/* block; */".to_string()),
            Just("/* a /* nested; */ b */".to_string()),
            Just("/*! executable; */".to_string()),
            Just("1--1".to_string()),
            Just("'".to_string()),
            Just("\"".to_string()),
            Just("$x$".to_string()),
            Just("/*".to_string()),
            Just("*/".to_string()),
            "[a-z0-9 ;'\"`$()*/#\\-\\\\\n]{0,8}",
            "\\PC{0,4}",
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
    }

    /// Whether a block comment closes exactly at its last byte, read as the server reads it:
    /// left to right, each `/*` opening one more level where comments nest.
    fn closes_at_its_end(comment: &str, nested: bool) -> bool {
        let bytes = comment.as_bytes();
        let (mut depth, mut i) = (0usize, 0);
        while i < bytes.len() {
            if bytes[i..].starts_with(b"/*") && (nested || depth == 0) {
                depth += 1;
                i += 2;
            } else if bytes[i..].starts_with(b"*/") && depth > 0 {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i == bytes.len();
                }
            } else {
                i += 1;
            }
        }
        false
    }

    fn check_partition(sql: &str, backend: Backend) -> Result<(), TestCaseError> {
        let spans = spans(sql, backend);
        let mut previous_end = 0;
        for span in &spans {
            prop_assert!(previous_end <= span.range.start && span.range.start < span.range.end);
            prop_assert!(span.range.end <= sql.len());
            previous_end = span.range.end;
        }
        // Every token is wholly inside one statement or wholly outside all of them, and the ones
        // outside are only whitespace, closed comments and semicolons.
        let mut offset = 0;
        for token in lexer::tokens(sql, backend) {
            let range = offset..offset + token.len();
            offset = range.end;
            let inside = spans
                .iter()
                .find(|s| s.range.start < range.end && range.start < s.range.end);
            match inside {
                Some(span) => prop_assert!(
                    span.range.start <= range.start && range.end <= span.range.end,
                    "{token:?} straddles {span:?}"
                ),
                None => {
                    prop_assert!(
                        token.is_trivia() || token == Token::Semicolon,
                        "{token:?} at {range:?} is in no statement: {spans:?}"
                    );
                    // A comment left out is a closed one, never the rest of the file.
                    if let Token::Comment(comment) = token
                        && comment.starts_with("/*")
                    {
                        prop_assert!(
                            closes_at_its_end(
                                comment,
                                backend.dialect().lexical.nested_block_comments
                            ),
                            "unclosed comment {comment:?} dropped"
                        );
                    }
                }
            }
        }
        prop_assert_eq!(offset, sql.len());
        for span in &spans {
            let text = &sql[span.range.clone()];
            let line = u32::try_from(sql[..span.range.start].matches('\n').count()).unwrap() + 1;
            prop_assert_eq!(span.line, line);
            // MySQL's `--` needs a space (or the end) after it: `1--;` is a syntax error, and the
            // statement `1--` cut off before its `;` ends in a comment. Both fail on the server.
            if backend.dialect().lexical.hash_comments && text.ends_with("--") {
                continue;
            }
            // Trimmed: a statement starts and ends with something a server runs.
            let tokens: Vec<Token<'_>> = lexer::tokens(text, backend).collect();
            prop_assert!(!tokens.first().unwrap().is_trivia());
            prop_assert!(!tokens.last().unwrap().is_trivia());
            // A statement reads the same alone as in its file, and stays one statement.
            let alone = split(text, backend);
            prop_assert_eq!(alone.len(), 1, "{:?} splits again: {:?}", text, alone);
            prop_assert_eq!(alone[0].text.as_str(), text);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

        #[test]
        fn splitting_is_a_partition_in_every_dialect(sql in sql_like()) {
            for backend in Backend::ALL {
                check_partition(&sql, backend)?;
            }
        }

        #[test]
        fn arbitrary_text_splits_without_panicking(sql in "\\PC{0,64}") {
            for backend in Backend::ALL {
                check_partition(&sql, backend)?;
            }
        }
    }
}
