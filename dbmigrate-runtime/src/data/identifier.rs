//! Table and column names as the data helpers put them into SQL: read the way SQL reads them, then
//! quoted for the backend, so any real name works (reserved words, mixed case, schema-qualified) and
//! no name can change the statement around it.
//!
//! A name is one or more parts separated by dots (`schema.table`). A part written in double quotes or
//! backticks (`"Order Items"`, `` `order` ``) is taken exactly; a plain part (letters, digits,
//! underscores, `$`) is read as an unquoted identifier: PostgreSQL folds it to lower case, as it
//! would in SQL. Anything else is refused: quote it.

use super::DataError;
use crate::backend::Backend;

/// A name, each part as the database knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Name {
    parts: Vec<String>,
    backend: Backend,
}

impl Name {
    /// A table name: one to three parts (`table`, `schema.table`, `database.schema.table`).
    pub(crate) fn table(text: &str, backend: Backend) -> Result<Self, DataError> {
        Self::parse(text, backend, 3, "table")
    }

    /// A column name: one part.
    pub(crate) fn column(text: &str, backend: Backend) -> Result<Self, DataError> {
        Self::parse(text, backend, 1, "column")
    }

    fn parse(
        text: &str,
        backend: Backend,
        max_parts: usize,
        what: &str,
    ) -> Result<Self, DataError> {
        let refuse = |why: &str| {
            DataError::Usage(format!(
                "`{text}` is not a {what} name the data helpers can use: {why}; write each part as a plain \
                 identifier (letters, digits, underscores) or in double quotes (`\"Order Items\"`), separated by dots"
            ))
        };
        let mut parts = Vec::new();
        let mut rest = text;
        loop {
            let (part, after) = match rest.chars().next() {
                Some(quote @ ('"' | '`')) => quoted_part(rest, quote)
                    .ok_or_else(|| refuse(&format!("a {quote} is never closed")))?,
                Some(_) => {
                    let end = rest.find('.').unwrap_or(rest.len());
                    let part = &rest[..end];
                    let plain = part
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_alphabetic() || c == '_')
                        && part
                            .chars()
                            .all(|c| c.is_alphanumeric() || c == '_' || c == '$');
                    if !plain {
                        return Err(refuse(&format!("`{part}` needs quotes")));
                    }
                    let folded = if backend.dialect().folds_identifiers_to_lowercase {
                        part.to_ascii_lowercase()
                    } else {
                        part.to_string()
                    };
                    (folded, &rest[end..])
                }
                None => return Err(refuse("a part is empty")),
            };
            if part.is_empty() {
                return Err(refuse("a quoted part is empty"));
            }
            if part.contains('\0') {
                return Err(refuse("it contains a NUL character"));
            }
            parts.push(part);
            match after.strip_prefix('.') {
                Some(next) => rest = next,
                None if after.is_empty() => break,
                None => {
                    return Err(refuse(
                        "a quoted part is followed by something other than a dot",
                    ));
                }
            }
        }
        if parts.len() > max_parts {
            return Err(refuse(&format!("it has {} parts", parts.len())));
        }
        Ok(Self { parts, backend })
    }

    /// The name quoted for the backend, ready to put into a statement.
    pub(crate) fn sql(&self) -> String {
        let (open, close) = self.backend.dialect().identifier_quotes;
        let mut out = String::new();
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            out.push(open);
            for c in part.chars() {
                if c == close {
                    out.push(close);
                }
                out.push(c);
            }
            out.push(close);
        }
        out
    }

    /// The last part, as the database knows it.
    pub(crate) fn last(&self) -> &str {
        self.parts.last().map(String::as_str).unwrap_or("")
    }

    /// Whether two names denote the same column: PostgreSQL compares the (folded) names exactly,
    /// MySQL and SQLite ignore ASCII case, as they do for column names.
    pub(crate) fn same_column(&self, other: &str) -> bool {
        if self.backend.dialect().case_insensitive_identifiers {
            self.last().eq_ignore_ascii_case(other)
        } else {
            self.last() == other
        }
    }
}

/// The text inside a part quoted with `quote` at the start of `rest` (a doubled quote stands for
/// one), and what follows it.
fn quoted_part(rest: &str, quote: char) -> Option<(String, &str)> {
    let mut part = String::new();
    let mut chars = rest.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            if chars.peek().is_some_and(|&(_, n)| n == quote) {
                chars.next();
                part.push(quote);
            } else {
                return Some((part, &rest[i + c.len_utf8()..]));
            }
        } else {
            part.push(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(text: &str, backend: Backend) -> String {
        Name::table(text, backend).unwrap().sql()
    }

    #[test]
    fn quotes_every_part_for_the_backend() {
        assert_eq!(sql("order", Backend::Postgres), "\"order\"");
        assert_eq!(sql("order", Backend::MySql), "`order`");
        assert_eq!(sql("main.order", Backend::Sqlite), "\"main\".\"order\"");
        assert_eq!(
            sql("Sales.\"Order Items\"", Backend::Postgres),
            "\"sales\".\"Order Items\""
        );
        assert_eq!(sql("`we``ird`", Backend::MySql), "`we``ird`");
        assert_eq!(sql("\"a\"\"b\"", Backend::MySql), "`a\"b`");
        assert_eq!(sql("\"a`b\"", Backend::MySql), "`a``b`");
        assert_eq!(sql("Players", Backend::MySql), "`Players`");
        assert_eq!(sql("téams", Backend::Postgres), "\"téams\"");
    }

    #[test]
    fn refuses_what_would_need_quotes_and_is_not_quoted() {
        for bad in [
            "people; DROP TABLE people",
            "a b",
            "",
            "a.",
            ".a",
            "\"open",
            "\"\"",
            "\"a\"b",
            "1abc",
            "a.b.c.d",
        ] {
            let error = Name::table(bad, Backend::Postgres).unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("is not a table name the data helpers can use"),
                "{bad}: {error}"
            );
        }
        assert!(Name::column("a.b", Backend::Sqlite).is_err());
    }

    #[test]
    fn compares_columns_as_the_database_does() {
        let name = Name::column("Score", Backend::Postgres).unwrap();
        assert!(name.same_column("score"));
        let quoted = Name::column("\"Score\"", Backend::Postgres).unwrap();
        assert!(!quoted.same_column("score"));
        assert!(
            Name::column("Score", Backend::MySql)
                .unwrap()
                .same_column("SCORE")
        );
    }
}
