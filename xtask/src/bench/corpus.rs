//! A chain of small SQL revisions written for every tool: ours (a dbmigrate directory, with headers
//! and downgrades as `cargo dbmigrate new` writes them), refinery, sqlx, and the single script the
//! limit runs.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use dbmigrate_runtime::checksum::refinery_checksum;
use dbmigrate_runtime::revision::RevisionSource;
use dbmigrate_runtime::{Migrations, VersionWidth};

use super::databases::Server;

pub const HISTORY_TABLE: &str = "refinery_schema_history";

/// `count` revisions, each a small table and one row in it: the schema-plus-seed revision most
/// projects are made of.
pub struct SmallRevisions {
    pub count: usize,
}

impl SmallRevisions {
    pub fn new(count: usize) -> Self {
        Self { count }
    }

    fn versions(&self) -> impl Iterator<Item = usize> {
        1..=self.count
    }

    /// The SQL of revision `version`, the same for every tool and backend.
    pub fn sql(version: usize) -> String {
        format!(
            "CREATE TABLE t{version} (id INTEGER PRIMARY KEY, note VARCHAR(100));\n\
             INSERT INTO t{version} (id, note) VALUES (1, 'revision {version}');\n"
        )
    }

    fn name(version: usize) -> String {
        format!("revision_{version}")
    }

    /// Our files, in memory: what an application embeds.
    pub fn ours_sources(&self) -> Vec<(String, String)> {
        self.versions()
            .map(|version| {
                let revises = if version == 1 {
                    String::new()
                } else {
                    (version - 1).to_string()
                };
                let text = format!(
                    "-- Message: revision {version}\n-- Revises: {revises}\n-- Created: 2026-11-24T00:00:00Z\n\n\
                     -- migrate:upgrade\n{}\n-- migrate:downgrade\nDROP TABLE t{version};\n",
                    Self::sql(version)
                );
                (format!("V{version}__{}.sql", Self::name(version)), text)
            })
            .collect()
    }

    /// refinery's migrations, as its `embed_migrations!` runner builds them at run time.
    pub fn refinery(&self) -> anyhow::Result<Vec<refinery::Migration>> {
        self.versions()
            .map(|version| {
                Ok(refinery::Migration::unapplied(
                    &format!("V{version}__{}", Self::name(version)),
                    &Self::sql(version),
                )?)
            })
            .collect()
    }

    /// sqlx's migration directory (`<version>_<description>.sql`).
    pub fn write_sqlx_directory(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        for version in self.versions() {
            std::fs::write(
                dir.join(format!("{version}_{}.sql", Self::name(version))),
                Self::sql(version),
            )?;
        }
        Ok(())
    }

    /// The limit: every revision's SQL and refinery's history row for it, in one script for the
    /// server's own client, in as few transactions as the server allows.
    pub fn limit_script(&self, server: Server) -> String {
        let mut script = String::new();
        match server {
            // `psql -1` wraps the file in one transaction.
            Server::Postgres => {}
            // DDL commits implicitly on MariaDB; without autocommit, everything between two DDL
            // statements shares one transaction.
            Server::MariaDb => script.push_str("SET autocommit = 0;\n"),
            Server::Sqlite => script.push_str("BEGIN;\n"),
        }
        let _ = writeln!(
            script,
            "CREATE TABLE IF NOT EXISTS {HISTORY_TABLE}(version INT4 PRIMARY KEY, name VARCHAR(255), applied_on VARCHAR(255), checksum VARCHAR(255));"
        );
        for version in self.versions() {
            let sql = Self::sql(version);
            let name = Self::name(version);
            let checksum = refinery_checksum(&name, version as i64, VersionWidth::I32, &sql);
            script.push_str(&sql);
            let _ = writeln!(
                script,
                "INSERT INTO {HISTORY_TABLE} (version, name, applied_on, checksum) VALUES ({version}, '{name}', '2026-11-24T00:00:00Z', '{checksum}');"
            );
        }
        if server != Server::Postgres {
            script.push_str("COMMIT;\n");
        }
        script
    }
}

/// A revision set from in-memory files, exactly as `Embedded` builds one on first use.
pub fn migrations_from(files: &[(String, String)]) -> anyhow::Result<Migrations> {
    let sources = files.iter().map(|(name, text)| RevisionSource {
        path: PathBuf::from("migrations").join(name),
        bytes: Cow::Borrowed(text.as_bytes()),
    });
    Migrations::from_sources(sources, VersionWidth::I32, HISTORY_TABLE)
        .map_err(|problems| anyhow::anyhow!("the generated revisions do not load:\n{problems}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_gets_the_same_chain() {
        let revisions = SmallRevisions::new(3);
        let ours = migrations_from(&revisions.ours_sources()).unwrap();
        assert_eq!(ours.graph().head().unwrap().version, 3);
        assert_eq!(revisions.refinery().unwrap().len(), 3);
        let dir = tempfile::tempdir().unwrap();
        revisions.write_sqlx_directory(dir.path()).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
        let script = revisions.limit_script(Server::Sqlite);
        assert_eq!(
            script
                .matches("INSERT INTO refinery_schema_history")
                .count(),
            3
        );
        assert!(script.starts_with("BEGIN;") && script.ends_with("COMMIT;\n"));
    }
}
