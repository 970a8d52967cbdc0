//! A generated crate that compiles the project's Rust revisions together with the runtime, so the CLI
//! runs data steps with exactly the code the application binary runs.
//!
//! It depends on the same `dbmigrate-runtime` and the same dependencies as the package (data steps may
//! use any of them), with the same features and the workspace's profiles, and is built in the
//! package's own target directory: cargo then reuses what the package's build compiled (sqlx and the
//! rest) and compiles little more than the runner itself. It embeds the package's revision directory
//! through the runtime's build script, and executes one online command, read as JSON on its standard
//! input (it holds the database password), writing events and the response as JSON lines.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use cargo_metadata::diagnostic::DiagnosticLevel;
use cargo_metadata::{DependencyKind, Message, Metadata, Package};
use dbmigrate_runtime::online::{Event, Response, RunnerMessage};
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, Value};

use crate::progress::Verbosity;

/// The runtime crate's name as it appears in manifests.
pub const RUNTIME: &str = "dbmigrate-runtime";

/// The commands that work without the runner, because they run no Rust step (see
/// `commands::online::needs_compiled_steps`).
pub const WITHOUT_RUNNER: &str = "`status`, `current`, `stamp`, `resolve`, `repair` and `upgrade --dry-run` work without the runner";

/// Why the runner could not be prepared, built or run to its end.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunnerError {
    /// The package does not depend on the runtime, so there is no version to build Rust steps with.
    #[error(
        "package `{package}` has Rust revisions but does not depend on dbmigrate-runtime; add it to [dependencies] \
         (`cargo dbmigrate init` prints the lines)"
    )]
    NoRuntimeDependency {
        /// The package.
        package: String,
    },
    /// Writing the crate failed.
    #[error("cannot write {path}: {source}", path = path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// cargo could not be started.
    #[error("cannot run cargo: {0}")]
    Cargo(std::io::Error),
    /// The runner did not build: a Rust revision that does not compile, or a dependency that does not
    /// build or cannot be downloaded.
    #[error(
        "the runner for the Rust revisions did not build, and `{command}` runs them through it (cargo's messages are above)"
    )]
    BuildFailed {
        /// The command that needed the runner (`upgrade`, `downgrade`).
        command: &'static str,
        /// The revision files cargo reported errors in, as shown to the user; empty when the errors
        /// are elsewhere.
        revisions_with_errors: Vec<String>,
    },
    /// `cargo metadata` could not describe the package.
    #[error("cannot describe the package for the runner: {0}")]
    Metadata(String),
    /// The request could not be handed to the runner.
    #[error("cannot pass the command to the runner: {0}")]
    Request(String),
    /// The runner was built but could not be started.
    #[error("cannot start the runner {binary}: {source}", binary = binary.display())]
    Start {
        /// Its binary.
        binary: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The runner ended without reporting how the command went: killed by a signal, or crashed.
    #[error(
        "the runner {how} before `{command}` finished, so what it changed in the database is unknown here"
    )]
    Interrupted {
        /// The command it was running (`upgrade head`).
        command: String,
        /// How it ended: `was killed by signal 9 (SIGKILL)`, `exited with code 101 without reporting`.
        how: String,
    },
}

impl RunnerError {
    /// What to do about it.
    pub fn help(&self) -> Option<String> {
        match self {
            Self::BuildFailed {
                revisions_with_errors,
                ..
            } if revisions_with_errors.is_empty() => Some(format!(
                "cargo's errors are in no revision file (a dependency that does not build, or cannot be downloaded); {WITHOUT_RUNNER}"
            )),
            Self::BuildFailed {
                revisions_with_errors,
                ..
            } => Some(format!(
                "cargo reports errors in {}: fix them (`cargo build` of the application reports the same); {WITHOUT_RUNNER}",
                revisions_with_errors.join(", ")
            )),
            Self::Cargo(_) => Some("the online commands build Rust revisions with cargo; make sure it is on PATH".into()),
            Self::Interrupted { .. } => Some(
                "`cargo dbmigrate status` tells where the database stands: what committed is in the history, \
                 and a revision cut short part-way is listed as unfinished"
                    .into(),
            ),
            Self::NoRuntimeDependency { .. }
            | Self::Io { .. }
            | Self::Metadata(_)
            | Self::Request(_)
            | Self::Start { .. } => None,
        }
    }
}

/// The runner package's name: one per package, so runners of several packages can share a build
/// directory without overwriting each other's binary.
/// The runner package's name: one per package, so runners of several packages can share a build
/// directory without overwriting each other's binary.
fn runner_name(package: &str) -> String {
    format!("dbmigrate-runner-{package}")
}

