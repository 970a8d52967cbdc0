//! Portable `?` placeholders: counted against the parameters given, and rewritten to PostgreSQL's
//! `$1, $2, ...`, so that a statement never runs with a parameter missing or dropped.
//!
//! The rules, the same on every backend:
//! - `?` outside strings, quoted identifiers and comments is a placeholder, bound in order;
//! - on PostgreSQL, `$1`, `$2`... may be written instead (never both in one statement), and `??`
//!   is a literal `?`, for the jsonb operators `?`, `?|` and `?&` (`data ?? 'key'`);
//! - numbered or named forms that only one database understands (`?1`, and SQLite's `:name`,
//!   `@name`, `$name`) are refused rather than bound by a rule the caller may not expect.

use std::borrow::Cow;

use super::Token;
use super::lexer;
use crate::backend::Backend;
use crate::backend::dialect::Placeholders;

/// The lexer, for the data helpers that read a fragment of the caller's SQL (a backfill's SET).
#[cfg(feature = "__apply")]
pub(crate) use super::lexer::tokens;

/// Why a statement's placeholders and its parameters do not fit together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlaceholderError {
    /// The statement takes more or fewer parameters than were given.
    #[error(
        "the statement has {placeholders} placeholder{} but {parameters} parameter{} {} given; pass exactly one parameter per placeholder",
        plural(*placeholders),
        plural(*parameters),
        if *parameters == 1 { "was" } else { "were" }
    )]
    CountMismatch {
        /// Placeholders in the statement (for `$n`, the highest `n`).
        placeholders: usize,
        /// Parameters given.
        parameters: usize,
    },
    /// `?` and `$n` in one statement: which value goes where would be a guess.
    #[error(
        "the statement mixes `?` and `${number}` placeholders; write every placeholder as `?` (or, on PostgreSQL only, every one as `$n`)"
    )]
    MixedStyles {
        /// The first `$n` found.
        number: usize,
    },
    /// A placeholder form only one database understands.
    #[error(
        "`{found}` at byte {offset} is a placeholder form dbmigrate does not bind portably; write `?` and pass the parameters in order"
    )]
    Unportable {
        /// The placeholder as written.
        found: String,
        /// Its byte offset in the statement.
        offset: usize,
    },
    /// `??` outside PostgreSQL, where no operator needs a literal `?`.
    #[error(
        "`??` at byte {offset} is PostgreSQL's escape for a literal `?` (jsonb operators); {backend} has no such operator, so write one `?` per parameter"
    )]
    EscapeOutsidePostgres {
        /// Its byte offset in the statement.
        offset: usize,
        /// The backend the statement was for.
        backend: Backend,
    },
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `sql` as `backend` takes it, checked to take exactly `parameters` parameters.
///
/// MySQL and SQLite take `?` as is, so their text comes back borrowed; PostgreSQL's `?` become
/// `$1, $2, ...` and `??` becomes `?`.
pub fn prepare(
    sql: &str,
    backend: Backend,
    parameters: usize,
) -> Result<Cow<'_, str>, PlaceholderError> {
    let scan = scan(sql, backend)?;
    let placeholders = match (scan.questions, scan.highest_number) {
        (questions, Some(number)) if questions > 0 => {
            return Err(PlaceholderError::MixedStyles { number });
        }
        (_, Some(number)) => number,
        (questions, None) => questions,
    };
    if placeholders != parameters {
        return Err(PlaceholderError::CountMismatch {
            placeholders,
            parameters,
        });
    }
    let numbered = backend.dialect().placeholders == Placeholders::Numbered;
    if !numbered || (scan.questions == 0 && scan.escapes == 0) {
        return Ok(Cow::Borrowed(sql));
    }
    Ok(Cow::Owned(number(sql, backend)))
}

/// Rewrites `?` to `$1, $2, ...` on PostgreSQL, for SQL dbmigrate writes itself (whose placeholders
/// it counted when it wrote them); other backends take `?` as is.
pub fn placeholders(sql: &str, backend: Backend) -> String {
    if backend.dialect().placeholders != Placeholders::Numbered {
        return sql.to_string();
    }
    number(sql, backend)
}

