//! A lexer that tells SQL code from strings, quoted identifiers and comments, per dialect.
//!
//! Tokens cover the input exactly (concatenated, they give it back), so callers can map positions to
//! lines. Unterminated strings and comments run to the end of the input rather than failing: the
//! database reports the real error with its own message.

use crate::backend::Backend;

/// A piece of SQL text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token<'a> {
    /// Spaces, tabs, newlines.
    Whitespace(&'a str),
    /// `-- ...`, `# ...` (MySQL) or `/* ... */`.
    Comment(&'a str),
    /// A string literal, quoted identifier or dollar-quoted body, quotes included.
    Quoted(&'a str),
    /// A keyword or unquoted identifier (or number).
    Word(&'a str),
    /// `;`.
    Semicolon,
    /// `?`, the portable placeholder.
    Question,
    /// Any other character.
    Other(&'a str),
}

impl Token<'_> {
    /// Length in bytes of the input the token covers.
    pub fn len(&self) -> usize {
        match self {
            Self::Whitespace(t)
            | Self::Comment(t)
            | Self::Quoted(t)
            | Self::Word(t)
            | Self::Other(t) => t.len(),
            Self::Semicolon | Self::Question => 1,
        }
    }

    /// Whether the token covers no input (never true for a token the lexer yields).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The tokens of `sql` in the given dialect.
pub fn tokens(sql: &str, backend: Backend) -> impl Iterator<Item = Token<'_>> {
    Lexer {
        sql,
        at: 0,
        backend,
    }
}

struct Lexer<'a> {
    sql: &'a str,
    at: usize,
    backend: Backend,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.sql[self.at..]
    }

    /// Length of a quoted run starting at the opening `quote`: a doubled quote stays inside, and so
    /// does an escaped one when `backslash` escapes are on.
    fn quoted_len(rest: &str, quote: char, close: char, backslash: bool) -> usize {
        let mut chars = rest.char_indices().skip(1).peekable();
        while let Some((i, c)) = chars.next() {
            if backslash && c == '\\' {
                chars.next();
            } else if c == close {
                if quote == close && chars.peek().is_some_and(|&(_, n)| n == close) {
                    chars.next();
                } else {
                    return i + c.len_utf8();
                }
            }
        }
        rest.len()
    }

    /// `$tag$ ... $tag$` (PostgreSQL), if one starts here.
    fn dollar_quoted_len(rest: &str) -> Option<usize> {
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
        Some(
            body.find(delimiter)
                .map_or(rest.len(), |end| delimiter.len() + end + delimiter.len()),
        )
    }

    fn block_comment_len(rest: &str, nested: bool) -> usize {
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
                        return i;
                    }
                }
                _ => i += 1,
            }
        }
        rest.len()
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let rest = self.rest();
        let c = rest.chars().next()?;
        let mysql = self.backend == Backend::MySql;
        let postgres = self.backend == Backend::Postgres;
        let (token, len) = if c.is_whitespace() {
            let len = rest
                .find(|c: char| !c.is_whitespace())
                .unwrap_or(rest.len());
            (Token::Whitespace(&rest[..len]), len)
        } else if rest.starts_with("--") || (mysql && c == '#') {
            let len = rest.find('\n').unwrap_or(rest.len());
            (Token::Comment(&rest[..len]), len)
        } else if rest.starts_with("/*") {
            let len = Self::block_comment_len(rest, postgres);
            (Token::Comment(&rest[..len]), len)
        } else if c == '\'' {
            let len = Self::quoted_len(rest, '\'', '\'', mysql);
            (Token::Quoted(&rest[..len]), len)
        } else if c == '"' {
            let len = Self::quoted_len(rest, '"', '"', mysql);
            (Token::Quoted(&rest[..len]), len)
        } else if c == '`' && self.backend != Backend::Postgres {
            let len = Self::quoted_len(rest, '`', '`', false);
            (Token::Quoted(&rest[..len]), len)
        } else if c == '[' && self.backend == Backend::Sqlite {
            let len = Self::quoted_len(rest, '[', ']', false);
            (Token::Quoted(&rest[..len]), len)
        } else if c == '$'
            && postgres
            && let Some(len) = Self::dollar_quoted_len(rest)
        {
            (Token::Quoted(&rest[..len]), len)
        } else if (c == 'E' || c == 'e') && postgres && rest[1..].starts_with('\'') {
            // E'...' strings take backslash escapes even with standard_conforming_strings on.
            let len = 1 + Self::quoted_len(&rest[1..], '\'', '\'', true);
            (Token::Quoted(&rest[..len]), len)
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
}
