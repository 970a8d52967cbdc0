//! What in a SQL revision would make it run other than as written, per dialect: a comment, string,
//! quoted identifier or dollar quote that is never closed (it swallows the rest of the section), a
//! mysql-client `DELIMITER` line, and transaction control (`BEGIN`, `COMMIT`, `ROLLBACK`...) in a
//! revision that runs in a transaction with its history row.
//!
//! `cargo dbmigrate check` reports these for the dialects the project targets, and the migrator
//! refuses a plan that has any of them in the live database's dialect before it takes the lock or
//! writes anything: both call [`lint`].

use std::collections::BTreeMap;

use super::lexer::{self, Construct, Token};
use super::split::split;
use crate::backend::Backend;
use crate::error::{Location, Problems, RevisionError};
use crate::revision::{Revision, RevisionKind, Section};

/// Which sections of each revision to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sections {
    /// What an upgrade runs.
    Upgrade,
    /// What a downgrade runs.
    Downgrade,
    /// Both (`check`).
    Both,
}

/// Every problem in the SQL sections of `revisions` that one of `backends` has, in revision order,
/// each naming the dialects that have it unless all three do. Rust revisions have no SQL to read.
pub fn lint<'r>(
    revisions: impl IntoIterator<Item = &'r Revision>,
    sections: Sections,
    backends: &[Backend],
) -> Vec<RevisionError> {
    // Read in every dialect, so a problem all three share is told apart from one that is
    // particular to some.
    lint_in(revisions, sections, &Backend::ALL, backends)
}

/// [`lint`] reading the text in the dialects of `read` only, and reporting what `shown` have.
fn lint_in<'r>(
    revisions: impl IntoIterator<Item = &'r Revision>,
    sections: Sections,
    read: &[Backend],
    backends: &[Backend],
) -> Vec<RevisionError> {
    let mut problems = Vec::new();
    for revision in revisions {
        if revision.kind != RevisionKind::Sql {
            continue;
        }
        let chosen: Vec<&Section> = match sections {
            Sections::Upgrade => vec![&revision.upgrade],
            Sections::Downgrade => revision.downgrade.iter().collect(),
            Sections::Both => std::iter::once(&revision.upgrade)
                .chain(&revision.downgrade)
                .collect(),
        };
        for section in chosen {
            let mut found: BTreeMap<(u32, u8, String), (Finding, Vec<Backend>)> = BTreeMap::new();
            for &backend in read {
                for finding in findings(section, revision.transactional(), backend) {
                    let (_, dialects) = found
                        .entry(finding.key())
                        .or_insert_with(|| (finding, Vec::new()));
                    if !dialects.contains(&backend) {
                        dialects.push(backend);
                    }
                }
            }
            for (finding, dialects) in found.into_values() {
                let shown: Vec<Backend> = if dialects.len() == Backend::ALL.len() {
                    dialects
                } else {
                    dialects
                        .into_iter()
                        .filter(|b| backends.contains(b))
                        .collect()
                };
                if shown.is_empty() {
                    continue;
                }
                problems.push(finding.into_problem(revision, shown));
            }
        }
    }
    problems
}

/// Refuses a plan whose SQL has any [`lint`] problem in the dialect of `backend`, with every
/// problem found: what the migrator and `--sql` scripts check before anything runs. Only that
/// dialect is read (the text once, not three times), so each problem names it.
pub fn refuse<'r>(
    plan: impl IntoIterator<Item = &'r Revision>,
    sections: Sections,
    backend: Backend,
) -> Result<(), Problems> {
    let problems = lint_in(plan, sections, &[backend], &[backend]);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Problems { problems })
    }
}

/// One problem in one section, in one dialect; `line` is the file's.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Finding {
    line: u32,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Unterminated(Construct),
    Delimiter(String),
    TransactionControl(String),
}

impl Finding {
    /// What makes two dialects' findings one problem: the same line and kind. An unclosed `"` is a
    /// quoted identifier to PostgreSQL and a string to MySQL, and still one mistake.
    fn key(&self) -> (u32, u8, String) {
        match &self.kind {
            Kind::Unterminated(_) => (self.line, 0, String::new()),
            Kind::Delimiter(command) => (self.line, 1, command.clone()),
            Kind::TransactionControl(keywords) => (self.line, 2, keywords.clone()),
        }
    }

    fn into_problem(self, revision: &Revision, dialects: Vec<Backend>) -> RevisionError {
        let location = Location::line(&revision.path, self.line);
        match self.kind {
            Kind::Unterminated(construct) => RevisionError::UnterminatedSql {
                location,
                construct,
                dialects,
            },
            Kind::Delimiter(command) => RevisionError::DelimiterCommand {
                location,
                command,
                dialects,
            },
            Kind::TransactionControl(statement) => RevisionError::TransactionControl {
                location,
                version: revision.version,
                statement,
                dialects,
            },
        }
    }
}

