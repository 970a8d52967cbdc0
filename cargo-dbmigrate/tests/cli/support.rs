//! A sandbox per test: a temporary directory, fixture copies, and the command with a pinned clock.

use std::path::{Path, PathBuf};

pub use dbmigrate_test_support::Database as TestDb;
use snapbox::cmd::{Command, cargo_bin};
use snapbox::{Assert, Data, Redactions};

/// The time `DBMIGRATE_NOW` pins for every command, so written files are reproducible.
pub const NOW: &str = "2026-11-25T10:00:00Z";

/// This repository's root.
pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .canonicalize()
        .unwrap()
}

/// The repository's `tests/fixtures`.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// A temporary working directory; removed when dropped.
pub struct Sandbox {
    temp: tempfile::TempDir,
}

impl Sandbox {
    /// An empty sandbox.
    pub fn new() -> Self {
        Self {
            temp: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// A sandbox whose `migrations/` is a copy of `tests/fixtures/<name>`.
    pub fn with_fixture(name: &str) -> Self {
        let sandbox = Self::new();
        copy_tree(&fixtures().join(name), &sandbox.path().join("migrations"));
        sandbox
    }

    /// The sandbox directory.
    pub fn path(&self) -> &Path {
        self.temp.path()
    }

    /// `cargo-dbmigrate dbmigrate <args>` run in the sandbox, as cargo would run it, with the clock
    /// pinned and the environment that affects output cleared.
    pub fn cmd(&self, args: &[&str]) -> Command {
        Command::new(cargo_bin!("cargo-dbmigrate"))
            .with_assert(self.assert())
            .arg("dbmigrate")
            .args(args)
            .current_dir(self.path())
            .env("DBMIGRATE_NOW", NOW)
            .env("COLUMNS", "100")
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR")
            .env_remove("CLICOLOR_FORCE")
            // Online commands read DATABASE_URL; tests that want one set it themselves.
            .env_remove("DATABASE_URL")
    }

    /// Snapshot comparison: exact text (no `\` to `/` rewriting), with the sandbox path shown as
    /// `[ROOT]` where a message cannot avoid it (cargo's own errors), and this repository as `[REPO]`
    /// (the path dependencies `init` prints for a CLI built from it).
    pub fn assert(&self) -> Assert {
        let mut redactions = Redactions::new();
        let root = self.path().canonicalize().unwrap();
        redactions.insert("[ROOT]", root).unwrap();
        redactions.insert("[REPO]", repository()).unwrap();
        Assert::new()
            .action_env(snapbox::assert::DEFAULT_ACTION_ENV)
            .normalize_paths(false)
            .redact_with(redactions)
    }

    /// Compares a file the command wrote with its snapshot.
    pub fn assert_file(&self, relative: &str, expected: Data) {
        self.assert().eq(self.read(relative), expected);
    }

    /// Writes a file (creating directories).
    pub fn write(&self, relative: &str, text: &str) {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Reads a file.
    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path().join(relative))
            .unwrap_or_else(|e| panic!("{relative}: {e}"))
    }

    /// The file names in a directory of the sandbox, sorted, one per line.
    pub fn listing(&self, relative: &str) -> String {
        let mut names: Vec<String> = std::fs::read_dir(self.path().join(relative))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names.iter().map(|n| format!("{n}\n")).collect()
    }
}

/// Copies a directory tree; symlinked files become plain copies of their targets.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}
