//! One revision file: its name, its header (`Revises:` and friends) and its upgrade/downgrade sections.

mod directory;
mod file_name;
mod header;

use std::fmt;
use std::path::PathBuf;

pub use directory::{RevisionSource, load_directory, parse_sources};
pub use file_name::{FileName, Prefix, parse_file_name};
pub use header::{Header, Section, TransactionMode, parse_text};

use crate::checksum::refinery_checksum;

/// How wide versions are: refinery stores `INT4` by default and `INT8` with its `int8-versions` feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum VersionWidth {
    /// 32-bit versions (refinery's default).
    #[default]
    I32,
    /// 64-bit versions, needed for timestamp versions such as `20261124191500`.
    I64,
}

impl VersionWidth {
    /// Whether `version` fits this width.
    pub fn fits(self, version: i64) -> bool {
        match self {
            Self::I32 => i32::try_from(version).is_ok(),
            Self::I64 => true,
        }
    }

    /// `i32` or `i64`, as written in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::I32 => "i32",
            Self::I64 => "i64",
        }
    }
}

impl std::str::FromStr for VersionWidth {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "i32" => Ok(Self::I32),
            "i64" => Ok(Self::I64),
            other => Err(format!(
                "unknown version width `{other}`; use \"i32\" or \"i64\""
            )),
        }
    }
}

/// What a revision's steps are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevisionKind {
    /// A `.sql` file: schema steps run as SQL.
    Sql,
    /// A `.rs` file: data steps compiled into the binary and run with a live connection.
    Rust,
}

impl fmt::Display for RevisionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sql => "sql",
            Self::Rust => "rust",
        })
    }
}

/// One parsed revision file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// The version from the file name; the revision's identity.
    pub version: i64,
    /// `V` (versioned) or `U` (unversioned, may apply out of order).
    pub prefix: Prefix,
    /// The name from the file name, without prefix, version or extension (refinery's `name` column).
    pub name: String,
    /// SQL or Rust.
    pub kind: RevisionKind,
    /// The file, as it was read.
    pub path: PathBuf,
    /// The dbmigrate header; `None` for an adopted refinery file.
    pub header: Option<Header>,
    /// The parents: the header's `Revises:` versions, or the previous version for a header-less file.
    pub parents: Vec<i64>,
    /// The SQL run on upgrade (for Rust revisions, the whole file).
    pub upgrade: Section,
    /// The SQL run on downgrade, if the file has a downgrade section.
    pub downgrade: Option<Section>,
    /// The whole file text: what refinery's checksum covers.
    pub text: String,
}

impl Revision {
    /// The message from the header, or the name with underscores as spaces.
    pub fn message(&self) -> String {
        self.header
            .as_ref()
            .and_then(|h| h.message.clone())
            .unwrap_or_else(|| self.name.replace('_', " "))
    }

    /// Whether the revision runs inside one transaction with its history row.
    pub fn transactional(&self) -> bool {
        self.header
            .as_ref()
            .is_none_or(|h| h.transaction == TransactionMode::Revision)
    }

    /// Whether the revision can be reverted.
    pub fn has_downgrade(&self) -> bool {
        match self.kind {
            RevisionKind::Sql => self.downgrade.is_some(),
            // A definition, not a mention in a comment: the generated code calls it by name.
            RevisionKind::Rust => self.text.lines().any(|line| {
                let line = line.trim_start();
                ["pub async fn downgrade", "pub fn downgrade"]
                    .iter()
                    .any(|definition| line.starts_with(definition))
            }),
        }
    }

    /// refinery's checksum of the whole file, as stored in `refinery_schema_history.checksum`.
    pub fn checksum(&self, width: VersionWidth) -> u64 {
        refinery_checksum(&self.name, self.version, width, &self.text)
    }

    /// The file name alone, for messages.
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The 1-based line of the `Revises:` header line, or of the file's first line.
    pub fn revises_line(&self) -> u32 {
        self.header.as_ref().map_or(1, |h| h.revises_line)
    }
}

#[cfg(test)]
mod proptests;
