//! `cargo dbmigrate init`: the revision directory, `[package.metadata.dbmigrate]`, and the build
//! script that embeds the revisions; what it cannot safely edit, it prints exactly.
//!
//! Running it again changes nothing and says so. With `--dir` outside any package it creates the
//! directory alone, so that the other commands' `--dir` mode can start from nothing.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use dbmigrate_runtime::VersionWidth;
use dbmigrate_runtime::config::ConfigError;
use toml_edit::{DocumentMut, Item, Table, value};

use crate::cli::InitArgs;
use crate::error::Error;
use crate::exit::Exit;
use crate::project::{Package, Project, ProjectError, display_path};
use crate::render::{GOOD, Output, paint};

/// The call a build script needs.
const EMBED_CALL: &str = "dbmigrate_runtime::build::embed();";

/// Inside the revision directory: the stored checksums cover every byte, so git must not convert
/// line endings of revision files. It also keeps the new, empty directory in git.
const GITATTRIBUTES: &str =
    "# Revision checksums cover every byte: keep line endings exactly as written.\n* -text\n";

/// What git should ignore in the package: the SQLite migration lock file, `<database>-dbmigrate.lock`,
/// created next to the database by every run that takes the lock.
const LOCK_FILE_PATTERN: &str = "*-dbmigrate.lock";

const BUILD_SCRIPT: &str = "\
// Embeds the revision directory into the binary; cargo rebuilds whenever a revision is added,
// edited or removed, and a broken revision chain fails the build.
fn main() {
    dbmigrate_runtime::build::embed();
}
";

/// What one run did and what it leaves to the user.
#[derive(Debug, Default)]
struct Report {
    changed: Vec<String>,
    unchanged: Vec<String>,
    by_hand: Vec<String>,
}

/// Sets the package up; safe to run again.
pub fn run(args: &InitArgs, output: &mut Output) -> Result<Exit, Error> {
    let project = Project::locate(&args.project)?;
    if project.package.is_none() && args.project.dir.is_some() {
        return init_directory_alone(&project, args, output);
    }
    let package = project.require_package()?.clone();
    let cwd = std::env::current_dir().map_err(ProjectError::CurrentDir)?;
    let show =
        |path: &Path| display_path(path, &cwd.canonicalize().unwrap_or_else(|_| cwd.clone()));
    let mut report = Report::default();

    create_directory(&project.dir, &mut report)?;
    ignore_lock_files(&package.root.join(".gitignore"), &show, &mut report)?;
    let manifest_text = std::fs::read_to_string(&package.manifest_path)
        .map_err(Error::io("read", &package.manifest_path))?;
    let mut manifest: DocumentMut =
        manifest_text
            .parse()
            .map_err(|error: toml_edit::TomlError| {
                Error::Project(ProjectError::Config(ConfigError {
                    manifest: package.manifest_path.clone(),
                    message: error.to_string(),
                }))
            })?;
    let manifest_shown = show(&package.manifest_path);
    let dir_in_package = display_path(&absolute(&project.dir, &cwd), &package.root);
    // Only an explicit --dir can disagree with the settings; compared as files, not as spellings.
    let configured = package.root.join(&project.config.dir);
    let disagrees = args.project.dir.is_some()
        && configured.canonicalize().ok() != absolute(&project.dir, &cwd).canonicalize().ok();
    let numbering = Numbering::choose(args.timestamp, &project);
    add_settings(
        &mut manifest,
        &Settings {
            dir: &dir_in_package,
            configured: disagrees.then_some(project.config.dir.as_path()),
            numbering,
        },
        &manifest_shown,
        &mut report,
    );
    wire_build_script(&manifest, &package, &show, &mut report)?;
    list_missing_dependencies(&manifest, &manifest_shown, &mut report);
    let new_text = manifest.to_string();
    if new_text != manifest_text {
        std::fs::write(&package.manifest_path, new_text)
            .map_err(Error::io("write", &package.manifest_path))?;
    }

    print_report(&report, output);
    if !report.changed.is_empty() {
        let dir = project.dir.display();
        output.line(format!(
            "\nNext steps:\n  cargo dbmigrate new \"create users\"      # writes a revision into {dir}\n  \
             cargo dbmigrate check                   # run this in CI too\n  \
             and in the application: static MIGRATIONS: dbmigrate_runtime::Embedded = \
             dbmigrate_runtime::include_migrations!();\n  then at startup:        MIGRATIONS.upgrade(&pool).await?;"
        ));
    }
    Ok(Exit::Success)
}

