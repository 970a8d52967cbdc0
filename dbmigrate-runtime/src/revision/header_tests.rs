//! Tests of the header parser: keys, typos, section markers and their near misses.
use super::*;

fn parse(text: &str) -> Result<ParsedText, RevisionError> {
    parse_text(Path::new("V2__x.sql"), text, RevisionKind::Sql)
}

#[test]
fn reads_a_full_header_and_both_sections() {
    let text = "-- Message: add teams\n-- Revises: 1\n-- Created: 2026-11-24T21:08:43Z\n\n-- migrate:upgrade\nCREATE TABLE t(id int);\n\n-- migrate:downgrade\nDROP TABLE t;\n";
    let parsed = parse(text).unwrap();
    let header = parsed.header.unwrap();
    assert_eq!(header.message.as_deref(), Some("add teams"));
    assert_eq!((header.revises, header.revises_line), (vec![1], 2));
    assert_eq!(parsed.upgrade.text, "CREATE TABLE t(id int);\n\n");
    assert_eq!(parsed.upgrade.first_line, 6);
    assert_eq!(parsed.downgrade.unwrap().text, "DROP TABLE t;\n");
}

#[test]
fn finds_the_transaction_directive_after_a_bom_blank_lines_and_crlf() {
    let text = "\u{feff}\r\n\r\n-- Revises: 3\r\n-- Transaction: none\r\nCREATE INDEX CONCURRENTLY i ON t(id);\r\n";
    let header = parse(text).unwrap().header.unwrap();
    assert_eq!(header.transaction, TransactionMode::None);
    assert_eq!(header.revises_line, 3);
}

#[test]
fn a_plain_comment_leaves_the_file_adopted() {
    let parsed = parse("-- create the users table\nCREATE TABLE users(id int);\n").unwrap();
    assert_eq!(parsed.header, None);
    assert!(parsed.upgrade.text.starts_with("-- create"));
}

#[test]
fn merges_and_bases() {
    assert_eq!(
        parse("-- Revises: 3, V5\n")
            .unwrap()
            .header
            .unwrap()
            .revises,
        vec![3, 5]
    );
    assert_eq!(
        parse("-- Revises:\n").unwrap().header.unwrap().revises,
        Vec::<i64>::new()
    );
}

#[test]
fn reports_header_mistakes_with_their_line() {
    for (text, line) in [
        ("-- Revises: 1\n-- Revises: 2\n", 2),
        ("-- Message: m\n-- Revises: one\n", 2),
        ("-- Revises: 1\n-- Revsies: 2\n", 2),
        ("-- Message: no parent line\n", 1),
        ("-- Revises: 1\n-- Created: yesterday\n", 2),
        ("-- Revises: 1\n-- Transaction: maybe\n", 2),
        (
            "-- Revises: 1\nSELECT 1;\n-- migrate:upgrade\nSELECT 2;\n",
            2,
        ),
        (
            "-- Revises: 1\n-- migrate:downgrade\n-- migrate:upgrade\n",
            3,
        ),
    ] {
        match parse(text) {
            Err(RevisionError::BadHeader { location, .. }) => {
                assert_eq!(location.line, Some(line), "{text:?}")
            }
            other => panic!("{text:?} gave {other:?}"),
        }
    }
}

#[test]
fn dbmates_markers_are_aliases() {
    let parsed =
        parse("-- migrate:up\nCREATE TABLE t(id int);\n-- migrate:down\nDROP TABLE t;\n").unwrap();
    assert_eq!(parsed.upgrade.text, "CREATE TABLE t(id int);\n");
    assert_eq!(parsed.downgrade.unwrap().text, "DROP TABLE t;\n");
    // The spellings accepted before stay accepted.
    let parsed =
        parse("-- Revises: 1\n--migrate:upgrade\nSELECT 1;\n-- MIGRATE:DOWNGRADE\nSELECT 2;\n")
            .unwrap();
    assert_eq!(parsed.downgrade.unwrap().text, "SELECT 2;\n");
}

#[test]
fn a_near_miss_marker_is_an_error_with_a_suggestion() {
    for (line, suggestion) in [
        ("-- migrate: downgrade", "`-- migrate:downgrade`"),
        ("-- migrate:upgarde", "`-- migrate:upgrade`"),
        ("-- migrate:downgrade;", "`-- migrate:downgrade`"),
        ("-- migrate-down", "`-- migrate:downgrade`"),
        ("-- migrate up", "`-- migrate:upgrade`"),
        ("-- migrat:downgrade", "`-- migrate:downgrade`"),
        ("-- migrate:rollback", "`-- migrate:downgrade`"),
        (
            "-- migrate:",
            "`-- migrate:upgrade` or `-- migrate:downgrade`",
        ),
        ("-- migrate:up transaction:false", "`-- Transaction: none`"),
        ("-- +migrate Down", "`-- migrate:downgrade`"),
        ("-- +goose Up", "`-- migrate:upgrade`"),
        (
            "-- +goose StatementBegin",
            "keeps a `BEGIN ... END` body whole",
        ),
    ] {
        let text = format!(
            "-- Revises: 1\n-- migrate:upgrade\nCREATE TABLE t(id int);\n{line}\nDROP TABLE t;\n"
        );
        match parse(&text) {
            Err(RevisionError::BadSectionMarker {
                location,
                found,
                suggestion: advice,
            }) => {
                assert_eq!((location.line, found.as_str()), (Some(4), line));
                assert!(advice.contains(suggestion), "{line}: {advice}");
            }
            other => panic!("{line:?} gave {other:?}"),
        }
    }
    // In the header too, where it would otherwise pass for a free comment.
    assert!(matches!(
        parse("-- Revises: 1\n-- migrate: upgrade\nCREATE TABLE t(id int);\n"),
        Err(RevisionError::BadSectionMarker { .. })
    ));
}

#[test]
fn prose_that_starts_with_migrate_is_a_comment() {
    for line in [
        "-- migrate the users table to the new layout",
        "-- Migration: adds users",
        "-- migrations are applied in order",
        "-- TODO: migrate:upgrade later",
    ] {
        let text = format!("-- Revises: 1\n{line}\nCREATE TABLE t(id int);\n");
        assert!(parse(&text).is_ok(), "{line}");
    }
}

#[test]
fn rust_headers_use_doc_comments() {
    let text = "//! Message: backfill\n//! Revises: 4\n\npub async fn upgrade() {}\n";
    let parsed = parse_text(Path::new("V5__b.rs"), text, RevisionKind::Rust).unwrap();
    assert_eq!(parsed.header.unwrap().revises, vec![4]);
    assert_eq!(parsed.upgrade.text, text);
}