/// `?` as `$1, $2, ...`, and `??` as a literal `?`.
fn number(sql: &str, backend: Backend) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut offset = 0;
    let mut index = 0;
    let mut tokens = lexer::tokens(sql, backend).peekable();
    while let Some(token) = tokens.next() {
        let length = token.len();
        if matches!(token, Token::Question) {
            if matches!(tokens.peek(), Some(Token::Question)) {
                tokens.next();
                out.push('?');
                offset += 2;
                continue;
            }
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

/// What a statement's placeholders look like.
#[derive(Debug, Default)]
struct Scan {
    questions: usize,
    escapes: usize,
    highest_number: Option<usize>,
}

fn scan(sql: &str, backend: Backend) -> Result<Scan, PlaceholderError> {
    let style = backend.dialect().placeholders;
    let mut scan = Scan::default();
    let mut offset = 0;
    let mut tokens = lexer::tokens(sql, backend).peekable();
    let unportable = |found: &str, offset: usize| PlaceholderError::Unportable {
        found: found.to_string(),
        offset,
    };
    while let Some(token) = tokens.next() {
        let length = token.len();
        match token {
            Token::Question => match tokens.peek() {
                Some(Token::Question) => {
                    if style != Placeholders::Numbered {
                        return Err(PlaceholderError::EscapeOutsidePostgres { offset, backend });
                    }
                    tokens.next();
                    scan.escapes += 1;
                    offset += 2;
                    continue;
                }
                // `?1`: SQLite's numbered form, which PostgreSQL's rewrite would turn into `$11`.
                Some(Token::Word(word)) if word.starts_with(|c: char| c.is_ascii_digit()) => {
                    return Err(unportable(&format!("?{word}"), offset));
                }
                _ => scan.questions += 1,
            },
            Token::Word(word) if word.starts_with('$') => {
                let digits = &word[1..];
                let numbered = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
                match style {
                    Placeholders::Numbered if numbered => {
                        let number = digits.parse::<usize>().unwrap_or(usize::MAX);
                        scan.highest_number = Some(scan.highest_number.unwrap_or(0).max(number));
                    }
                    // SQLite binds `$name` (and `$1`) as a named parameter.
                    Placeholders::QuestionOnly => return Err(unportable(word, offset)),
                    _ => {}
                }
            }
            // SQLite's `:name` and `@name` parameters (MySQL's `@name` is a user variable).
            Token::Other(sign @ (":" | "@")) if style == Placeholders::QuestionOnly => {
                if let Some(Token::Word(word)) = tokens.peek() {
                    return Err(unportable(&format!("{sign}{word}"), offset));
                }
            }
            _ => {}
        }
        offset += length;
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_placeholders_for_postgres_only() {
        let sql = "SELECT '?', \"?\" FROM t WHERE a = ? AND b = ? -- ?";
        assert_eq!(
            prepare(sql, Backend::Postgres, 2).unwrap(),
            "SELECT '?', \"?\" FROM t WHERE a = $1 AND b = $2 -- ?"
        );
        assert!(matches!(
            prepare(sql, Backend::MySql, 2).unwrap(),
            Cow::Borrowed(s) if s == sql
        ));
        assert_eq!(
            placeholders(sql, Backend::Postgres),
            "SELECT '?', \"?\" FROM t WHERE a = $1 AND b = $2 -- ?"
        );
    }

    #[test]
    fn counts_placeholders_against_parameters_on_every_backend() {
        for backend in [Backend::Postgres, Backend::MySql, Backend::Sqlite] {
            let error = prepare("DELETE FROM t WHERE a = ? OR ? IS NULL", backend, 1).unwrap_err();
            assert_eq!(
                error,
                PlaceholderError::CountMismatch {
                    placeholders: 2,
                    parameters: 1
                }
            );
            assert_eq!(
                error.to_string(),
                "the statement has 2 placeholders but 1 parameter was given; pass exactly one parameter per placeholder"
            );
            assert!(prepare("UPDATE t SET a = ?", backend, 2).is_err());
            assert!(prepare("SELECT 1", backend, 0).is_ok());
        }
    }

    #[test]
    fn postgres_takes_numbered_placeholders_but_never_mixed_with_question_marks() {
        assert_eq!(
            prepare("SELECT $1, $2, $1", Backend::Postgres, 2).unwrap(),
            "SELECT $1, $2, $1"
        );
        assert_eq!(
            prepare("SELECT $1, ?", Backend::Postgres, 2).unwrap_err(),
            PlaceholderError::MixedStyles { number: 1 }
        );
        assert_eq!(
            prepare("SELECT $2", Backend::Postgres, 1).unwrap_err(),
            PlaceholderError::CountMismatch {
                placeholders: 2,
                parameters: 1
            }
        );
        // Dollar-quoted bodies and identifiers with a dollar are not placeholders.
        assert!(prepare("SELECT $$ $1 ? $$, a$1", Backend::Postgres, 0).is_ok());
    }

    #[test]
    fn a_doubled_question_mark_is_a_literal_one_on_postgres() {
        assert_eq!(
            prepare(
                "SELECT data ?? 'a', data ??| ARRAY['b'], data ??& ARRAY[?] FROM t WHERE id = ?",
                Backend::Postgres,
                2
            )
            .unwrap(),
            "SELECT data ? 'a', data ?| ARRAY['b'], data ?& ARRAY[$1] FROM t WHERE id = $2"
        );
        assert_eq!(
            prepare("SELECT ??", Backend::MySql, 0).unwrap_err(),
            PlaceholderError::EscapeOutsidePostgres {
                offset: 7,
                backend: Backend::MySql
            }
        );
    }

    #[test]
    fn refuses_placeholder_forms_one_database_reads_differently() {
        for backend in [Backend::Postgres, Backend::MySql, Backend::Sqlite] {
            assert!(matches!(
                prepare("SELECT ?1", backend, 1),
                Err(PlaceholderError::Unportable { .. })
            ));
        }
        for named in ["SELECT :name", "SELECT @name", "SELECT $name", "SELECT $1"] {
            assert!(
                matches!(
                    prepare(named, Backend::Sqlite, 0),
                    Err(PlaceholderError::Unportable { .. })
                ),
                "{named}"
            );
        }
        // MySQL's user variables and PostgreSQL's casts are not placeholders.
        assert!(prepare("SELECT @x := ?", Backend::MySql, 1).is_ok());
        assert!(prepare("SELECT ?::int", Backend::Postgres, 1).is_ok());
    }
}