fn print_report(report: &Report, output: &mut Output) {
    for line in &report.changed {
        output.line(format!("{}: {line}", paint(GOOD, "changed")));
    }
    for line in &report.unchanged {
        output.line(format!("unchanged: {line}"));
    }
    if report.changed.is_empty() {
        output.line("nothing changed: everything init writes is already in place");
    }
    if !report.by_hand.is_empty() {
        output.line("\nTo do by hand:");
        for step in &report.by_hand {
            output.line(step);
        }
    }
}

/// `init --dir` where no Cargo.toml is found: the directory (with its `.gitattributes`) and the
/// lock-file entry in the `.gitignore` beside it, which is all `--dir` mode needs; wiring a package
/// is left for when there is one.
fn init_directory_alone(
    project: &Project,
    args: &InitArgs,
    output: &mut Output,
) -> Result<Exit, Error> {
    let mut report = Report::default();
    create_directory(&project.dir, &mut report)?;
    let beside = project.dir.parent().unwrap_or(Path::new(""));
    ignore_lock_files(
        &beside.join(".gitignore"),
        &|p| p.to_path_buf(),
        &mut report,
    )?;
    if args.timestamp {
        report.by_hand.push(
            "  --timestamp is a setting of the package: without one, pass --timestamp to each \
             `cargo dbmigrate new` (timestamp versions need `version-width = \"i64\"`, which only a \
             Cargo.toml can set)"
                .into(),
        );
    }
    print_report(&report, output);
    let dir = project.dir.display();
    output.line(format!(
        "\nNo Cargo.toml here, so only the revision directory was set up; the commands work on it with \
         --dir:\n  cargo dbmigrate new \"create users\" --dir {dir}\n  cargo dbmigrate check --dir {dir}\n\
         To embed the revisions in an application, run `cargo dbmigrate init --dir <path to {dir}>` in its \
         package."
    ));
    Ok(Exit::Success)
}

/// Adds the SQLite lock-file pattern to a `.gitignore`, creating it if needed; an existing file
/// keeps every line it has.
fn ignore_lock_files(
    gitignore: &Path,
    show: &dyn Fn(&Path) -> PathBuf,
    report: &mut Report,
) -> Result<(), Error> {
    let shown = show(gitignore);
    let existing = match std::fs::read_to_string(gitignore) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => return Err(Error::io("read", gitignore)(error)),
    };
    if existing
        .lines()
        .any(|line| line.trim() == LOCK_FILE_PATTERN)
    {
        report
            .unchanged
            .push(format!("{} ignores {LOCK_FILE_PATTERN}", shown.display()));
        return Ok(());
    }
    let mut text = existing.clone();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let _ = writeln!(
        text,
        "# The lock file `cargo dbmigrate` and dbmigrate-runtime take next to a SQLite database.\n{LOCK_FILE_PATTERN}"
    );
    std::fs::write(gitignore, text).map_err(Error::io("write", gitignore))?;
    let action = if existing.is_empty() {
        "created"
    } else {
        "added to"
    };
    report.changed.push(format!(
        "{action} {} (ignores {LOCK_FILE_PATTERN}, the lock file beside a SQLite database)",
        shown.display()
    ));
    Ok(())
}

fn absolute(path: &Path, cwd: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    }
}

fn create_directory(dir: &Path, report: &mut Report) -> Result<(), Error> {
    if dir.is_dir() {
        report.unchanged.push(format!("{} exists", dir.display()));
    } else {
        std::fs::create_dir_all(dir).map_err(Error::io("create", dir))?;
        report.changed.push(format!("created {}", dir.display()));
    }
    let attributes = dir.join(".gitattributes");
    if !attributes.exists() {
        std::fs::write(&attributes, GITATTRIBUTES).map_err(Error::io("write", &attributes))?;
        report.changed.push(format!(
            "created {} (git keeps revision files byte for byte)",
            attributes.display()
        ));
    }
    Ok(())
}

/// How `init` numbers revisions: the settings it writes, or the reason it leaves them alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Numbering {
    /// The default: max + 1, 32-bit versions; nothing to write.
    Sequential,
    /// `--timestamp`: `versioning = "timestamp"` and `version-width = "i64"`.
    Timestamp,
    /// `--timestamp` where the directory already has 32-bit revisions: widening them would change
    /// every checksum, so the choice is the user's.
    TimestampRefused,
}

