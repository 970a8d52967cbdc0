//! A generated crate that compiles the project's Rust revisions together with the runtime, so the CLI
//! runs data steps with exactly the code the application binary runs.
//!
//! It depends on the same `dbmigrate-runtime` and the same dependencies as the package (data steps may
//! use any of them), embeds the package's revision directory through the runtime's build script, and
//! executes one online command, read as JSON on its standard input (it holds the database password).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use cargo_metadata::diagnostic::DiagnosticLevel;
use cargo_metadata::{DependencyKind, Message, Metadata, Package};
use dbmigrate_runtime::online::exit;

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
    /// The runner ended without reporting how the command went: killed by a signal, or panicked.
    #[error(
        "the runner {how} before `{command}` finished, so what it changed in the database is unknown here"
    )]
    Interrupted {
        /// The command it was running (`upgrade head`).
        command: String,
        /// How it ended: `was killed by signal 9 (SIGKILL)`, `panicked (its message is above)`.
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
    let mut manifest = String::new();
    let _ = writeln!(
        manifest,
        "# @generated by cargo dbmigrate: runs the Rust revisions of `{}`; do not edit.\n\
         [package]\nname = \"{}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [package.metadata.dbmigrate]\ndir = {}\nversion-width = \"{width}\"\ntable = \"{table}\"\n\n\
         [workspace]\n\n[dependencies]",
        package.name,
        runner_name(&package.name),
        toml_string(&revisions_dir.to_string_lossy()),
    );
    let mut has_tokio = false;
    for dependency in package
        .dependencies
        .iter()
        .filter(|d| d.kind == DependencyKind::Normal && !d.optional && d.target.is_none())
    {
        let key = dependency.rename.as_deref().unwrap_or(&dependency.name);
        has_tokio |= key == "tokio";
        let mut features = dependency.features.clone();
        if dependency.name == RUNTIME {
            features.extend(["sqlite", "postgres", "mysql"].map(String::from));
        }
        if key == "tokio" {
            features.extend(["rt-multi-thread", "macros"].map(String::from));
        }
        let _ = writeln!(
            manifest,
            "{} = {}",
            toml_key(key),
            dependency_spec(dependency, &features)
        );
    }
    if !has_tokio {
        let _ = writeln!(
            manifest,
            "tokio = {{ version = \"1\", features = [\"rt-multi-thread\", \"macros\"] }}"
        );
    }
    let _ = writeln!(
        manifest,
        "\n[build-dependencies]\n{RUNTIME} = {}",
        dependency_spec(runtime, &[])
    );

    write_if_changed(&dir.join("Cargo.toml"), &manifest)?;
    write_if_changed(
        &dir.join("build.rs"),
        // The runner embeds every revision set the online commands accept, a fork included: reporting
        // one (`upgrade head`) and applying one (`upgrade heads`) is their job.
        "// @generated by cargo dbmigrate\nfn main() {\n    dbmigrate_runtime::build::embed_for_runner();\n}\n",
    )?;
    write_if_changed(
        &dir.join("src/main.rs"),
        "// @generated by cargo dbmigrate\n\
         static MIGRATIONS: dbmigrate_runtime::Embedded = dbmigrate_runtime::include_migrations!();\n\n\
         #[tokio::main]\nasync fn main() -> std::process::ExitCode {\n    \
         dbmigrate_runtime::online::runner_main(&MIGRATIONS).await\n}\n",
    )?;
    // The workspace's lock file keeps the runner on the versions the application uses.
    let lock = metadata.workspace_root.as_std_path().join("Cargo.lock");
    if let Ok(text) = std::fs::read_to_string(&lock) {
        write_if_changed(&dir.join("Cargo.lock"), &text)?;
    }
    Ok(dir)
}

