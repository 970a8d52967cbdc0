//! A lexer that tells SQL code from strings, quoted identifiers and comments, per dialect.
//!
//! Tokens cover the input exactly (concatenated, they give it back), so callers can map positions to
//! lines. A string, quoted identifier, dollar quote or block comment that the input ends inside is a
//! token of its own, [`Token::Unterminated`]: it is never mistaken for a comment that swallows the
//! rest of the file, and `check` reports it at the line where it opens.

use std::fmt;

use crate::backend::Backend;
use crate::backend::dialect::Lexical;

/// A piece of SQL text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token<'a> {
    /// Spaces, tabs, newlines.
    Whitespace(&'a str),
    /// `-- ...`, `# ...` (MySQL) or a closed `/* ... */`.
    Comment(&'a str),
    /// A closed string literal, quoted identifier or dollar-quoted body, quotes included.
    Quoted(&'a str),
    /// A keyword or unquoted identifier (or number).
    Word(&'a str),
    /// `;`.
    Semicolon,
    /// `?`, the portable placeholder.
    Question,
    /// Any other character, or a MySQL executable comment (`/*! ... */`), which the server runs.
    Other(&'a str),
    /// A string, quoted identifier, dollar quote or block comment still open at the end of the input.
    Unterminated(Construct, &'a str),
}

/// What a [`Token::Unterminated`] opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Construct {
    /// `/* ...`.
    BlockComment,
    /// `'...` (or `"..."` on MySQL, `E'...` on PostgreSQL).
    String,
    /// `"...`, `` `... `` or `[...` (SQLite).
    QuotedIdentifier,
    /// `$tag$ ...` (PostgreSQL).
    DollarQuote,
}

impl fmt::Display for Construct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BlockComment => "block comment",
            Self::String => "string",
            Self::QuotedIdentifier => "quoted identifier",
            Self::DollarQuote => "dollar-quoted body",
        })
    }
}

impl Token<'_> {
    /// Length in bytes of the input the token covers.
    pub fn len(&self) -> usize {
        match self {
            Self::Whitespace(t)
            | Self::Comment(t)
            | Self::Quoted(t)
            | Self::Word(t)
            | Self::Other(t)
            | Self::Unterminated(_, t) => t.len(),
            Self::Semicolon | Self::Question => 1,
        }
    }

    /// Whether the token covers no input (never true for a token the lexer yields).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the token is whitespace or a closed comment: nothing a server runs.
    pub fn is_trivia(&self) -> bool {
        matches!(self, Self::Whitespace(_) | Self::Comment(_))
    }
}

/// The tokens of `sql` in the given dialect.
pub fn tokens(sql: &str, backend: Backend) -> impl Iterator<Item = Token<'_>> {
    Lexer {
        sql,
        at: 0,
        rules: backend.dialect().lexical,
    }
}

struct Lexer<'a> {
    sql: &'a str,
    at: usize,
    rules: Lexical,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// Where a quoted run, block comment or dollar quote ends: the length it covers, and whether it was
/// closed before the input ran out.
struct Run {
    len: usize,
    closed: bool,
}

impl Run {
    fn open(rest: &str) -> Self {
        Self {
            len: rest.len(),
            closed: false,
        }
    }

