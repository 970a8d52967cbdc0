//! Which package and revision directory a command works on: found with `cargo metadata` (respecting
//! `--manifest-path` and `-p`), or taken straight from `--dir` without running cargo at all.

use std::path::{Component, Path, PathBuf};

use dbmigrate_runtime::config::ConfigError;
use dbmigrate_runtime::{Backend, Config};

use crate::cli::ProjectOptions;

/// The package a command works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// The package's name.
    pub name: String,
    /// Its Cargo.toml, absolute.
    pub manifest_path: PathBuf,
    /// The directory holding its Cargo.toml, absolute.
    pub root: PathBuf,
    /// The backend features (`postgres`, `mysql`, `sqlite`) it enables on its dbmigrate-runtime
    /// dependency: the databases its revisions are written for, unless the configuration says.
    pub runtime_backends: Vec<Backend>,
}

/// The revision directory with the settings that apply to it.
#[derive(Debug, Clone)]
pub struct Project {
    /// The revision directory as messages show it: relative to the current directory when possible,
    /// so output never depends on where the project happens to live.
    pub dir: PathBuf,
    /// `[package.metadata.dbmigrate]`, or the defaults when there is no package.
    pub config: Config,
    /// The package, when there is one (always, unless `--dir` was given outside any package).
    pub package: Option<Package>,
    /// Whether the directory came from `--dir` rather than from the settings.
    pub dir_given: bool,
}

/// Why the package or its settings could not be found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectError {
    /// The current directory is unusable (deleted, or not readable).
    #[error("cannot read the current directory")]
    CurrentDir(#[source] std::io::Error),
    /// `cargo metadata` failed: no Cargo.toml, a malformed one, or no cargo.
    #[error("cannot find the package: `cargo metadata` failed: {message}")]
    Metadata {
        /// cargo's message.
        message: String,
    },
    /// `-p` names no workspace member.
    #[error("the workspace has no package `{spec}`; its packages are: {}", members.join(", "))]
    UnknownPackage {
        /// What `-p` said.
        spec: String,
        /// The workspace members.
        members: Vec<String>,
    },
    /// Several packages and nothing to choose one by.
    #[error("the workspace has several packages ({}); choose one with `-p <name>`", members.join(", "))]
    AmbiguousPackage {
        /// The workspace members.
        members: Vec<String>,
    },
    /// The command needs a package, but there is none.
    #[error("no package here: {reason}")]
    NoPackage {
        /// Where the search looked.
        reason: String,
    },
    /// A Cargo.toml could not be read.
    #[error("cannot read {path}", path = path.display())]
    ReadManifest {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `[package.metadata.dbmigrate]` is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The revision directory does not exist yet.
    #[error("the revision directory {dir} does not exist", dir = dir.display())]
    MissingDirectory {
        /// The directory.
        dir: PathBuf,
        /// Whether it was named with `--dir` (so `init` must be told it too).
        dir_given: bool,
    },
    /// The revision directory is a file.
    #[error("{dir} is not a directory", dir = dir.display())]
    NotADirectory {
        /// The path.
        dir: PathBuf,
    },
}

impl ProjectError {
    /// What to do about it.
    pub fn help(&self) -> Option<String> {
        match self {
            Self::Metadata { .. } => Some(
                "run the command inside a cargo package, pass --manifest-path <Cargo.toml>, or pass --dir <DIR> to use a \
                 revision directory without any Cargo.toml"
                    .into(),
            ),
            Self::NoPackage { .. } => Some("pass --manifest-path <Cargo.toml> of the package to set up".into()),
            Self::Config(_) => Some("see the Configuration section of the README for the keys and their values".into()),
            Self::MissingDirectory { dir, dir_given: true } => Some(format!(
                "create it with `cargo dbmigrate init --dir {}` (no Cargo.toml needed), or pass --dir with an existing \
                 directory",
                dir.display()
            )),
            Self::MissingDirectory { dir_given: false, .. } => {
                Some("create it with `cargo dbmigrate init`, or pass --dir with an existing directory".into())
            }
            Self::CurrentDir(_)
            | Self::UnknownPackage { .. }
            | Self::AmbiguousPackage { .. }
            | Self::ReadManifest { .. }
            | Self::NotADirectory { .. } => None,
        }
    }
}

impl Project {
    /// The databases whose SQL dialects `check` reads the revisions in: the configured `backends`,
    /// else the backend features the package enables on dbmigrate-runtime, else all three.
    pub fn backends(&self) -> Vec<Backend> {
        if let Some(configured) = &self.config.backends {
            return configured.clone();
        }
        match &self.package {
            Some(package) if !package.runtime_backends.is_empty() => {
                package.runtime_backends.clone()
            }
            _ => Backend::ALL.to_vec(),
        }
    }

    /// Finds the package and revision directory the options describe.
    ///
    /// `--dir` without `-p` runs no `cargo metadata` (it is what CI and the benchmark use, and it must
    /// be fast); the other settings then come from `--manifest-path` or the nearest Cargo.toml, as cargo
    /// itself finds it, when that manifest has a `[package]`.
    pub fn locate(options: &ProjectOptions) -> Result<Self, ProjectError> {
        let cwd = current_dir()?;
        if let (Some(dir), None) = (&options.dir, &options.package) {
            let manifest = match &options.manifest.manifest_path {
                Some(path) => Some(path.clone()),
                None => nearest_manifest(&cwd),
            };
            let (config, package) = match manifest {
                Some(manifest) => read_package(&manifest, &cwd)?,
                None => (Config::default(), None),
            };
            return Ok(Self {
                dir: display_path(dir, &cwd),
                config,
                package,
                dir_given: true,
            });
        }
        let metadata = options
            .manifest
            .metadata()
            .no_deps()
            .exec()
            .map_err(|error| ProjectError::Metadata {
                message: metadata_message(error),
            })?;
        let hint = options
            .manifest
            .manifest_path
            .clone()
            .or_else(|| nearest_manifest(&cwd));
        let package = select_package(&metadata, options.package.as_deref(), hint.as_deref(), &cwd)?;
        let (config, _) = read_package(&package.manifest_path, &cwd)?;
        let dir = options
            .dir
            .clone()
            .unwrap_or_else(|| package.root.join(&config.dir));
        Ok(Self {
            dir: display_path(&dir, &cwd),
            config,
            package: Some(package),
            dir_given: options.dir.is_some(),
        })
    }

    /// The package, or an error saying the command needs one.
    pub fn require_package(&self) -> Result<&Package, ProjectError> {
        self.package
            .as_ref()
            .ok_or_else(|| ProjectError::NoPackage {
                reason: "no Cargo.toml with a [package] table in this directory or above".into(),
            })
    }

    /// Fails unless the revision directory exists (every command but `init` reads it).
    pub fn require_dir(&self) -> Result<(), ProjectError> {
        match std::fs::metadata(&self.dir) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(ProjectError::NotADirectory {
                dir: self.dir.clone(),
            }),
            Err(_) => Err(ProjectError::MissingDirectory {
                dir: self.dir.clone(),
                dir_given: self.dir_given,
            }),
        }
    }
}

