//! Build-script integration: embeds the revision directory so adding, editing or removing a file rebuilds the binary.
//!
//! In the application's `build.rs` (with `dbmigrate-runtime` also under `[build-dependencies]`):
//!
//! ```text
//! fn main() {
//!     dbmigrate_runtime::build::embed();
//! }
//! ```
//!
//! and in its code `static MIGRATIONS: dbmigrate_runtime::Embedded = dbmigrate_runtime::include_migrations!();`.
//!
//! The build script validates the revisions with the same graph code `cargo dbmigrate check` uses, so a
//! broken chain fails the build with the same messages (and check's warnings become cargo warnings). It
//! writes `$OUT_DIR/dbmigrate_embedded.rs`, which embeds the directory with `include_dir!` and compiles
//! each `.rs` revision as a module, registering its `upgrade` and `downgrade` functions.
//!
//! [`embed_for_runner`] is the variant the runner of `cargo dbmigrate` builds with: it embeds every
//! revision set the online commands accept, a forked one included, since reporting a fork (`upgrade
//! head`) and applying it (`upgrade heads`) is their job.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::error::Problems;
use crate::graph::RevisionGraph;
use crate::revision::{Revision, RevisionKind, load_directory};

/// The file written into `OUT_DIR`.
pub const GENERATED_FILE: &str = "dbmigrate_embedded.rs";

/// Why the revisions could not be embedded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    /// Not run from a build script (an environment variable cargo sets is missing).
    #[error("{0} is not set: call dbmigrate_runtime::build::embed() from a build script")]
    NotInBuildScript(&'static str),
    /// The manifest could not be read.
    #[error("cannot read {path}: {message}", path = path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// `[package.metadata.dbmigrate]` is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The revisions have problems.
    #[error(transparent)]
    Revisions(#[from] crate::error::Problems),
}

/// Which revision sets a build accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Acceptance {
    /// What `cargo dbmigrate check` accepts: no error, a fork included; warnings pass.
    Check,
    /// What the online commands accept ([`crate::Migrations::from_directory`]): a fork passes too.
    Online,
}

/// Embeds the package's revision directory (from `[package.metadata.dbmigrate]`, default `migrations/`).
///
/// Panics with every problem listed when the revisions have an error `cargo dbmigrate check` reports,
/// a fork (several heads) included: in a build script, that fails the build with a readable message,
/// which is the point. Check's warnings are passed on as cargo warnings.
pub fn embed() {
    if let Err(error) = try_embed() {
        panic!("dbmigrate: cannot embed the revisions\n{error}");
    }
}

/// [`embed`] returning the error instead of panicking.
pub fn try_embed() -> Result<PathBuf, EmbedError> {
    try_embed_accepting(Acceptance::Check)
}

/// What the build script of `cargo dbmigrate`'s runner calls: [`embed`], except that a fork does not
/// fail the build. The runner runs the online commands, which exist to report a fork (`upgrade head`
/// refuses it and lists the heads) and to apply one (`upgrade heads`), exactly as they do for a
/// directory of SQL revisions. An application should call [`embed`], so that a fork fails its build.
pub fn embed_for_runner() {
    if let Err(error) = try_embed_accepting(Acceptance::Online) {
        panic!("dbmigrate: cannot embed the revisions\n{error}");
    }
}

fn try_embed_accepting(acceptance: Acceptance) -> Result<PathBuf, EmbedError> {
    let var = |name: &'static str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .ok_or(EmbedError::NotInBuildScript(name))
    };
    let manifest_dir = var("CARGO_MANIFEST_DIR")?;
    let out_dir = var("OUT_DIR")?;
    let manifest = manifest_dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|e| EmbedError::Io {
        path: manifest.clone(),
        message: e.to_string(),
    })?;
    let config = Config::from_manifest(&manifest, &text)?;
    let dir = manifest_dir.join(&config.dir);
    // A directory makes cargo rerun the script when anything inside it changes (added, edited, removed).
    println!("cargo::rerun-if-changed={}", dir.display());
    println!("cargo::rerun-if-changed={}", manifest.display());
    let (revisions, mut problems) = load_directory(&dir, config.version_width);
    let (graph, more) = RevisionGraph::build(revisions);
    problems.extend(more);
    match acceptance {
        Acceptance::Check => Problems::refuse_on_errors(problems.clone())?,
        Acceptance::Online => Problems::refuse_if_unusable(problems.clone())?,
    }
    for problem in problems.iter().filter(|p| p.is_warning()) {
        // One line per warning: cargo shows a `cargo::warning` line as it is.
        let text = problem.to_string().replace('\n', " ");
        println!("cargo::warning=dbmigrate: {text}");
    }
    let code = generate(&dir, &graph, &config);
    let out = out_dir.join(GENERATED_FILE);
    // Rewrite only on change, so an unchanged directory does not dirty the build.
    if std::fs::read_to_string(&out).ok().as_deref() != Some(code.as_str()) {
        std::fs::write(&out, code).map_err(|e| EmbedError::Io {
            path: out.clone(),
            message: e.to_string(),
        })?;
    }
    Ok(out)
}

