//! Revision file names: refinery's `V{version}__{name}.sql` convention, so a refinery directory is already a dbmigrate directory.

use std::path::Path;

use super::{RevisionKind, VersionWidth};
use crate::error::RevisionError;

/// refinery's prefix: `V` must apply in version order, `U` may apply out of order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prefix {
    /// Versioned.
    Versioned,
    /// Unversioned.
    Unversioned,
}

impl Prefix {
    /// `V` or `U`.
    pub fn letter(self) -> char {
        match self {
            Self::Versioned => 'V',
            Self::Unversioned => 'U',
        }
    }
}

/// The parts of a revision file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName {
    /// `V` or `U`.
    pub prefix: Prefix,
    /// The version.
    pub version: i64,
    /// The name between `__` and the extension.
    pub name: String,
    /// From the extension.
    pub kind: RevisionKind,
}

impl FileName {
    /// The file name these parts spell, e.g. `V3__add_teams.sql`.
    pub fn render(&self) -> String {
        let ext = match self.kind {
            RevisionKind::Sql => "sql",
            RevisionKind::Rust => "rs",
        };
        format!(
            "{}{}__{}.{ext}",
            self.prefix.letter(),
            self.version,
            self.name
        )
    }
}

/// Whether a file in the revision directory is meant to be a revision at all.
///
/// Only `.sql` and `.rs` files are; `mod.rs` and hidden files are helpers, not revisions.
pub fn is_candidate(file_name: &str) -> bool {
    // Extensions compare case-insensitively so `V1__init.SQL` is reported, not silently skipped.
    let lower = file_name.to_ascii_lowercase();
    (lower.ends_with(".sql") || lower.ends_with(".rs"))
        && file_name != "mod.rs"
        && !file_name.starts_with('.')
}

/// Parses a revision file name. Files that are not candidates are `Ok(None)`; candidates that do not
/// follow the convention are errors, because refinery silently skipping `V1_init.sql` is a trap.
pub fn parse_file_name(
    path: &Path,
    width: VersionWidth,
) -> Result<Option<FileName>, RevisionError> {
    let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
        return Err(bad(path, "the name is not valid UTF-8"));
    };
    if !is_candidate(file_name) {
        return Ok(None);
    }
    let (stem, kind) = match file_name.rsplit_once('.') {
        Some((stem, "sql")) => (stem, RevisionKind::Sql),
        Some((stem, "rs")) => (stem, RevisionKind::Rust),
        _ => return Err(bad(path, "the extension must be lowercase `.sql` or `.rs`")),
    };
    let mut chars = stem.chars();
    let prefix = match chars.next() {
        Some('V') => Prefix::Versioned,
        Some('U') => Prefix::Unversioned,
        _ => {
            return Err(bad(
                path,
                "it must start with `V` (or `U` for an unversioned revision)",
            ));
        }
    };
    let rest = chars.as_str();
    let Some((digits, name)) = rest.split_once("__") else {
        return Err(bad(
            path,
            "the version and the name must be separated by two underscores, as in `V1__initial.sql`",
        ));
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(
            path,
            "the version after the prefix must be digits only",
        ));
    }
    if name.is_empty() {
        return Err(bad(path, "the name after `__` is empty"));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_alphanumeric() || *c == '_')) {
        return Err(bad(
            path,
            &format!("the name contains {c:?}; use only letters, digits and underscores"),
        ));
    }
    let out_of_range = || RevisionError::VersionOutOfRange {
        path: path.to_path_buf(),
        version: digits.to_string(),
        width: width.as_str(),
    };
    let version: i64 = digits.parse().map_err(|_| out_of_range())?;
    if !width.fits(version) {
        return Err(out_of_range());
    }
    Ok(Some(FileName {
        prefix,
        version,
        name: name.to_string(),
        kind,
    }))
}

fn bad(path: &Path, reason: &str) -> RevisionError {
    RevisionError::BadFileName {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str) -> Result<Option<FileName>, RevisionError> {
        parse_file_name(Path::new(name), VersionWidth::I32)
    }

    #[test]
    fn reads_refinery_names() {
        let f = parse("V12__add_cars.sql").unwrap().unwrap();
        assert_eq!(
            (f.prefix, f.version, f.name.as_str(), f.kind),
            (Prefix::Versioned, 12, "add_cars", RevisionKind::Sql)
        );
        let f = parse("U3__x.rs").unwrap().unwrap();
        assert_eq!(
            (f.prefix, f.version, f.kind),
            (Prefix::Unversioned, 3, RevisionKind::Rust)
        );
        assert_eq!(f.render(), "U3__x.rs");
    }

    #[test]
    fn ignores_files_that_are_not_revisions() {
        for name in ["README.md", "mod.rs", ".V1__x.sql.swp", "notes.txt"] {
            assert_eq!(parse(name).unwrap(), None, "{name}");
        }
    }

    #[test]
    fn rejects_near_misses_instead_of_skipping_them() {
        for name in [
            "V1__init.SQL",
            "V1__init.Rs",
            "V1_init.sql",
            "v1__init.sql",
            "V__init.sql",
            "V1__.sql",
            "V1__has space.sql",
            "Vx1__a.sql",
            "init.sql",
        ] {
            assert!(
                matches!(parse(name), Err(RevisionError::BadFileName { .. })),
                "{name}"
            );
        }
    }

    #[test]
    fn checks_the_version_width() {
        assert!(matches!(
            parse("V2147483648__big.sql"),
            Err(RevisionError::VersionOutOfRange { .. })
        ));
        assert!(
            parse_file_name(Path::new("V20261124191500__ts.sql"), VersionWidth::I64)
                .unwrap()
                .is_some()
        );
        assert!(matches!(
            parse_file_name(
                Path::new("V99999999999999999999__huge.sql"),
                VersionWidth::I64
            ),
            Err(RevisionError::VersionOutOfRange { .. })
        ));
    }
}