/// Where the runner crate for `package` lives: inside the workspace's target directory, so it is
/// cached between runs and never inside the source tree.
pub fn location(metadata: &Metadata, package: &Package) -> PathBuf {
    metadata
        .target_directory
        .as_std_path()
        .join("dbmigrate")
        .join(format!("runner-{}", package.name))
}

/// The backend features of the runtime: the runner keeps the package's own (so the sqlx the package
/// built is reused as it is), or all three when the package enables none.
const BACKENDS: [&str; 3] = ["sqlite", "postgres", "mysql"];

/// Writes (or refreshes) the runner crate. Unchanged files are not rewritten so cargo's cache holds.
pub fn write(
    metadata: &Metadata,
    package: &Package,
    revisions_dir: &Path,
    table: &str,
    width: &str,
) -> Result<PathBuf, RunnerError> {
    let runtime = package
        .dependencies
        .iter()
        .find(|d| d.name == RUNTIME && d.kind == DependencyKind::Normal)
        .ok_or_else(|| RunnerError::NoRuntimeDependency {
            package: package.name.to_string(),
        })?;
    let dir = location(metadata, package);
    let workspace_manifest = std::fs::read_to_string(metadata.workspace_root.join("Cargo.toml"))
        .ok()
        .and_then(|text| text.parse::<DocumentMut>().ok());
    let manifest = manifest(
        &RunnerPackage {
            package,
            runtime,
            revisions_dir,
            table,
            width,
        },
        workspace_manifest.as_ref(),
        metadata.workspace_root.as_std_path(),
    );
    write_if_changed(&dir.join("Cargo.toml"), &manifest)?;
    write_if_changed(
        &dir.join("build.rs"),
        // The runner embeds every revision set the online commands accept, a fork included: reporting
        // one (`upgrade head`) and applying one (`upgrade heads`) is their job.
        "// @generated by cargo dbmigrate\nfn main() {\n    dbmigrate_runtime::build::embed_for_runner();\n}\n",
    )?;
    write_if_changed(&dir.join("src/main.rs"), MAIN)?;
    // The workspace's lock file keeps the runner on the versions the application uses.
    let lock = metadata.workspace_root.as_std_path().join("Cargo.lock");
    if let Ok(text) = std::fs::read_to_string(&lock) {
        write_if_changed(&dir.join("Cargo.lock"), &text)?;
    }
    Ok(dir)
}

/// The runner's `main`. Its log follows RUST_LOG (`target=level` directives, which `cargo dbmigrate`
/// passes on) through tracing-subscriber's `Targets`, which needs no regex crate to build.
const MAIN: &str = "// @generated by cargo dbmigrate
static MIGRATIONS: dbmigrate_runtime::Embedded = dbmigrate_runtime::include_migrations!();

#[tokio::main]
async fn main() -> std::process::ExitCode {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    if let Some(filter) = std::env::var(\"RUST_LOG\")
        .ok()
        .and_then(|directives| directives.parse::<tracing_subscriber::filter::Targets>().ok())
    {
        tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .with(filter)
            .init();
    }
    dbmigrate_runtime::online::runner_main(&MIGRATIONS).await
}
";

/// What the runner's manifest is made from.
struct RunnerPackage<'a> {
    package: &'a Package,
    runtime: &'a cargo_metadata::Dependency,
    revisions_dir: &'a Path,
    table: &'a str,
    width: &'a str,
}