fn rust_string(text: &str) -> String {
    format!("{text:?}")
}

fn module_name(revision: &Revision) -> String {
    format!("revision_{}", revision.version)
}

/// The source of the generated file: one block expression that evaluates to an `Embedded`.
pub fn generate(dir: &Path, graph: &RevisionGraph, config: &Config) -> String {
    let dir_text = dir.to_string_lossy();
    let mut code = String::new();
    let _ = writeln!(
        code,
        "// @generated by dbmigrate_runtime::build from {dir_text}; do not edit."
    );
    // The listing makes the generated file differ whenever a revision is added, removed or renamed.
    for revision in graph.revisions() {
        let _ = writeln!(code, "// {}", revision.file_name());
    }
    code.push_str("{\n    use ::dbmigrate_runtime::__private::include_dir;\n");
    let rust: Vec<&Revision> = graph
        .revisions()
        .iter()
        .filter(|r| r.kind == RevisionKind::Rust)
        .collect();
    for revision in &rust {
        let module = module_name(revision);
        let path = rust_string(&revision.path.to_string_lossy());
        let _ = writeln!(
            code,
            "    #[path = {path}]\n    #[allow(missing_docs, clippy::all)]\n    mod {module};"
        );
        for step in ["upgrade", "downgrade"] {
            if step == "downgrade" && !revision.has_downgrade() {
                continue;
            }
            let _ = writeln!(
                code,
                "    fn {step}_{version}<'a, 'c>(cx: &'a mut ::dbmigrate_runtime::data::Context<'c>) -> ::dbmigrate_runtime::data::StepFuture<'a> {{\n        ::std::boxed::Box::pin({module}::{step}(cx))\n    }}",
                version = revision.version
            );
        }
    }
    // SQL-only projects get no steps table, so embedding them needs no database driver at all.
    if !rust.is_empty() {
        code.push_str("    static STEPS: &[::dbmigrate_runtime::RustStep] = &[\n");
        for revision in &rust {
            let version = revision.version;
            let downgrade = if revision.has_downgrade() {
                format!("Some(downgrade_{version})")
            } else {
                "None".to_string()
            };
            let _ = writeln!(
                code,
                "        ::dbmigrate_runtime::RustStep {{ version: {version}, upgrade: upgrade_{version}, downgrade: {downgrade} }},"
            );
        }
        code.push_str("    ];\n");
    }
    let _ = writeln!(
        code,
        "    static DIR: include_dir::Dir<'static> = include_dir::include_dir!({dir});",
        dir = rust_string(&dir_text)
    );
    let width = match config.version_width {
        crate::VersionWidth::I32 => "I32",
        crate::VersionWidth::I64 => "I64",
    };
    let table = rust_string(&config.table);
    // Messages name files as the configuration names their directory (`migrations/V3__x.sql`).
    let shown = rust_string(&config.dir.to_string_lossy());
    let constructor = if rust.is_empty() {
        format!("new(&DIR, {shown}, ::dbmigrate_runtime::VersionWidth::{width}, {table})")
    } else {
        format!(
            "with_rust_steps(&DIR, {shown}, ::dbmigrate_runtime::VersionWidth::{width}, {table}, STEPS)"
        )
    };
    let _ = writeln!(code, "    ::dbmigrate_runtime::Embedded::{constructor}\n}}");
    code
}