fn findings(section: &Section, transactional: bool, backend: Backend) -> Vec<Finding> {
    let text = section.text.as_str();
    let file_line = |line_in_section: u32| {
        section
            .first_line
            .saturating_add(line_in_section.saturating_sub(1))
    };
    let mut findings = Vec::new();
    let mut offset = 0;
    let mut line: u32 = 1;
    let mut at_line_start = true;
    for token in lexer::tokens(text, backend) {
        let token_text = &text[offset..offset + token.len()];
        match token {
            Token::Unterminated(construct, _) => findings.push(Finding {
                line: file_line(line),
                kind: Kind::Unterminated(construct),
            }),
            Token::Word(word) if at_line_start && word.eq_ignore_ascii_case("DELIMITER") => {
                let end_of_line = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
                if let Some(command) = delimiter_command(&text[offset..end_of_line]) {
                    findings.push(Finding {
                        line: file_line(line),
                        kind: Kind::Delimiter(command),
                    });
                }
            }
            _ => {}
        }
        // Only whitespace since the last newline keeps the next token at the start of its line.
        at_line_start = match token {
            Token::Whitespace(space) => at_line_start || space.contains('\n'),
            _ => false,
        };
        line = line
            .saturating_add(u32::try_from(token_text.matches('\n').count()).unwrap_or(u32::MAX));
        offset += token.len();
    }
    // After a `DELIMITER` line the statements are not where semicolons say (`END //`): that line is
    // the problem to fix first.
    let has_delimiter = findings
        .iter()
        .any(|f| matches!(f.kind, Kind::Delimiter(_)));
    if transactional && !has_delimiter {
        for statement in split(text, backend) {
            if let Some(keywords) = transaction_control(&statement.text, backend) {
                findings.push(Finding {
                    line: file_line(statement.line),
                    kind: Kind::TransactionControl(keywords),
                });
            }
        }
    }
    findings
}

/// The line, trimmed, when it is the mysql client's `DELIMITER <symbols>` command: a column named
/// `delimiter` at the start of a line is followed by a type or a comma, not by symbols alone.
fn delimiter_command(line: &str) -> Option<String> {
    let line = line.trim_end();
    let argument = line.get("DELIMITER".len()..)?;
    if !argument.starts_with(char::is_whitespace) {
        return None;
    }
    let argument = argument.trim();
    let symbols = !argument.is_empty()
        && argument
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_alphanumeric() && c != '_');
    symbols.then(|| line.to_string())
}