/// The runner's Cargo.toml: the package's dependencies as it declares them, and the workspace's
/// profiles and patches, so every dependency compiles exactly as in the package's own build.
fn manifest(
    runner: &RunnerPackage<'_>,
    workspace: Option<&DocumentMut>,
    workspace_root: &Path,
) -> String {
    let mut doc = DocumentMut::new();
    let mut package_table = Table::new();
    package_table.insert("name", toml_edit::value(runner_name(&runner.package.name)));
    package_table.insert("version", toml_edit::value("0.0.0"));
    package_table.insert("edition", toml_edit::value("2024"));
    package_table.insert("publish", toml_edit::value(false));
    let mut settings = Table::new();
    settings.insert(
        "dir",
        toml_edit::value(runner.revisions_dir.to_string_lossy().as_ref()),
    );
    settings.insert("version-width", toml_edit::value(runner.width));
    settings.insert("table", toml_edit::value(runner.table));
    let mut metadata_table = Table::new();
    metadata_table.set_implicit(true);
    metadata_table.insert("dbmigrate", Item::Table(settings));
    package_table.insert("metadata", Item::Table(metadata_table));
    doc.insert("package", Item::Table(package_table));
    // Its own workspace: the runner is no member of the package's.
    doc.insert("workspace", Item::Table(Table::new()));

    let mut dependencies = Table::new();
    let backends_enabled = runner
        .runtime
        .features
        .iter()
        .any(|f| BACKENDS.contains(&f.as_str()));
    for dependency in runner
        .package
        .dependencies
        .iter()
        .filter(|d| d.kind == DependencyKind::Normal && !d.optional && d.target.is_none())
    {
        let key = dependency.rename.as_deref().unwrap_or(&dependency.name);
        let mut features = dependency.features.clone();
        if dependency.name == RUNTIME && !backends_enabled {
            features.extend(BACKENDS.map(String::from));
        }
        dependencies.insert(key, inline_item(spec(dependency, &features)));
    }
    if !dependencies.contains_key("tokio") {
        // The runtime enables these on tokio already: nothing is compiled again for them.
        dependencies.insert(
            "tokio",
            inline_item(inline(&[
                ("version", "1".into()),
                ("features", array(&["rt-multi-thread", "macros"])),
            ])),
        );
    }
    dependencies.insert(
        "tracing-subscriber",
        inline_item(inline(&[
            ("version", "0.3".into()),
            ("default-features", false.into()),
            ("features", array(&["std", "fmt", "registry"])),
        ])),
    );
    doc.insert("dependencies", Item::Table(dependencies));
    let mut build_dependencies = Table::new();
    build_dependencies.insert(RUNTIME, inline_item(spec(runner.runtime, &[])));
    doc.insert("build-dependencies", Item::Table(build_dependencies));

    if let Some(workspace) = workspace {
        for key in ["profile", "patch"] {
            if let Some(item) = workspace.get(key) {
                let mut item = item.clone();
                absolute_paths(&mut item, workspace_root);
                doc.insert(key, item);
            }
        }
    }
    format!(
        "# @generated by cargo dbmigrate: runs the Rust revisions of `{}`; do not edit.\n{doc}",
        runner.package.name
    )
}

/// Makes the `path = "..."` values under `item` (patches) absolute, as the runner lives elsewhere.
fn absolute_paths(item: &mut Item, root: &Path) {
    match item {
        Item::Table(table) => {
            for (key, child) in table.iter_mut() {
                match child {
                    Item::Value(value) if key == "path" => absolute(value, root),
                    child => absolute_paths(child, root),
                }
            }
        }
        Item::Value(value) => absolute_paths_in(value, root),
        _ => {}
    }
}

fn absolute_paths_in(value: &mut Value, root: &Path) {
    if let Value::InlineTable(table) = value {
        for (key, value) in table.iter_mut() {
            if key == "path" {
                absolute(value, root);
            } else {
                absolute_paths_in(value, root);
            }
        }
    }
}

fn absolute(value: &mut Value, root: &Path) {
    if let Some(path) = value.as_str().filter(|p| Path::new(p).is_relative()) {
        *value = root.join(path).to_string_lossy().as_ref().into();
    }
}

fn inline_item(table: InlineTable) -> Item {
    Item::Value(Value::InlineTable(table))
}

fn inline(fields: &[(&str, Value)]) -> InlineTable {
    let mut table = InlineTable::new();
    for (key, value) in fields {
        table.insert(*key, value.clone());
    }
    table
}

fn array(items: &[&str]) -> Value {
    Value::Array(items.iter().copied().collect::<Array>())
}

/// The inline table that reproduces a dependency as the package declared it.
fn spec(dependency: &cargo_metadata::Dependency, features: &[String]) -> InlineTable {
    let mut table = InlineTable::new();
    if let Some(path) = &dependency.path {
        table.insert("path", path.as_str().into());
    } else if let Some(git) = dependency
        .source
        .as_ref()
        .map(|s| s.repr.as_str())
        .and_then(|s| s.strip_prefix("git+"))
    {
        let (url, rev) = git
            .split_once('#')
            .map_or((git, None), |(u, r)| (u, Some(r)));
        let url = url.split('?').next().unwrap_or(url);
        table.insert("git", url.into());
        if let Some(rev) = rev {
            table.insert("rev", rev.into());
        }
    } else {
        table.insert("version", dependency.req.to_string().into());
    }
    if let Some(registry) = &dependency.registry {
        table.insert("registry", registry.as_str().into());
    }
    if dependency.rename.is_some() {
        table.insert("package", dependency.name.as_str().into());
    }
    if !dependency.uses_default_features {
        table.insert("default-features", false.into());
    }
    let mut features: Vec<&str> = features.iter().map(String::as_str).collect();
    features.sort_unstable();
    features.dedup();
    if !features.is_empty() {
        table.insert("features", array(&features));
    }
    table
}