/// cargo's own words when it ran and failed (without its `error:` prefix, which the report adds).
fn metadata_message(error: cargo_metadata::Error) -> String {
    match error {
        cargo_metadata::Error::CargoMetadata { stderr } => {
            let text = stderr.trim();
            text.strip_prefix("error: ").unwrap_or(text).to_string()
        }
        other => other.to_string(),
    }
}

fn current_dir() -> Result<PathBuf, ProjectError> {
    let cwd = std::env::current_dir().map_err(ProjectError::CurrentDir)?;
    // Canonical, so it compares equal to the canonical paths cargo reports through symlinked temp dirs.
    Ok(cwd.canonicalize().unwrap_or(cwd))
}

/// The Cargo.toml cargo would use from `dir`: the first one found walking up.
pub fn nearest_manifest(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .map(|d| d.join("Cargo.toml"))
        .find(|m| m.is_file())
}

/// Reads a manifest's dbmigrate settings and, when it has a `[package]`, the package it describes.
fn read_package(manifest: &Path, cwd: &Path) -> Result<(Config, Option<Package>), ProjectError> {
    let shown = display_path(manifest, cwd);
    let text = std::fs::read_to_string(manifest).map_err(|source| ProjectError::ReadManifest {
        path: shown.clone(),
        source,
    })?;
    let config = Config::from_manifest(&shown, &text)?;
    // The settings parser has already accepted the TOML, so a parse failure here cannot happen; a
    // manifest without `package.name` (a virtual workspace manifest) simply has no package.
    let name = text.parse::<toml_edit::DocumentMut>().ok().and_then(|doc| {
        doc.get("package")?
            .get("name")?
            .as_str()
            .map(str::to_string)
    });
    let package = name.map(|name| {
        let manifest_path =
            std::path::absolute(manifest).unwrap_or_else(|_| manifest.to_path_buf());
        let root = manifest_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let runtime_backends = manifest_backends(&text, &root);
        Package {
            name,
            manifest_path,
            root,
            runtime_backends,
        }
    });
    Ok((config, package))
}