/// The leading keywords of a statement that starts, ends or hands over a transaction in `backend`'s
/// dialect (`ROLLBACK TO` a savepoint and MariaDB's `BEGIN NOT ATOMIC` blocks do not).
fn transaction_control(statement: &str, backend: Backend) -> Option<String> {
    let [first, second, third] = super::first_words::<3>(statement, backend);
    (backend.dialect().transaction_control)([&first, &second, &third])
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::path::PathBuf;

    use super::*;
    use crate::revision::{RevisionSource, VersionWidth, parse_sources};

    fn revision(text: &str) -> Revision {
        let (mut revisions, problems) = parse_sources(
            [RevisionSource {
                path: PathBuf::from("V1__a.sql"),
                bytes: Cow::Owned(text.as_bytes().to_vec()),
            }],
            VersionWidth::I32,
        );
        assert!(problems.is_empty(), "{problems:?}");
        revisions.remove(0)
    }

    /// `code:line` of each problem, with the dialects named.
    fn problems(text: &str, backends: &[Backend]) -> Vec<String> {
        lint([&revision(text)], Sections::Both, backends)
            .iter()
            .map(|p| {
                let dialects = match p {
                    RevisionError::UnterminatedSql { dialects, .. }
                    | RevisionError::DelimiterCommand { dialects, .. }
                    | RevisionError::TransactionControl { dialects, .. } => dialects,
                    _ => unreachable!("lint reports only SQL problems"),
                };
                let dialects = if dialects.len() == Backend::ALL.len() {
                    "all".to_string()
                } else {
                    dialects
                        .iter()
                        .map(|b| b.name())
                        .collect::<Vec<_>>()
                        .join("+")
                };
                format!(
                    "{}:{} {dialects}",
                    p.code(),
                    p.location().unwrap().line.unwrap()
                )
            })
            .collect()
    }

    const ALL: &[Backend] = &Backend::ALL;

    #[test]
    fn an_unbalanced_nested_comment_is_unterminated_on_postgres_only() {
        let text = "-- Revises:\n-- migrate:upgrade\nCREATE TABLE a (id int);\n/* a /* b */\nCREATE TABLE b (id int);\n";
        assert_eq!(problems(text, ALL), ["unterminated-sql:4 postgres"]);
        assert_eq!(
            problems(text, &[Backend::MySql, Backend::Sqlite]),
            Vec::<String>::new()
        );
        let message = lint([&revision(text)], Sections::Both, ALL)[0].to_string();
        assert_eq!(
            message,
            "V1__a.sql:4: this block comment is never closed (in PostgreSQL), so everything after it to the end of the section is part of it"
        );
    }

    #[test]
    fn unterminated_strings_and_identifiers_name_their_line_and_dialect() {
        assert_eq!(
            problems("SELECT 1;\nSELECT 'it's';\n", ALL),
            ["unterminated-sql:2 all"]
        );
        // A backslash escapes the quote on MySQL only.
        assert_eq!(
            problems("SELECT 'a\\';\n", ALL),
            ["unterminated-sql:1 mysql"]
        );
        assert_eq!(problems("SELECT \"a;\n", ALL), ["unterminated-sql:1 all"]);
        assert_eq!(
            problems("DO $x$ BEGIN END $y$;\n", ALL),
            ["unterminated-sql:1 postgres"]
        );
        // Each section is read on its own: an unclosed quote in the upgrade cannot reach the downgrade.
        assert_eq!(
            problems(
                "-- Revises:\n-- migrate:upgrade\nSELECT 'a;\n-- migrate:downgrade\nSELECT 1;\n",
                ALL
            ),
            ["unterminated-sql:3 all"]
        );
    }

    #[test]
    fn a_delimiter_line_is_the_mysql_clients() {
        let text = "DELIMITER //\nCREATE PROCEDURE p() BEGIN SELECT 1; END //\ndelimiter ;\n";
        assert_eq!(
            problems(text, ALL),
            ["delimiter-command:1 all", "delimiter-command:3 all"]
        );
        for not_a_command in [
            "CREATE TABLE t (\n  delimiter VARCHAR(1),\n  x INT\n);\n",
            "CREATE TABLE t (\n  delimiter CHAR(1)\n);\n",
            "SELECT 'a\nDELIMITER //\n';\n",
            "/*\nDELIMITER //\n*/ SELECT 1;\n",
        ] {
            assert_eq!(
                problems(not_a_command, ALL),
                Vec::<String>::new(),
                "{not_a_command:?}"
            );
        }
    }

    #[test]
    fn transaction_control_is_flagged_in_transactional_revisions_only() {
        let text = "-- Revises:\n-- migrate:upgrade\nBEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\nSAVEPOINT s;\nROLLBACK TO SAVEPOINT s;\nrollback work to s;\n";
        assert_eq!(
            problems(text, ALL),
            ["transaction-control:3 all", "transaction-control:5 all"]
        );
        let none = text.replace("-- Revises:\n", "-- Revises:\n-- Transaction: none\n");
        assert_eq!(problems(&none, ALL), Vec::<String>::new());
        for (statement, dialects) in [
            ("START TRANSACTION", "postgres+mysql"),
            ("END", "postgres+sqlite"),
            ("ABORT", "postgres"),
            ("ROLLBACK", "all"),
            ("PREPARE TRANSACTION 'x'", "postgres"),
            ("COMMIT PREPARED 'x'", "all"),
            ("XA START 'x'", "mysql"),
            ("end transaction", "postgres+sqlite"),
        ] {
            assert_eq!(
                problems(&format!("{statement};\n"), ALL),
                [format!("transaction-control:1 {dialects}")],
                "{statement}"
            );
        }
        let message = lint([&revision("COMMIT;\n")], Sections::Both, ALL)[0].to_string();
        assert!(
            message.starts_with("V1__a.sql:1: `COMMIT` takes over the transaction of revision 1:"),
            "{message}"
        );
    }

    #[test]
    fn routine_bodies_are_not_transaction_control() {
        for (text, backend) in [
            (
                "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE a SET n = CASE WHEN n > 0 THEN 1 END;\nEND;\n",
                Backend::Sqlite,
            ),
            (
                "CREATE FUNCTION f() RETURNS trigger AS $$\nBEGIN\n  COMMIT;\nEND;\n$$ LANGUAGE plpgsql;\n",
                Backend::Postgres,
            ),
            (
                "CREATE PROCEDURE p() BEGIN\n  START TRANSACTION;\n  COMMIT;\nEND;\n",
                Backend::MySql,
            ),
            ("BEGIN NOT ATOMIC\n  SELECT 1;\nEND;\n", Backend::MySql),
        ] {
            assert_eq!(problems(text, &[backend]), Vec::<String>::new(), "{text}");
        }
    }

    #[test]
    fn refusing_reads_only_the_live_dialect_and_the_sections_that_run() {
        let nested = revision(
            "-- Revises:\n-- migrate:upgrade\nSELECT 1;\n-- migrate:downgrade\n/* a /* b */ DROP TABLE t;\n",
        );
        assert!(refuse([&nested], Sections::Upgrade, Backend::Postgres).is_ok());
        assert!(refuse([&nested], Sections::Downgrade, Backend::MySql).is_ok());
        let refused = refuse([&nested], Sections::Downgrade, Backend::Postgres).unwrap_err();
        assert_eq!(refused.problems.len(), 1);
        assert!(
            refused
                .to_string()
                .contains("V1__a.sql:5: this block comment is never closed (in PostgreSQL)")
                && refused.to_string().contains("help: close it with `*/`"),
            "{refused}"
        );
    }
}