impl Numbering {
    fn choose(timestamp: bool, project: &Project) -> Self {
        if !timestamp {
            return Self::Sequential;
        }
        let has_revisions = project.config.version_width == VersionWidth::I32
            && std::fs::read_dir(&project.dir).is_ok_and(|entries| {
                entries.filter_map(Result::ok).any(|entry| {
                    let name = entry.file_name();
                    let name = name.to_string_lossy();
                    name.starts_with(['V', 'U'])
                        && (name.ends_with(".sql") || name.ends_with(".rs"))
                })
            });
        if has_revisions {
            Self::TimestampRefused
        } else {
            Self::Timestamp
        }
    }
}

/// What `[package.metadata.dbmigrate]` should say.
struct Settings<'a> {
    /// The revision directory, relative to the package.
    dir: &'a Path,
    /// The directory the existing settings name, when `--dir` chose another one.
    configured: Option<&'a Path>,
    numbering: Numbering,
}

const WIDENING_CHANGES_CHECKSUMS: &str = "the revision directory already has revisions with 32-bit versions, and \
    `version-width = \"i64\"` changes their checksums (refinery's covers the version's width), so every database \
    that applied them would report them divergent: keep sequential versions, or switch before any database has \
    applied them by setting `versioning = \"timestamp\"` and `version-width = \"i64\"` in";

/// Adds `[package.metadata.dbmigrate]` with the directory (and timestamp numbering), keeping every
/// other line and comment; settings that are already there are the user's and are never rewritten.
fn add_settings(
    manifest: &mut DocumentMut,
    settings: &Settings<'_>,
    shown: &Path,
    report: &mut Report,
) {
    let dir_text = settings.dir.to_string_lossy().replace('\\', "/");
    let existing = manifest
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("dbmigrate"));
    if let Some(existing) = existing {
        report.unchanged.push(format!(
            "{} has [package.metadata.dbmigrate]",
            shown.display()
        ));
        if let Some(configured) = settings.configured {
            report.by_hand.push(format!(
                "  {} configures dir = {:?}, not {dir_text:?}: set `dir = {dir_text:?}` there if {dir_text} is \
                 the revision directory",
                shown.display(),
                configured.to_string_lossy()
            ));
        }
        let says =
            |key: &str, expected: &str| existing.get(key).and_then(Item::as_str) == Some(expected);
        match settings.numbering {
            Numbering::Timestamp
                if !(says("versioning", "timestamp") && says("version-width", "i64")) =>
            {
                report.by_hand.push(format!(
                    "  for timestamp versions, set `versioning = \"timestamp\"` and `version-width = \"i64\"` in \
                     [package.metadata.dbmigrate] of {}",
                    shown.display()
                ));
            }
            Numbering::TimestampRefused => report.by_hand.push(format!(
                "  {WIDENING_CHANGES_CHECKSUMS} {}",
                shown.display()
            )),
            _ => {}
        }
        return;
    }
    let mut table = Table::new();
    table.insert("dir", value(dir_text.clone()));
    match settings.numbering {
        Numbering::Timestamp => {
            table.insert("versioning", value("timestamp"));
            table.insert("version-width", value("i64"));
        }
        Numbering::TimestampRefused => report.by_hand.push(format!(
            "  {WIDENING_CHANGES_CHECKSUMS} {}",
            shown.display()
        )),
        Numbering::Sequential => {}
    }
    let Some(package) = manifest.get_mut("package").and_then(Item::as_table_mut) else {
        report.by_hand.push(format!(
            "  add to {}:\n\n[package.metadata.dbmigrate]\n{table}",
            shown.display()
        ));
        return;
    };
    let metadata = package.entry("metadata").or_insert_with(|| {
        let mut table = Table::new();
        // `[package.metadata]` alone would be an empty header line; only the sub-table is written.
        table.set_implicit(true);
        Item::Table(table)
    });
    let Some(metadata) = metadata.as_table_mut() else {
        report.by_hand.push(format!(
            "  {} writes package.metadata inline; add `dbmigrate = {{ dir = {dir_text:?} }}` to it",
            shown.display()
        ));
        return;
    };
    metadata.insert("dbmigrate", Item::Table(table));
    let numbering = if settings.numbering == Numbering::Timestamp {
        ", timestamp versions"
    } else {
        ""
    };
    report.changed.push(format!(
        "added [package.metadata.dbmigrate] to {}{numbering}",
        shown.display()
    ));
}