/// Where runners are built: the package's own target directory, where its build left the
/// dependencies compiled; DBMIGRATE_RUNNER_TARGET_DIR overrides it.
fn target_directory(metadata: &Metadata) -> PathBuf {
    std::env::var_os("DBMIGRATE_RUNNER_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| metadata.target_directory.clone().into_std_path_buf())
}

/// Builds the runner crate in `dir` for `command` with the package's profile (dev) in its target
/// directory, from the workspace root (so its `.cargo/config.toml` applies as to the package's own
/// build), and returns the runner's binary. Says that it is building only when cargo compiles
/// something; prints cargo's diagnostics as cargo would. On failure, says which revision files
/// (under `revisions_dir`) cargo reported errors in, so the error blames a revision only when one is
/// at fault.
pub fn build(
    dir: &Path,
    metadata: &Metadata,
    package: &str,
    revisions_dir: &Path,
    command: &'static str,
    verbosity: Verbosity,
) -> Result<PathBuf, RunnerError> {
    let target = target_directory(metadata);
    let mut cargo = Command::new(cargo())
        .args([
            "build",
            "--message-format=json-diagnostic-rendered-ansi",
            "--manifest-path",
        ])
        .arg(dir.join("Cargo.toml"))
        .current_dir(metadata.workspace_root.as_std_path())
        .env("CARGO_TARGET_DIR", &target)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(RunnerError::Cargo)?;
    let status_lines = cargo.stderr.take().map(|stderr| {
        let package = package.to_string();
        std::thread::spawn(move || follow_cargo_status(stderr, &package, verbosity))
    });
    let mut binary = None;
    let mut revisions_with_errors = BTreeSet::new();
    if let Some(stdout) = cargo.stdout.take() {
        let mut stderr = anstream::stderr();
        for message in Message::parse_stream(BufReader::new(stdout)) {
            match message.map_err(RunnerError::Cargo)? {
                Message::CompilerMessage(message) => {
                    let diagnostic = message.message;
                    let is_error = matches!(
                        diagnostic.level,
                        DiagnosticLevel::Error | DiagnosticLevel::Ice
                    );
                    if let Some(rendered) = &diagnostic.rendered
                        && (is_error || verbosity != Verbosity::Quiet)
                    {
                        let _ = stderr.write_all(rendered.as_bytes());
                    }
                    if is_error {
                        revisions_with_errors.extend(
                            diagnostic
                                .spans
                                .iter()
                                .map(|span| PathBuf::from(&span.file_name))
                                .filter(|file| file.starts_with(revisions_dir)),
                        );
                    }
                }
                Message::CompilerArtifact(artifact)
                    if artifact.target.name == runner_name(package) =>
                {
                    binary = artifact.executable.map(PathBuf::from);
                }
                Message::TextLine(line) => {
                    let _ = writeln!(stderr, "{line}");
                }
                _ => {}
            }
        }
    }
    let status = cargo.wait().map_err(RunnerError::Cargo)?;
    if let Some(thread) = status_lines {
        let _ = thread.join();
    }
    if !status.success() {
        return Err(RunnerError::BuildFailed {
            command,
            revisions_with_errors: revisions_with_errors.iter().map(|p| shown(p)).collect(),
        });
    }
    Ok(binary.unwrap_or_else(|| {
        target.join("debug").join(format!(
            "{}{}",
            runner_name(package),
            std::env::consts::EXE_SUFFIX
        ))
    }))
}

/// Reads cargo's status lines: the first `Compiling` says the runner is being built (a spinner on a
/// terminal names each crate); `Finished` and `Fresh` lines are dropped unless `-v`; anything else
/// (a download, cargo's own errors) is shown as cargo printed it.
fn follow_cargo_status(stderr: impl std::io::Read, package: &str, verbosity: Verbosity) {
    let mut out = anstream::stderr();
    let mut spinner: Option<indicatif::ProgressBar> = None;
    let mut announced = false;
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        let plain = anstream::adapter::strip_str(&line).to_string();
        let status = plain.trim_start();
        if let Some(what) = status.strip_prefix("Compiling ") {
            if !announced && verbosity != Verbosity::Quiet {
                announced = true;
                let _ = writeln!(
                    out,
                    "{}: building the runner for the Rust revisions of `{package}` (after a change only; cargo \
                     reuses what the package's own build compiled)",
                    crate::render::paint(crate::render::DIM, "note")
                );
                if std::io::stderr().is_terminal() {
                    let bar = indicatif::ProgressBar::new_spinner();
                    bar.enable_steady_tick(Duration::from_millis(120));
                    spinner = Some(bar);
                }
            }
            match &spinner {
                Some(bar) => bar.set_message(format!("compiling {what}")),
                None if verbosity == Verbosity::Verbose => {
                    let _ = writeln!(out, "{line}");
                }
                None => {}
            }
        } else if status.starts_with("Finished ")
            || status.starts_with("Fresh ")
            || status.starts_with("Blocking ")
            || status.is_empty()
        {
            if verbosity == Verbosity::Verbose {
                let _ = writeln!(out, "{line}");
            }
        } else {
            let mut print = || {
                let _ = writeln!(out, "{line}");
            };
            match &spinner {
                Some(bar) => bar.suspend(print),
                None => print(),
            }
        }
    }
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
}