    fn closed(len: usize) -> Self {
        Self { len, closed: true }
    }
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.sql[self.at..]
    }

    /// A quoted run starting at the opening `quote`: a doubled closing quote stays inside, and so
    /// does an escaped one when `backslash` escapes are on.
    fn quoted(rest: &str, quote: char, close: char, backslash: bool) -> Run {
        let mut chars = rest.char_indices().skip(1).peekable();
        while let Some((i, c)) = chars.next() {
            if backslash && c == '\\' {
                chars.next();
            } else if c == close {
                if quote == close && chars.peek().is_some_and(|&(_, n)| n == close) {
                    chars.next();
                } else {
                    return Run::closed(i + c.len_utf8());
                }
            }
        }
        Run::open(rest)
    }

    /// `$tag$ ... $tag$` (PostgreSQL), if one starts here.
    fn dollar_quoted(rest: &str) -> Option<Run> {
        let after = &rest[1..];
        let tag_len = after.find('$')?;
        let tag = &after[..tag_len];
        let valid = tag
            .chars()
            .next()
            .is_none_or(|c| c.is_alphabetic() || c == '_')
            && tag.chars().all(|c| c.is_alphanumeric() || c == '_');
        if !valid {
            return None;
        }
        let delimiter = &rest[..tag_len + 2];
        let body = &rest[delimiter.len()..];
        Some(body.find(delimiter).map_or_else(
            || Run::open(rest),
            |end| Run::closed(delimiter.len() + end + delimiter.len()),
        ))
    }

    /// `/* ... */`; PostgreSQL nests them, so each `/*` inside needs its own `*/`.
    fn block_comment(rest: &str, nested: bool) -> Run {
        let bytes = rest.as_bytes();
        let mut depth = 0usize;
        let mut i = 0;
        while i + 1 < bytes.len() {
            match (bytes[i], bytes[i + 1]) {
                (b'/', b'*') if nested || depth == 0 => {
                    depth += 1;
                    i += 2;
                }
                (b'*', b'/') => {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        return Run::closed(i);
                    }
                }
                _ => i += 1,
            }
        }
        Run::open(rest)
    }

    /// Whether a line comment starts here. MySQL needs whitespace (or the end) after `--`, so
    /// `1--1` is arithmetic there; `#` starts one too.
    fn line_comment_starts(&self, rest: &str) -> bool {
        if self.rules.hash_comments {
            rest.starts_with('#')
                || rest.strip_prefix("--").is_some_and(|after| {
                    after
                        .chars()
                        .next()
                        .is_none_or(|c| c.is_whitespace() || c.is_control())
                })
        } else {
            rest.starts_with("--")
        }
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let rest = self.rest();
        let c = rest.chars().next()?;
        let rules = self.rules;
        let enclosed = |run: Run, construct: Construct, closed: fn(&'a str) -> Token<'a>| {
            let text = &rest[..run.len];
            let token = if run.closed {
                closed(text)
            } else {
                Token::Unterminated(construct, text)
            };
            (token, run.len)
        };
        let (token, len) = if c.is_whitespace() {
            let len = rest
                .find(|c: char| !c.is_whitespace())
                .unwrap_or(rest.len());
            (Token::Whitespace(&rest[..len]), len)
        } else if self.line_comment_starts(rest) {
            let len = rest.find('\n').unwrap_or(rest.len());
            (Token::Comment(&rest[..len]), len)
        } else if let Some(inside) = rest.strip_prefix("/*") {
            let run = Self::block_comment(rest, rules.nested_block_comments);
            // MySQL runs what is inside `/*! ... */` (and MariaDB `/*M! ... */`): code, not a comment.
            let executable =
                rules.executable_comments && (inside.starts_with('!') || inside.starts_with("M!"));
            let closed = if executable {
                Token::Other
            } else {
                Token::Comment
            };
            enclosed(run, Construct::BlockComment, closed)
        } else if c == '\'' {
            let run = Self::quoted(rest, '\'', '\'', rules.backslash_escapes);
            enclosed(run, Construct::String, Token::Quoted)
        } else if c == '"' {
            let run = Self::quoted(rest, '"', '"', rules.backslash_escapes);
            // MySQL takes `"` for strings (unless ANSI_QUOTES); the others for identifiers.
            let construct = if rules.double_quoted_strings {
                Construct::String
            } else {
                Construct::QuotedIdentifier
            };
            enclosed(run, construct, Token::Quoted)
        } else if c == '`' && rules.backtick_identifiers {
            let run = Self::quoted(rest, '`', '`', false);
            enclosed(run, Construct::QuotedIdentifier, Token::Quoted)
        } else if c == '[' && rules.bracket_identifiers {
            let run = Self::quoted(rest, '[', ']', false);
            enclosed(run, Construct::QuotedIdentifier, Token::Quoted)
        } else if c == '$'
            && rules.dollar_quotes
            && let Some(run) = Self::dollar_quoted(rest)
        {
            enclosed(run, Construct::DollarQuote, Token::Quoted)
        } else if (c == 'E' || c == 'e') && rules.dollar_quotes && rest[1..].starts_with('\'') {
            // E'...' strings take backslash escapes even with standard_conforming_strings on.
            let inner = Self::quoted(&rest[1..], '\'', '\'', true);
            let run = Run {
                len: 1 + inner.len,
                closed: inner.closed,
            };
            enclosed(run, Construct::String, Token::Quoted)
        } else if is_word_char(c) {
            let len = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
            (Token::Word(&rest[..len]), len)
        } else if c == ';' {
            (Token::Semicolon, 1)
        } else if c == '?' {
            (Token::Question, 1)
        } else {
            let len = c.len_utf8();
            (Token::Other(&rest[..len]), len)
        };
        self.at += len;
        Some(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(sql: &str, backend: Backend) -> Vec<Token<'_>> {
        tokens(sql, backend).collect()
    }

    #[test]
    fn tokens_cover_the_input_exactly() {
        for sql in [
            "SELECT 'a''b', \"c\" FROM t -- x\n/* y /* z */ */;",
            "E'it\\'s' $$ body; $$ $tag$ x $tag$ $1",
            "unterminated 'string",
            "héllo wörld; 日本",
        ] {
            for backend in [Backend::Postgres, Backend::MySql, Backend::Sqlite] {
                let total: usize = lex(sql, backend).iter().map(Token::len).sum();
                assert_eq!(total, sql.len(), "{sql:?} on {backend}");
            }
        }
    }

    #[test]
    fn postgres_nests_block_comments_and_reads_dollar_quotes() {
        let tokens = lex("/* a /* b */ c */x", Backend::Postgres);
        assert_eq!(tokens[0], Token::Comment("/* a /* b */ c */"));
        let tokens = lex("$f$ ; $f$;", Backend::Postgres);
        assert_eq!(tokens[0], Token::Quoted("$f$ ; $f$"));
        assert_eq!(lex("$1", Backend::Postgres)[0], Token::Word("$1"));
    }

    #[test]
    fn mysql_strings_take_backslash_escapes() {
        assert_eq!(lex("'a\\'b';", Backend::MySql)[0], Token::Quoted("'a\\'b'"));
        assert_eq!(lex("'a\\'", Backend::Sqlite)[0], Token::Quoted("'a\\'"));
    }

    #[test]
    fn what_the_input_ends_inside_is_unterminated_per_dialect() {
        let nested = "/* a /* b */ CREATE TABLE t (id int);";
        assert_eq!(
            lex(nested, Backend::Postgres),
            [Token::Unterminated(Construct::BlockComment, nested)]
        );
        // MySQL and SQLite do not nest: the comment ends at the first `*/`.
        for backend in [Backend::MySql, Backend::Sqlite] {
            assert_eq!(lex(nested, backend)[0], Token::Comment("/* a /* b */"));
        }
        for (sql, backend, construct) in [
            ("'it's'", Backend::Postgres, Construct::String),
            ("E'a\\'", Backend::Postgres, Construct::String),
            ("\"t", Backend::Sqlite, Construct::QuotedIdentifier),
            ("\"t", Backend::MySql, Construct::String),
            ("`t", Backend::MySql, Construct::QuotedIdentifier),
            ("[t", Backend::Sqlite, Construct::QuotedIdentifier),
            ("$body$ x $bod$", Backend::Postgres, Construct::DollarQuote),
            ("/*! SET x = 1", Backend::MySql, Construct::BlockComment),
        ] {
            let last = *lex(sql, backend).last().unwrap();
            assert!(
                matches!(last, Token::Unterminated(c, _) if c == construct),
                "{sql:?} on {backend}: {last:?}"
            );
        }
    }

    #[test]
    fn mysql_comments_follow_the_servers_rules() {
        // `--` needs a space after it on MySQL; elsewhere it always starts a comment.
        assert!(
            !lex("SELECT 1--1", Backend::MySql)
                .iter()
                .any(|t| matches!(t, Token::Comment(_)))
        );
        assert_eq!(
            lex("SELECT 1--1", Backend::Postgres).last(),
            Some(&Token::Comment("--1"))
        );
        assert_eq!(lex("-- x", Backend::MySql)[0], Token::Comment("-- x"));
        assert_eq!(lex("--", Backend::MySql)[0], Token::Comment("--"));
        // Executable comments are code the server runs.
        assert_eq!(
            lex("/*!40101 SET NAMES utf8 */", Backend::MySql)[0],
            Token::Other("/*!40101 SET NAMES utf8 */")
        );
    }
}