/// Builds the runner crate in `dir` for `command`, printing cargo's messages as cargo would, and returns
/// the runner's binary. On failure, says which revision files (under `revisions_dir`) cargo reported
/// errors in, so the error blames a revision only when one is at fault.
pub fn build(
    dir: &Path,
    package: &str,
    revisions_dir: &Path,
    command: &'static str,
) -> Result<PathBuf, RunnerError> {
    // All runners of a workspace share one build directory beside them, so the dependencies they have
    // in common (sqlx above all) are compiled once; DBMIGRATE_RUNNER_TARGET_DIR overrides it.
    let target = std::env::var_os("DBMIGRATE_RUNNER_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.parent().unwrap_or(dir).join("runner-target"));
    let mut cargo = Command::new(cargo())
        .args([
            "build",
            "--quiet",
            "--message-format=json-diagnostic-rendered-ansi",
            "--manifest-path",
        ])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(RunnerError::Cargo)?;
    let mut binary = None;
    let mut revisions_with_errors = BTreeSet::new();
    if let Some(stdout) = cargo.stdout.take() {
        let mut stderr = anstream::stderr();
        for message in Message::parse_stream(BufReader::new(stdout)) {
            match message.map_err(RunnerError::Cargo)? {
                Message::CompilerMessage(message) => {
                    let diagnostic = message.message;
                    if let Some(rendered) = &diagnostic.rendered {
                        let _ = stderr.write_all(rendered.as_bytes());
                    }
                    if matches!(
                        diagnostic.level,
                        DiagnosticLevel::Error | DiagnosticLevel::Ice
                    ) {
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

/// How the runner is started: with no argument at all. The request, which holds the database URL and
/// its password, goes on the runner's standard input, never on its command line, which every local
/// user can read (`ps`, `/proc/<pid>/cmdline`).
pub fn runner_command(binary: &Path) -> Command {
    let mut command = Command::new(binary);
    command.stdin(Stdio::piped());
    command
}

/// Runs the runner with one JSON request for `command` (`upgrade head`); returns its exit code (its
/// output is passed through), or why it ended without one.
pub fn run(binary: &Path, request_json: &str, command: &str) -> Result<u8, RunnerError> {
    let mut child = runner_command(binary)
        .spawn()
        .map_err(|source| RunnerError::Start {
            binary: binary.to_path_buf(),
            source,
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A runner that dies before reading it breaks the pipe; its exit status says why.
        let _ = stdin.write_all(request_json.as_bytes());
    }
    let status = child.wait().map_err(|source| RunnerError::Start {
        binary: binary.to_path_buf(),
        source,
    })?;
    match (status.code(), signal(status)) {
        // A Rust panic exits with 101, a code the runner never uses for an outcome it reports.
        (Some(101), _) => Err(RunnerError::Interrupted {
            command: command.to_string(),
            how: "panicked (its message is above)".into(),
        }),
        (Some(code), _) => Ok(u8::try_from(code).unwrap_or(exit::DATABASE)),
        (None, Some(signal)) => Err(RunnerError::Interrupted {
            command: command.to_string(),
            how: format!("was killed by {}", describe_signal(signal)),
        }),
        (None, None) => Err(RunnerError::Interrupted {
            command: command.to_string(),
            how: "ended without an exit code".into(),
        }),
    }
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

fn toml_string(text: &str) -> String {
    // TOML basic strings share JSON's escapes for everything a path can contain.
    serde_json::to_string(text).unwrap_or_default()
}

fn toml_key(key: &str) -> String {
    if key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        key.to_string()
    } else {
        toml_string(key)
    }
}

/// The inline table that reproduces a dependency as the package declared it.
fn dependency_spec(dependency: &cargo_metadata::Dependency, features: &[String]) -> String {
    let mut fields = Vec::new();
    if let Some(path) = &dependency.path {
        fields.push(format!("path = {}", toml_string(path.as_str())));
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
        fields.push(format!("git = {}", toml_string(url)));
        if let Some(rev) = rev {
            fields.push(format!("rev = {}", toml_string(rev)));
        }
    } else {
        fields.push(format!(
            "version = {}",
            toml_string(&dependency.req.to_string())
        ));
    }
    if let Some(registry) = &dependency.registry {
        fields.push(format!("registry = {}", toml_string(registry)));
    }
    if dependency.rename.is_some() {
        fields.push(format!("package = {}", toml_string(&dependency.name)));
    }
    if !dependency.uses_default_features {
        fields.push("default-features = false".to_string());
    }
    let mut features: Vec<&String> = features.iter().collect();
    features.sort();
    features.dedup();
    if !features.is_empty() {
        let list: Vec<String> = features.iter().map(|f| toml_string(f)).collect();
        fields.push(format!("features = [{}]", list.join(", ")));
    }
    format!("{{ {} }}", fields.join(", "))
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