/// How the runner is started: with no argument at all. The request, which holds the database URL and
/// its password, goes on the runner's standard input, never on its command line, which every local
/// user can read (`ps`, `/proc/<pid>/cmdline`).
pub fn runner_command(binary: &Path) -> Command {
    let mut command = Command::new(binary);
    command.stdin(Stdio::piped()).stdout(Stdio::piped());
    command
}

/// Runs the runner with one JSON request for `command` (`upgrade head`), passing its events to
/// `on_event` as they come; returns its response, or why it ended without one. Lines the runner
/// prints that are not messages (a data step's own output) go to standard error, so that standard
/// output holds only the results (which `--format json` promises).
pub fn run(
    binary: &Path,
    request_json: &str,
    command: &str,
    verbosity: Verbosity,
    on_event: &dyn Fn(&Event),
) -> Result<Response, RunnerError> {
    let mut runner = runner_command(binary);
    if verbosity == Verbosity::Verbose && std::env::var_os("RUST_LOG").is_none() {
        runner.env("RUST_LOG", crate::logging::VERBOSE);
    }
    let mut child = runner.spawn().map_err(|source| RunnerError::Start {
        binary: binary.to_path_buf(),
        source,
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A runner that dies before reading it breaks the pipe; its exit status says why.
        let _ = stdin.write_all(request_json.as_bytes());
    }
    let mut response = None;
    if let Some(stdout) = child.stdout.take() {
        let mut stderr = anstream::stderr();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            match RunnerMessage::from_line(&line) {
                Some(RunnerMessage::Event(event)) => on_event(&event),
                Some(RunnerMessage::Response(answer)) => response = Some(answer),
                None => {
                    let _ = writeln!(stderr, "{line}");
                }
            }
        }
    }
    let status = child.wait().map_err(|source| RunnerError::Start {
        binary: binary.to_path_buf(),
        source,
    })?;
    if let Some(response) = response {
        return Ok(response);
    }
    let how = match (status.code(), signal(status)) {
        (Some(code), _) => format!("exited with code {code} without reporting"),
        (None, Some(signal)) => format!("was killed by {}", describe_signal(signal)),
        (None, None) => "ended without an exit code".into(),
    };
    Err(RunnerError::Interrupted {
        command: command.to_string(),
        how,
    })
}

#[cfg(unix)]
fn signal(status: ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(&status)
}

#[cfg(not(unix))]
fn signal(_: ExitStatus) -> Option<i32> {
    None
}

/// `signal 9 (SIGKILL)`. Only the numbers every Unix shares are named (SIGBUS or SIGUSR1 differ
/// between Linux and macOS, so those are shown by number).
fn describe_signal(signal: i32) -> String {
    let name = match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => return format!("signal {signal}"),
    };
    format!("signal {signal} ({name})")
}

/// A path relative to the working directory when it is inside it, as users typed it.
pub fn shown(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| path.display().to_string())
}

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn write_if_changed(path: &Path, text: &str) -> Result<(), RunnerError> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    let io = |source| RunnerError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::write(path, text).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runner_gets_no_argument_so_its_command_line_holds_no_password() {
        let command = runner_command(Path::new("/target/debug/dbmigrate-runner-app"));
        assert_eq!(command.get_args().count(), 0);
        assert_eq!(command.get_envs().count(), 0);
    }

    #[test]
    fn signals_are_named_where_every_unix_agrees() {
        assert_eq!(describe_signal(9), "signal 9 (SIGKILL)");
        assert_eq!(describe_signal(15), "signal 15 (SIGTERM)");
        assert_eq!(describe_signal(10), "signal 10");
    }
}