fn select_package(
    metadata: &cargo_metadata::Metadata,
    spec: Option<&str>,
    manifest_hint: Option<&Path>,
    cwd: &Path,
) -> Result<Package, ProjectError> {
    let members = metadata.workspace_packages();
    let names = || {
        members
            .iter()
            .map(|p| p.name.to_string())
            .collect::<Vec<_>>()
    };
    let to_package = |p: &cargo_metadata::Package| {
        let manifest_path = p.manifest_path.clone().into_std_path_buf();
        let root = manifest_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        // cargo has resolved renames and workspace inheritance already.
        let features = p
            .dependencies
            .iter()
            .filter(|d| d.name == RUNTIME && d.kind == cargo_metadata::DependencyKind::Normal)
            .flat_map(|d| d.features.iter().map(String::as_str));
        Package {
            name: p.name.to_string(),
            manifest_path,
            root,
            runtime_backends: backends_of(features),
        }
    };
    if let Some(spec) = spec {
        // `name` or cargo's `name@version`.
        let (name, version) = spec
            .split_once('@')
            .map_or((spec, None), |(n, v)| (n, Some(v)));
        return members
            .iter()
            .find(|p| *p.name == *name && version.is_none_or(|v| p.version.to_string() == v))
            .map(|p| to_package(p))
            .ok_or_else(|| ProjectError::UnknownPackage {
                spec: spec.to_string(),
                members: names(),
            });
    }
    let canonical = |path: &Path| path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if let Some(hint) = manifest_hint.map(canonical)
        && let Some(found) = members
            .iter()
            .find(|p| canonical(p.manifest_path.as_std_path()) == hint)
    {
        return Ok(to_package(found));
    }
    if let [only] = members.as_slice() {
        return Ok(to_package(only));
    }
    // In a virtual workspace, the member whose directory holds the current directory.
    members
        .iter()
        .map(|p| to_package(p))
        .filter(|p| cwd.starts_with(canonical(&p.root)))
        .max_by_key(|p| p.root.components().count())
        .ok_or_else(|| ProjectError::AmbiguousPackage { members: names() })
}

/// The runtime crate, whose backend features tell which databases a package migrates.
const RUNTIME: &str = "dbmigrate-runtime";

/// The backends among dbmigrate-runtime features, in [`Backend::ALL`]'s order.
fn backends_of<'a>(features: impl IntoIterator<Item = &'a str>) -> Vec<Backend> {
    let features: Vec<&str> = features.into_iter().collect();
    Backend::ALL
        .into_iter()
        .filter(|backend| features.contains(&backend.name()))
        .collect()
}

/// The backend features a manifest enables on its dbmigrate-runtime dependency (under
/// `[dependencies]` or a `[target.*.dependencies]`, renamed or not), read from its text as `--dir`
/// does without running cargo. With `workspace = true`, the features the workspace's entry lists
/// count too.
fn manifest_backends(text: &str, root: &Path) -> Vec<Backend> {
    let Ok(document) = text.parse::<toml_edit::DocumentMut>() else {
        return Vec::new();
    };
    let mut tables: Vec<&toml_edit::Item> = document.get("dependencies").into_iter().collect();
    if let Some(targets) = document
        .get("target")
        .and_then(toml_edit::Item::as_table_like)
    {
        tables.extend(targets.iter().filter_map(|(_, t)| t.get("dependencies")));
    }
    let mut features = Vec::new();
    for table in tables.iter().filter_map(|t| t.as_table_like()) {
        for (key, dependency) in table.iter() {
            let package = dependency.get("package").and_then(toml_edit::Item::as_str);
            if package.unwrap_or(key) != RUNTIME {
                continue;
            }
            features.extend(listed_features(dependency));
            if dependency
                .get("workspace")
                .and_then(toml_edit::Item::as_bool)
                == Some(true)
            {
                features.extend(workspace_features(root, key));
            }
        }
    }
    backends_of(features.iter().map(String::as_str))
}

