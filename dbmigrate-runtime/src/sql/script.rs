//! Offline scripts (`--sql`): the SQL an upgrade or downgrade would run, with the history statements,
//! for a DBA to review or run by hand. No connection is made.

use std::fmt::Write as _;

use super::lint::{self, Sections};
use crate::backend::Backend;
use crate::config::{TableNameError, check_table_name};
use crate::error::Problems;
use crate::revision::{Revision, RevisionKind, VersionWidth};

/// Why a script cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScriptError {
    /// A Rust data step has no SQL to print.
    #[error(
        "revision {version} ({path}) is a Rust data step, which has no SQL to print; run it online \
         (`cargo dbmigrate upgrade`), or print the revisions before it (`--sql <from>:{before}`) and after it separately",
        path = path.display(),
        before = version - 1
    )]
    RustStep {
        /// The revision.
        version: i64,
        /// Its file.
        path: std::path::PathBuf,
    },
    /// A revision to revert has no downgrade section.
    #[error("revision {version} ({path}) has no downgrade section to print", path = path.display())]
    NoDowngrade {
        /// The revision.
        version: i64,
        /// Its file.
        path: std::path::PathBuf,
    },
    /// The history table's name cannot be used.
    #[error(transparent)]
    Table(#[from] TableNameError),
    /// The SQL of a revision in the plan would not run as written in this dialect (see
    /// [`super::lint`]).
    #[error(transparent)]
    Sql(#[from] Problems),
}

/// The current UTC time as RFC 3339 (what refinery stores in `applied_on`), computed by the database
/// when the script runs rather than when it was printed.
fn now_expression(backend: Backend) -> &'static str {
    backend.dialect().now_rfc3339
}

fn ensure_terminated(sql: &str, backend: Backend) -> String {
    let trimmed = sql.trim_end();
    if trimmed.is_empty() || trimmed.ends_with(';') || super::split(trimmed, backend).is_empty() {
        trimmed.to_string()
    } else {
        format!("{trimmed};")
    }
}

/// Which way a script moves the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptDirection {
    /// Upgrade sections and history inserts.
    Upgrade,
    /// Downgrade sections and history deletes.
    Downgrade,
}

