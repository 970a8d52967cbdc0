//! The project's dbmigrate settings: `[package.metadata.dbmigrate]` in the package's Cargo.toml.

use std::path::PathBuf;

use serde::Deserialize;

use crate::backend::{Backend, DERIVED_TABLE_SUFFIXES};
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
    /// The databases the revisions are written for, whose SQL dialects `cargo dbmigrate check`
    /// reads them in; `None` lets `check` infer them (see the README).
    #[serde(deserialize_with = "backends_from_strings")]
    pub backends: Option<Vec<Backend>>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("migrations"),
            version_width: VersionWidth::I32,
            versioning: Versioning::Sequential,
            table: DEFAULT_TABLE.to_string(),
            backends: None,
        }
    }
}

fn width_from_str<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<VersionWidth, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(serde::de::Error::custom)
}

fn backends_from_strings<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<Backend>>, D::Error> {
    let names = Vec::<String>::deserialize(deserializer)?;
    if names.is_empty() {
        return Err(serde::de::Error::custom(
            "backends = [] names no database; list at least one of \"postgres\", \"mysql\", \"sqlite\", or leave the key out",
        ));
    }
    let mut backends = Vec::new();
    for name in names {
        let backend: Backend = name.parse().map_err(serde::de::Error::custom)?;
        if !backends.contains(&backend) {
            backends.push(backend);
        }
    }
    Ok(Some(backends))
}

/// A history table name dbmigrate cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the history table name {table:?} {reason}")]
pub struct TableNameError {
    /// The name as given.
    pub table: String,
    /// What is wrong with it.
    pub reason: String,
}

impl TableNameError {
    /// What to do about it.
    pub fn help(&self) -> String {
        "name the history table with ASCII letters, digits and underscores (not starting with a digit), \
         at most 53 characters long, e.g. `refinery_schema_history`"
            .into()
    }
}

/// The longest history table name: with its longest derived name, it fits every backend's
/// identifier limit.
pub const MAX_TABLE_NAME_LEN: usize = 53;

/// Checks a history table name: the one place every name goes through (the configuration,
/// `--table`, [`crate::Migrator`]'s `table`, `--sql` scripts), before any SQL is written with it.
///
/// A name is ASCII letters, digits and underscores, not starting with a digit: the names that mean
/// the same table quoted and unquoted (so the quoted name dbmigrate writes is refinery's unquoted
/// one; PostgreSQL folds both to lowercase). Every name derived from it (`<table>_dbmigrate`, and
/// `<table>_lock` reserved for a lease table) must fit every backend's identifier limit.
pub fn check_table_name(table: &str) -> Result<(), TableNameError> {
    let error = |reason: String| TableNameError {
        table: table.to_string(),
        reason,
    };
    if table.is_empty() {
        return Err(error("is empty".into()));
    }
    let plain = table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !table.starts_with(|c: char| c.is_ascii_digit());
    if !plain {
        return Err(error(
            "is not a plain SQL identifier (ASCII letters, digits and underscores, not starting with a digit)".into(),
        ));
    }
    for backend in Backend::ALL {
        let Some(limit) = backend.identifier_limit() else {
            continue;
        };
        // Longest first, so the message names the name that binds.
        let mut suffixes: Vec<&str> = std::iter::once("").chain(DERIVED_TABLE_SUFFIXES).collect();
        suffixes.sort_by_key(|suffix| std::cmp::Reverse(suffix.len()));
        for suffix in suffixes {
            let derived = format!("{table}{suffix}");
            if derived.len() > limit {
                let what = if suffix.is_empty() {
                    "it".to_string()
                } else {
                    format!("`{derived}`, which dbmigrate derives from it,")
                };
                return Err(error(format!(
                    "is {} characters long: {what} would not fit {backend}'s {limit}-character identifier limit; \
                     use at most {MAX_TABLE_NAME_LEN} characters",
                    table.len()
                )));
            }
        }
    }
    Ok(())
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
        check_table_name(&self.table)
            .map_err(|error| format!("table = {:?} {}", error.table, error.reason))
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

    #[test]
    fn reads_the_backends_the_revisions_are_written_for() {
        let text = "[package.metadata.dbmigrate]\nbackends = [\"postgres\", \"mariadb\", \"postgresql\"]\n";
        let config = Config::from_manifest(Path::new("Cargo.toml"), text).unwrap();
        assert_eq!(
            config.backends,
            Some(vec![Backend::Postgres, Backend::MySql])
        );
        for bad in [
            "backends = []",
            "backends = [\"oracle\"]",
            "backends = \"postgres\"",
        ] {
            let text = format!("[package.metadata.dbmigrate]\n{bad}\n");
            assert!(
                Config::from_manifest(Path::new("Cargo.toml"), &text).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_table_name_is_a_plain_identifier_whose_derived_names_fit_every_backend() {
        for good in [
            "refinery_schema_history",
            "_h",
            "History2",
            &"h".repeat(MAX_TABLE_NAME_LEN),
        ] {
            assert_eq!(check_table_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "x(a); DROP TABLE victim; --",
            "a\"b",
            "a`b",
            "a b",
            "1history",
            "histöry",
            "public.history",
        ] {
            let error = check_table_name(bad).unwrap_err();
            assert!(
                error.reason.contains("plain SQL identifier") || bad.is_empty(),
                "{bad}: {error}"
            );
        }
        // `<table>_dbmigrate` must fit PostgreSQL's 63 bytes: 53 characters is the most.
        for length in [54, 63, 64, 65] {
            let error = check_table_name(&"h".repeat(length)).unwrap_err();
            assert!(
                error.reason.contains("_dbmigrate`") && error.reason.contains("PostgreSQL's 63"),
                "{error}"
            );
        }
        let text = format!(
            "[package.metadata.dbmigrate]\ntable = \"{}\"\n",
            "h".repeat(54)
        );
        let message = Config::from_manifest(Path::new("Cargo.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(message.contains("at most 53 characters"), "{message}");
    }
}
