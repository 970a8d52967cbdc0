//! The files `new` and `merge` write, rendered from the askama templates in this package's
//! `templates/` directory (`revision.sql`, `revision.rs`, `merge.sql`).

use askama::Template;
use dbmigrate_runtime::RevisionKind;

use crate::error::Error;

#[derive(Template)]
#[template(path = "revision.sql", escape = "none")]
struct SqlRevision<'a> {
    message: &'a str,
    revises: &'a str,
    created: &'a str,
}

#[derive(Template)]
#[template(path = "revision.rs", escape = "none")]
struct RustRevision<'a> {
    message: &'a str,
    revises: &'a str,
    created: &'a str,
}

#[derive(Template)]
#[template(path = "merge.sql", escape = "none")]
struct MergeRevision<'a> {
    message: &'a str,
    revises: &'a str,
    created: &'a str,
}

/// What goes into a new revision file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile<'a> {
    /// The one-line `Message:`.
    pub message: &'a str,
    /// The parents; none for a first revision, several for a merge.
    pub revises: &'a [i64],
    /// The `Created:` time.
    pub created: &'a str,
}

/// The `Revises:` value for these parents: `3` or `3, 5`, empty for a base.
pub fn revises_value(parents: &[i64]) -> String {
    parents
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A new SQL or Rust revision.
pub fn revision(file: &NewFile<'_>, kind: RevisionKind) -> Result<String, Error> {
    let revises = revises_value(file.revises);
    let (message, created) = (file.message, file.created);
    let rendered = match kind {
        RevisionKind::Sql => SqlRevision {
            message,
            revises: &revises,
            created,
        }
        .render(),
        RevisionKind::Rust => RustRevision {
            message,
            revises: &revises,
            created,
        }
        .render(),
    };
    rendered
        .map(with_final_newline)
        .map_err(|source| Error::Template {
            template: "revision",
            source,
        })
}

/// A merge revision (SQL, with no statements).
pub fn merge(file: &NewFile<'_>) -> Result<String, Error> {
    let revises = revises_value(file.revises);
    MergeRevision {
        message: file.message,
        revises: &revises,
        created: file.created,
    }
    .render()
    .map(with_final_newline)
    .map_err(|source| Error::Template {
        template: "merge",
        source,
    })
}

/// Template engines differ on whether a template's last newline survives; a text file ends with one.
fn with_final_newline(mut text: String) -> String {
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use dbmigrate_runtime::revision::parse_text;

    use super::*;

    fn file<'a>(message: &'a str, revises: &'a [i64]) -> NewFile<'a> {
        NewFile {
            message,
            revises,
            created: "2026-11-24T21:08:43Z",
        }
    }

    #[test]
    fn sql_revisions_parse_back_with_their_header_and_sections() {
        for parents in [&[][..], &[3], &[3, 5]] {
            let text = revision(&file("add teams", parents), RevisionKind::Sql).unwrap();
            let parsed =
                parse_text(Path::new("V6__add_teams.sql"), &text, RevisionKind::Sql).unwrap();
            let header = parsed.header.unwrap();
            assert_eq!(header.revises, parents, "{text}");
            assert_eq!(header.message.as_deref(), Some("add teams"));
            assert_eq!(header.created.as_deref(), Some("2026-11-24T21:08:43Z"));
            assert!(parsed.upgrade.is_blank(), "{text}");
            assert!(parsed.downgrade.is_some_and(|d| d.is_blank()), "{text}");
            assert!(
                text.ends_with("\n") && !text.contains("Revises: \n"),
                "{text:?}"
            );
        }
    }

    #[test]
    fn rust_revisions_parse_back_and_define_both_steps() {
        let text = revision(&file("backfill", &[4]), RevisionKind::Rust).unwrap();
        let parsed = parse_text(Path::new("V5__backfill.rs"), &text, RevisionKind::Rust).unwrap();
        assert_eq!(parsed.header.unwrap().revises, [4]);
        assert!(text.contains(
            "pub async fn upgrade(cx: &mut Context<'_>) -> Result<(), dbmigrate_runtime::BoxError>"
        ));
        assert!(text.contains("pub async fn downgrade(cx: &mut Context<'_>) -> Result<(), dbmigrate_runtime::BoxError>"));
    }

    #[test]
    fn merges_name_every_parent_and_count_as_merges() {
        let text = merge(&file("merge 3 and 5", &[3, 5])).unwrap();
        let parsed = parse_text(Path::new("V6__merge.sql"), &text, RevisionKind::Sql).unwrap();
        assert_eq!(parsed.header.unwrap().revises, [3, 5]);
    }
}
