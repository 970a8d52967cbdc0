//! Property tests: the parser never panics, and what dbmigrate writes reads back the same.

use std::path::PathBuf;

use proptest::prelude::*;

use super::*;

fn source(name: String, bytes: Vec<u8>) -> RevisionSource<'static> {
    RevisionSource {
        path: PathBuf::from(name),
        bytes: bytes.into(),
    }
}

/// Text made mostly of the pieces headers and sections are built from, so the fuzzing reaches deep.
fn revision_like_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("-- Revises: ".to_string()),
        Just("-- Message: ".to_string()),
        Just("-- Created: 2026-11-24T21:08:43Z".to_string()),
        Just("-- Transaction: none".to_string()),
        Just("-- migrate:upgrade".to_string()),
        Just("-- migrate:downgrade".to_string()),
        Just("//! Revises: 1".to_string()),
        Just("\u{feff}".to_string()),
        Just("\r\n".to_string()),
        Just("\n".to_string()),
        "[0-9, V]{0,12}",
        "\\PC{0,20}",
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_and_names_never_panic(name in "[VUv]?[0-9]{0,25}_{0,3}[a-z ]{0,6}\\.(sql|rs|txt)", bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_sources([source(name, bytes)], VersionWidth::I32);
    }

    #[test]
    fn revision_like_text_never_panics(text in revision_like_text(), rust in any::<bool>()) {
        let name = if rust { "V2__x.rs" } else { "V2__x.sql" };
        let (revisions, problems) = parse_sources([source(name.into(), text.clone().into_bytes())], VersionWidth::I64);
        prop_assert_eq!(revisions.len() + problems.len(), 1);
        if let Some(revision) = revisions.first() {
            prop_assert_eq!(&revision.text, &text);
        }
    }

    #[test]
    fn written_headers_read_back(message in "[a-zA-Z0-9 ,.'()-]{0,40}", parents in proptest::collection::btree_set(0i64..1000, 0..4), crlf in any::<bool>(), no_tx in any::<bool>()) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let revises: Vec<String> = parents.iter().map(ToString::to_string).collect();
        let mut text = format!("-- Message: {message}{eol}-- Revises: {}{eol}", revises.join(", "));
        if no_tx {
            text.push_str(&format!("-- Transaction: none{eol}"));
        }
        text.push_str(&format!("{eol}-- migrate:upgrade{eol}SELECT 1;{eol}-- migrate:downgrade{eol}SELECT 2;{eol}"));
        let (revisions, problems) = parse_sources([source("V1000__x.sql".into(), text.into_bytes())], VersionWidth::I32);
        prop_assert!(problems.is_empty(), "{:?}", problems);
        let revision = &revisions[0];
        prop_assert_eq!(&revision.parents, &parents.iter().copied().collect::<Vec<_>>());
        let trimmed = message.trim();
        prop_assert_eq!(revision.header.as_ref().unwrap().message.as_deref(), (!trimmed.is_empty()).then_some(trimmed));
        prop_assert_eq!(revision.transactional(), !no_tx);
        prop_assert_eq!(revision.upgrade.text.trim_end(), "SELECT 1;");
        prop_assert_eq!(revision.downgrade.as_ref().unwrap().text.trim_end(), "SELECT 2;");
    }
}
