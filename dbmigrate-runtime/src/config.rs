//! The project's dbmigrate settings: `[package.metadata.dbmigrate]` in the package's Cargo.toml.

use std::path::PathBuf;

use serde::Deserialize;

use crate::revision::VersionWidth;

/// The default history table: refinery's, so both tools share one table.
pub const DEFAULT_TABLE: &str = "refinery_schema_history";

/// How `cargo dbmigrate new` numbers revisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Versioning {
    /// max + 1.
    #[default]
    Sequential,
    /// The UTC time as `YYYYMMDDHHMMSS` (needs `version-width = "i64"`).
    Timestamp,
}

/// `[package.metadata.dbmigrate]`; every key is optional.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Config {
    /// The revision directory, relative to the package's Cargo.toml.
    pub dir: PathBuf,
    /// `i32` (refinery's default) or `i64`.
    #[serde(deserialize_with = "width_from_str")]
    pub version_width: VersionWidth,
    /// How new revisions are numbered.
    pub versioning: Versioning,
    /// The history table's name.
    pub table: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("migrations"),
            version_width: VersionWidth::I32,
            versioning: Versioning::Sequential,
            table: DEFAULT_TABLE.to_string(),
        }
    }
}

fn width_from_str<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<VersionWidth, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(serde::de::Error::custom)
}

/// A manifest whose dbmigrate settings cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{manifest}: [package.metadata.dbmigrate]: {message}", manifest = manifest.display())]
pub struct ConfigError {
    /// The Cargo.toml.
    pub manifest: PathBuf,
    /// What is wrong.
    pub message: String,
}

impl Config {
    /// Reads the settings from a Cargo.toml's text; a manifest without the table gets the defaults.
    pub fn from_manifest(manifest: &std::path::Path, text: &str) -> Result<Self, ConfigError> {
        #[derive(Deserialize)]
        struct Manifest {
            package: Option<Package>,
        }
        #[derive(Deserialize)]
        struct Package {
            metadata: Option<Metadata>,
        }
        #[derive(Deserialize)]
        struct Metadata {
            dbmigrate: Option<Config>,
        }
        let error = |message: String| ConfigError {
            manifest: manifest.to_path_buf(),
            message,
        };
        let parsed: Manifest = toml::from_str(text).map_err(|e| error(e.to_string()))?;
        let config = parsed
            .package
            .and_then(|p| p.metadata)
            .and_then(|m| m.dbmigrate)
            .unwrap_or_default();
        config.validate().map_err(error)?;
        Ok(config)
    }

    /// Checks settings that are each valid alone but not together.
    pub fn validate(&self) -> Result<(), String> {
        if self.versioning == Versioning::Timestamp && self.version_width == VersionWidth::I32 {
            return Err("versioning = \"timestamp\" needs version-width = \"i64\": timestamps do not fit in INT4".into());
        }
        let valid_table = !self.table.is_empty()
            && self.table.len() <= 63
            && self
                .table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !self.table.starts_with(|c: char| c.is_ascii_digit());
        if !valid_table {
            return Err(format!(
                "table = {:?} is not a plain SQL identifier (letters, digits, underscores)",
                self.table
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn defaults_without_metadata() {
        let config =
            Config::from_manifest(Path::new("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
        assert_eq!(config, Config::default());
    }

    #[test]
    fn reads_every_key_and_rejects_typos() {
        let text = "[package]\nname = \"x\"\n[package.metadata.dbmigrate]\ndir = \"db/revisions\"\nversion-width = \"i64\"\nversioning = \"timestamp\"\ntable = \"schema_history\"\n";
        let config = Config::from_manifest(Path::new("Cargo.toml"), text).unwrap();
        assert_eq!(config.dir, PathBuf::from("db/revisions"));
        assert_eq!(
            (config.version_width, config.versioning),
            (VersionWidth::I64, Versioning::Timestamp)
        );
        let typo = "[package.metadata.dbmigrate]\ndirectory = \"x\"\n";
        let message = Config::from_manifest(Path::new("Cargo.toml"), typo)
            .unwrap_err()
            .to_string();
        assert!(message.contains("unknown field `directory`"), "{message}");
        let bad = "[package.metadata.dbmigrate]\nversioning = \"timestamp\"\n";
        assert!(Config::from_manifest(Path::new("Cargo.toml"), bad).is_err());
    }
}