/// Prints the SQL that moves a database through `plan` (in the order given), each revision followed
/// by its history statement, inside a transaction where the backend has transactional DDL and the
/// revision allows one. Refuses, as the migrator would, a table name that cannot be used and SQL
/// that would not run as written in `backend`'s dialect.
pub fn script(
    plan: &[&Revision],
    direction: ScriptDirection,
    backend: Backend,
    table: &str,
    width: VersionWidth,
) -> Result<String, ScriptError> {
    check_table_name(table)?;
    for revision in plan {
        if revision.kind == RevisionKind::Rust {
            return Err(ScriptError::RustStep {
                version: revision.version,
                path: revision.path.clone(),
            });
        }
        if direction == ScriptDirection::Downgrade && revision.downgrade.is_none() {
            return Err(ScriptError::NoDowngrade {
                version: revision.version,
                path: revision.path.clone(),
            });
        }
    }
    let sections = match direction {
        ScriptDirection::Upgrade => Sections::Upgrade,
        ScriptDirection::Downgrade => Sections::Downgrade,
    };
    lint::refuse(plan.iter().copied(), sections, backend)?;
    let quoted = backend.quote_identifier(table);
    let mut out = String::new();
    let verb = match direction {
        ScriptDirection::Upgrade => "upgrade",
        ScriptDirection::Downgrade => "downgrade",
    };
    let _ = writeln!(
        out,
        "-- dbmigrate {verb} script for {backend}: {} revision(s)",
        plan.len()
    );
    let _ = writeln!(
        out,
        "-- Review it before running it. The history table is refinery's `{table}`.\n"
    );
    if direction == ScriptDirection::Upgrade {
        let _ = writeln!(out, "{};\n", backend.create_history_table(table, width));
    }
    for revision in plan {
        let (section, history) = match direction {
            ScriptDirection::Upgrade => (
                &revision.upgrade,
                format!(
                    "INSERT INTO {quoted} (version, name, applied_on, checksum) VALUES ({}, {}, {}, {});",
                    revision.version,
                    backend.string_literal(&revision.name),
                    now_expression(backend),
                    backend.string_literal(&revision.checksum(width).to_string())
                ),
            ),
            ScriptDirection::Downgrade => (
                revision.downgrade.as_ref().unwrap_or(&revision.upgrade),
                format!("DELETE FROM {quoted} WHERE version = {};", revision.version),
            ),
        };
        let transactional = backend.transactional_ddl() && revision.transactional();
        let _ = writeln!(
            out,
            "-- Revision {}: {} ({})",
            revision.version,
            revision.message(),
            revision.path.display()
        );
        if transactional {
            let _ = writeln!(
                out,
                "{};",
                backend.begin_statement().replace(" IMMEDIATE", "")
            );
        }
        let body = ensure_terminated(&section.text, backend);
        if !body.is_empty() {
            let _ = writeln!(out, "{body}");
        }
        let _ = writeln!(out, "{history}");
        if transactional {
            let _ = writeln!(out, "COMMIT;");
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::path::PathBuf;

    use super::*;
    use crate::revision::{RevisionSource, parse_sources};

    fn revisions(files: &[(&str, &str)]) -> Vec<Revision> {
        let sources = files.iter().map(|(name, text)| RevisionSource {
            path: PathBuf::from(name),
            bytes: Cow::Owned(text.as_bytes().to_vec()),
        });
        parse_sources(sources, VersionWidth::I32).0
    }

    #[test]
    fn wraps_revisions_in_transactions_where_ddl_is_transactional() {
        let revisions = revisions(&[
            (
                "V1__users.sql",
                "-- Message: users\n-- Revises:\n-- migrate:upgrade\nCREATE TABLE users (id INT)\n-- migrate:downgrade\nDROP TABLE users;\n",
            ),
            (
                "V2__index.sql",
                "-- Revises: 1\n-- Transaction: none\nCREATE INDEX CONCURRENTLY i ON users (id);\n",
            ),
        ]);
        let plan: Vec<&Revision> = revisions.iter().collect();
        let pg = script(
            &plan,
            ScriptDirection::Upgrade,
            Backend::Postgres,
            "refinery_schema_history",
            VersionWidth::I32,
        )
        .unwrap();
        let checksum = revisions[0].checksum(VersionWidth::I32);
        assert!(pg.contains(&format!(
            "-- Revision 1: users (V1__users.sql)\nBEGIN;\nCREATE TABLE users (id INT);\nINSERT INTO \"refinery_schema_history\" \
             (version, name, applied_on, checksum) VALUES (1, 'users', to_char(now() AT TIME ZONE 'UTC', \
             'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '{checksum}');\nCOMMIT;\n"
        )), "{pg}");
        assert!(pg.contains("-- Revision 2: index (V2__index.sql)\nCREATE INDEX CONCURRENTLY i ON users (id);\nINSERT"), "{pg}");
        let mysql = script(
            &plan[..1],
            ScriptDirection::Upgrade,
            Backend::MySql,
            "h",
            VersionWidth::I32,
        )
        .unwrap();
        assert!(!mysql.contains("START TRANSACTION"), "{mysql}");
        let down = script(
            &plan[..1],
            ScriptDirection::Downgrade,
            Backend::Sqlite,
            "h",
            VersionWidth::I32,
        )
        .unwrap();
        assert!(
            down.contains(
                "BEGIN;\nDROP TABLE users;\nDELETE FROM \"h\" WHERE version = 1;\nCOMMIT;"
            ),
            "{down}"
        );
    }

    #[test]
    fn refuses_hostile_table_names_and_sql_that_would_not_run_as_written() {
        let revisions = revisions(&[
            ("V1__a.sql", "CREATE TABLE a (id INT);\n"),
            (
                "V2__b.sql",
                "-- Revises: 1\n/* a /* b */\nCREATE TABLE b (id INT);\n",
            ),
        ]);
        let plan: Vec<&Revision> = revisions.iter().collect();
        let print = |table: &str, backend: Backend, plan: &[&Revision]| {
            script(
                plan,
                ScriptDirection::Upgrade,
                backend,
                table,
                VersionWidth::I32,
            )
        };
        for table in ["x(a); DROP TABLE victim; --", "a\"b", &"h".repeat(54)] {
            assert!(
                matches!(
                    print(table, Backend::Sqlite, &plan[..1]),
                    Err(ScriptError::Table(_))
                ),
                "{table}"
            );
        }
        let refused = print("h", Backend::Postgres, &plan).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("V2__b.sql:2: this block comment is never closed"),
            "{refused}"
        );
        // MySQL does not nest comments: the same file is sound there.
        assert!(print("h", Backend::MySql, &plan).is_ok());
    }

    #[test]
    fn refuses_what_it_cannot_print() {
        let revisions = revisions(&[
            ("V1__a.sql", "CREATE TABLE a (id INT);\n"),
            ("V2__b.rs", "//! Revises: 1\n"),
        ]);
        let plan: Vec<&Revision> = revisions.iter().collect();
        let rust = script(
            &plan,
            ScriptDirection::Upgrade,
            Backend::Postgres,
            "h",
            VersionWidth::I32,
        )
        .unwrap_err();
        assert!(
            rust.to_string()
                .starts_with("revision 2 (V2__b.rs) is a Rust data step"),
            "{rust}"
        );
        let down = script(
            &plan[..1],
            ScriptDirection::Downgrade,
            Backend::Postgres,
            "h",
            VersionWidth::I32,
        )
        .unwrap_err();
        assert!(matches!(down, ScriptError::NoDowngrade { version: 1, .. }));
    }
}
