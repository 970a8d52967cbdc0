//! `cargo dbmigrate init`: the revision directory, `[package.metadata.dbmigrate]`, and the build
//! script that embeds the revisions; what it cannot safely edit, it prints exactly.
//!
//! Running it again changes nothing and says so.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

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
    let package = project.require_package()?.clone();
    let cwd = std::env::current_dir().map_err(ProjectError::CurrentDir)?;
    let show =
        |path: &Path| display_path(path, &cwd.canonicalize().unwrap_or_else(|_| cwd.clone()));
    let mut report = Report::default();

    create_directory(&project.dir, &mut report)?;
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
    add_settings(
        &mut manifest,
        &dir_in_package,
        disagrees.then_some(project.config.dir.as_path()),
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

/// Adds `[package.metadata.dbmigrate]` with the directory, keeping every other line and comment.
/// `configured` is the directory the existing settings name, when `--dir` chose another one.
fn add_settings(
    manifest: &mut DocumentMut,
    dir: &Path,
    configured: Option<&Path>,
    shown: &Path,
    report: &mut Report,
) {
    let dir_text = dir.to_string_lossy().replace('\\', "/");
    let present = manifest
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("dbmigrate"))
        .is_some();
    if present {
        report.unchanged.push(format!(
            "{} has [package.metadata.dbmigrate]",
            shown.display()
        ));
        if let Some(configured) = configured {
            report.by_hand.push(format!(
                "  {} configures dir = {:?}, not {dir_text:?}: set `dir = {dir_text:?}` there if {dir_text} is \
                 the revision directory",
                shown.display(),
                configured.to_string_lossy()
            ));
        }
        return;
    }
    let Some(package) = manifest.get_mut("package").and_then(Item::as_table_mut) else {
        report.by_hand.push(format!(
            "  add to {}:\n\n[package.metadata.dbmigrate]\ndir = {dir_text:?}\n",
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
    let mut settings = Table::new();
    settings.insert("dir", value(dir_text));
    metadata.insert("dbmigrate", Item::Table(settings));
    report.changed.push(format!(
        "added [package.metadata.dbmigrate] to {}",
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

/// The runtime must be both a dependency (to apply) and a build-dependency (to embed). Which database
/// backend to enable is the user's choice, so the lines are printed rather than guessed.
fn list_missing_dependencies(manifest: &DocumentMut, shown: &Path, report: &mut Report) {
    let version = runtime_requirement();
    let mut lines = String::new();
    if !depends_on_runtime(manifest, "dependencies") {
        let _ = write!(
            lines,
            "\n[dependencies]\ndbmigrate-runtime = {{ version = \"{version}\", features = [\"postgres\"] }}   # or \"sqlite\", \"mysql\"\n"
        );
    } else {
        report
            .unchanged
            .push("dbmigrate-runtime is in [dependencies]".into());
    }
    if !depends_on_runtime(manifest, "build-dependencies") {
        let _ = write!(
            lines,
            "\n[build-dependencies]\ndbmigrate-runtime = \"{version}\"   # no backend feature: the build script needs no database driver\n"
        );
    } else {
        report
            .unchanged
            .push("dbmigrate-runtime is in [build-dependencies]".into());
    }
    if !lines.is_empty() {
        report.by_hand.push(format!(
            "  add to {} (choose the database backend):\n{lines}",
            shown.display()
        ));
    }
}

/// `0.1` for this CLI's version 0.1.x: the runtime release it was built with.
fn runtime_requirement() -> String {
    let version = env!("CARGO_PKG_VERSION");
    let mut parts = version.split('.');
    match (parts.next(), parts.next()) {
        (Some(major), Some(minor)) => format!("{major}.{minor}"),
        _ => version.to_string(),
    }
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
            Path::new("migrations"),
            None,
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
}