fn listed_features(dependency: &toml_edit::Item) -> Vec<String> {
    dependency
        .get("features")
        .and_then(toml_edit::Item::as_array)
        .map(|array| {
            array
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The features `[workspace.dependencies.<key>]` lists, in the nearest manifest above (or at)
/// `root` that has a `[workspace]` table.
fn workspace_features(root: &Path, key: &str) -> Vec<String> {
    let document = root
        .ancestors()
        .filter_map(|dir| std::fs::read_to_string(dir.join("Cargo.toml")).ok())
        .filter_map(|text| text.parse::<toml_edit::DocumentMut>().ok())
        .find(|document| document.get("workspace").is_some());
    document
        .as_ref()
        .and_then(|d| d.get("workspace")?.get("dependencies")?.get(key))
        .map(listed_features)
        .unwrap_or_default()
}

/// `path` as messages show it: relative to `base` (the current directory) when both are absolute,
/// with `..` where needed; a relative path is already relative to the current directory.
pub fn display_path(path: &Path, base: &Path) -> PathBuf {
    if path.is_relative() {
        return path.to_path_buf();
    }
    let path = canonical_prefix(path);
    let common = path
        .components()
        .zip(base.components())
        .take_while(|(a, b)| a == b)
        .count();
    // Sharing only the root (`/tmp/x` seen from `/work/app`), a path of `..`s would say less than
    // the absolute one.
    if common <= 1 {
        return path;
    }
    let mut relative = PathBuf::new();
    for _ in base.components().skip(common) {
        relative.push(Component::ParentDir);
    }
    for part in path.components().skip(common) {
        relative.push(part);
    }
    if relative.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        relative
    }
}

/// Canonicalises the longest existing prefix of `path`, so a directory that does not exist yet
/// (before `init`) still lines up with the canonical current directory.
fn canonical_prefix(path: &Path) -> PathBuf {
    let mut missing = Vec::new();
    let mut existing = path;
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            return missing
                .iter()
                .rev()
                .fold(canonical, |acc: PathBuf, part| acc.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                missing.push(name.to_os_string());
                existing = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_shown_relative_to_the_current_directory() {
        let temp = tempfile::tempdir().unwrap();
        let base = temp.path().canonicalize().unwrap();
        std::fs::create_dir_all(base.join("app/src")).unwrap();
        assert_eq!(
            display_path(&base.join("app/migrations"), &base),
            Path::new("app/migrations")
        );
        assert_eq!(
            display_path(&base.join("app/migrations"), &base.join("app/src")),
            Path::new("../migrations")
        );
        assert_eq!(display_path(&base, &base), Path::new("."));
        assert_eq!(
            display_path(Path::new("rel/dir"), &base),
            Path::new("rel/dir")
        );
        assert_eq!(
            display_path(Path::new("/"), &base.join("a")),
            Path::new("/")
        );
    }

    #[test]
    fn the_backends_are_the_runtime_features_the_manifest_enables() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("app");
        std::fs::create_dir(&root).unwrap();
        let read = |text: &str| manifest_backends(text, &root);
        assert_eq!(
            read(
                "[dependencies]\ndbmigrate-runtime = { version = \"0.1\", features = [\"sqlite\", \"postgres\"] }\n"
            ),
            [Backend::Postgres, Backend::Sqlite]
        );
        assert_eq!(
            read(
                "[target.'cfg(unix)'.dependencies]\nmigrations = { package = \"dbmigrate-runtime\", version = \"0.1\", features = [\"mysql\"] }\n"
            ),
            [Backend::MySql]
        );
        // The build dependency enables no backend; neither does a manifest without the runtime.
        assert_eq!(
            read("[build-dependencies]\ndbmigrate-runtime = \"0.1\"\n"),
            []
        );
        assert_eq!(read("[dependencies]\nserde = \"1\"\n"), []);
        std::fs::write(
            temp.path().join("Cargo.toml"),
            "[workspace]\nmembers = [\"app\"]\n[workspace.dependencies]\ndbmigrate-runtime = { version = \"0.1\", features = [\"postgres\"] }\n",
        )
        .unwrap();
        assert_eq!(
            read(
                "[dependencies]\ndbmigrate-runtime = { workspace = true, features = [\"sqlite\"] }\n"
            ),
            [Backend::Postgres, Backend::Sqlite]
        );
    }

    #[test]
    fn the_nearest_manifest_is_found_walking_up() {
        let temp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(temp.path().join("a/b")).unwrap();
        std::fs::write(
            temp.path().join("a/Cargo.toml"),
            "[package]\nname = \"a\"\n",
        )
        .unwrap();
        assert_eq!(
            nearest_manifest(&temp.path().join("a/b")),
            Some(temp.path().join("a/Cargo.toml"))
        );
    }

    #[test]
    fn a_virtual_manifest_gives_settings_but_no_package() {
        let temp = tempfile::tempdir().unwrap();
        let manifest = temp.path().join("Cargo.toml");
        std::fs::write(&manifest, "[workspace]\nmembers = []\n").unwrap();
        let (config, package) = read_package(&manifest, temp.path()).unwrap();
        assert_eq!((config, package), (Config::default(), None));
        std::fs::write(
            &manifest,
            "[package]\nname = \"app\"\n[package.metadata.dbmigrate]\ndir = \"db\"\n",
        )
        .unwrap();
        let (config, package) = read_package(&manifest, temp.path()).unwrap();
        assert_eq!(config.dir, Path::new("db"));
        assert_eq!(package.unwrap().name, "app");
    }
}