/// Creates `build.rs` when the package has no build script; an existing one is never edited.
fn wire_build_script(
    manifest: &DocumentMut,
    package: &Package,
    show: &dyn Fn(&Path) -> PathBuf,
    report: &mut Report,
) -> Result<(), Error> {
    let configured = manifest.get("package").and_then(|p| p.get("build"));
    let script = match configured.and_then(Item::as_value) {
        Some(v) if v.as_bool() == Some(false) => {
            report.by_hand.push(
                "  Cargo.toml has `build = false`; remove it and create build.rs with `fn main() { \
                 dbmigrate_runtime::build::embed(); }` to embed the revisions"
                    .into(),
            );
            return Ok(());
        }
        Some(v) => package.root.join(v.as_str().unwrap_or("build.rs")),
        None => package.root.join("build.rs"),
    };
    let shown = show(&script);
    match std::fs::read_to_string(&script) {
        Ok(text) if text.contains("dbmigrate_runtime::build::embed") => {
            report
                .unchanged
                .push(format!("{} embeds the revisions", shown.display()));
        }
        Ok(_) => report.by_hand.push(format!(
            "  add this line to fn main() in {}:\n\n    {EMBED_CALL}\n",
            shown.display()
        )),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            std::fs::write(&script, BUILD_SCRIPT).map_err(Error::io("write", &script))?;
            report.changed.push(format!(
                "created {} (embeds the revisions at build time)",
                shown.display()
            ));
        }
        Err(error) => return Err(Error::io("read", &script)(error)),
    }
    Ok(())
}

/// Where the application gets dbmigrate-runtime from: the same place this CLI was built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeSource {
    /// A clone of this repository (`cargo install --path`): path dependencies on its runtime crate.
    Path(PathBuf),
    /// crates.io: a version requirement, `0.1` for this CLI's 0.1.x.
    Registry(String),
}

impl RuntimeSource {
    /// How this CLI was installed. A build from a clone still finds the runtime beside its own
    /// sources; a build from crates.io or a git checkout lives in cargo's home, whose copies cargo
    /// may delete, so a version is printed for those.
    pub fn of_this_build() -> Self {
        let sources = Path::new(env!("CARGO_MANIFEST_DIR"));
        let runtime = sources
            .parent()
            .map(|repository| repository.join("dbmigrate-runtime"));
        let is_runtime = |dir: &Path| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|text| text.contains("name = \"dbmigrate-runtime\""))
        };
        match runtime {
            Some(runtime) if is_runtime(&runtime) && !in_cargo_home(sources) => Self::Path(runtime),
            _ => Self::Registry(version_requirement(env!("CARGO_PKG_VERSION"))),
        }
    }

    /// `dbmigrate-runtime = ...` with these extra keys (`features = [...]`).
    fn line(&self, features: Option<&str>) -> String {
        let source = match self {
            Self::Path(path) => format!("path = {:?}", path.to_string_lossy().replace('\\', "/")),
            Self::Registry(version) => format!("version = \"{version}\""),
        };
        match features {
            Some(features) => format!("dbmigrate-runtime = {{ {source}, {features} }}"),
            None => format!("dbmigrate-runtime = {{ {source} }}"),
        }
    }
}

/// Whether a path is inside cargo's home (`$CARGO_HOME`, else `~/.cargo`): a registry or git copy.
fn in_cargo_home(path: &Path) -> bool {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    home.is_some_and(|home| {
        let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        canonical(path).starts_with(canonical(&home))
    })
}

/// The dependency lines an application needs, as `init` prints them and the README shows them (with
/// `/path/to/cargo-dbmigrate` for a clone's path). `main` uses sqlx's pool and tokio's runtime;
/// dbmigrate-runtime takes sqlx 0.9 pools, so sqlx must be 0.9.
pub fn dependency_lines(source: &RuntimeSource) -> String {
    format!(
        "[dependencies]\n\
         {}   # or \"sqlite\", \"mysql\"\n\
         sqlx = {{ version = \"0.9\", default-features = false, features = [\"runtime-tokio\", \"postgres\"] }}   # sqlx 0.9 is required, with the same backend\n\
         tokio = {{ version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }}\n\
         \n\
         [build-dependencies]\n\
         {}   # no backend feature: the build script compiles no database driver\n",
        source.line(Some("features = [\"postgres\"]")),
        source.line(None),
    )
}

/// The runtime must be both a dependency (to apply) and a build-dependency (to embed), and the
/// application's `main` needs sqlx 0.9 and tokio. Which database backend to enable is the user's
/// choice, so the lines are printed rather than guessed.
fn list_missing_dependencies(manifest: &DocumentMut, shown: &Path, report: &mut Report) {
    let runtime_listed = depends_on_runtime(manifest, "dependencies");
    let build_listed = depends_on_runtime(manifest, "build-dependencies");
    for (listed, table) in [
        (runtime_listed, "[dependencies]"),
        (build_listed, "[build-dependencies]"),
    ] {
        if listed {
            report
                .unchanged
                .push(format!("dbmigrate-runtime is in {table}"));
        }
    }
    let sqlx = dependency_version(manifest, "sqlx");
    if let Some(Some(version)) = &sqlx
        && !version
            .trim_start_matches(['=', '^', '~'])
            .starts_with("0.9")
    {
        report.by_hand.push(format!(
            "  change sqlx in {} to version \"0.9\" (it says {version:?}): dbmigrate-runtime takes sqlx 0.9 pools, and \
             with another sqlx the build fails with E0277 about `Pool`",
            shown.display()
        ));
    }
    if runtime_listed && build_listed {
        return;
    }
    let lines = dependency_lines(&RuntimeSource::of_this_build());
    let mut notes = Vec::new();
    if sqlx.is_some() {
        notes.push("sqlx");
    }
    if dependency_version(manifest, "tokio").is_some() {
        notes.push("tokio");
    }
    let skip = if notes.is_empty() {
        String::new()
    } else {
        let verb = if notes.len() == 1 { "is" } else { "are" };
        format!(
            "; {} {verb} already there: leave out those lines",
            notes.join(" and ")
        )
    };
    report.by_hand.push(format!(
        "  add to {} (choose the database backend{skip}):\n\n{lines}",
        shown.display()
    ));
}

/// `0.1` for version 0.1.x: the releases this CLI works with.
fn version_requirement(version: &str) -> String {
    let mut parts = version.split('.');
    match (parts.next(), parts.next()) {
        (Some(major), Some(minor)) => format!("{major}.{minor}"),
        _ => version.to_string(),
    }
}

/// Whether `[dependencies]` lists `name`, and with which version requirement if it says one.
fn dependency_version(manifest: &DocumentMut, name: &str) -> Option<Option<String>> {
    let item = manifest.get("dependencies")?.as_table_like()?.get(name)?;
    let version = item
        .as_str()
        .or_else(|| item.get("version").and_then(Item::as_str))
        .map(str::to_string);
    Some(version)
}

/// Whether `[table]` lists the runtime, under its own name or renamed with `package = ...`.
fn depends_on_runtime(manifest: &DocumentMut, table: &str) -> bool {
    let Some(dependencies) = manifest.get(table).and_then(Item::as_table_like) else {
        return false;
    };
    dependencies.iter().any(|(key, item)| {
        key == crate::runner_crate::RUNTIME
            || item.get("package").and_then(Item::as_str) == Some(crate::runner_crate::RUNTIME)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_added_without_disturbing_the_manifest() {
        let text =
            "# my app\n[package]\nname = \"app\" # the name\n\n[dependencies]\nserde = \"1\"\n";
        let mut manifest: DocumentMut = text.parse().unwrap();
        let mut report = Report::default();
        add_settings(
            &mut manifest,
            &Settings {
                dir: Path::new("migrations"),
                configured: None,
                numbering: Numbering::Sequential,
            },
            Path::new("Cargo.toml"),
            &mut report,
        );
        let written = manifest.to_string();
        assert!(
            written.starts_with("# my app\n[package]\nname = \"app\" # the name\n"),
            "{written}"
        );
        assert!(
            written.contains("[package.metadata.dbmigrate]\ndir = \"migrations\"\n"),
            "{written}"
        );
        assert!(!written.contains("[package.metadata]\n"), "{written}");
        let parsed =
            dbmigrate_runtime::Config::from_manifest(Path::new("Cargo.toml"), &written).unwrap();
        assert_eq!(parsed.dir, Path::new("migrations"));
    }

    #[test]
    fn renamed_runtime_dependencies_count() {
        let manifest: DocumentMut =
            "[dependencies]\ndb = { package = \"dbmigrate-runtime\", version = \"0.1\" }\n"
                .parse()
                .unwrap();
        assert!(depends_on_runtime(&manifest, "dependencies"));
        assert!(!depends_on_runtime(&manifest, "build-dependencies"));
    }

    #[test]
    fn versions_are_required_as_major_and_minor() {
        assert_eq!(version_requirement("0.1.7"), "0.1");
        assert_eq!(version_requirement("1.2.0-rc.1"), "1.2");
    }
}
