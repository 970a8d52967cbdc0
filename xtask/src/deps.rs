//! `cargo xtask deps`: fails on a dependency nothing uses. Each member's `[dependencies]`,
//! `[dev-dependencies]` and `[build-dependencies]` must be named in its sources (`name::`, `name!`,
//! `use name`, `extern crate name`), and each `[workspace.dependencies]` entry must be used by a
//! member. A dependency kept only for its features is listed, with the reason beside it, under
//! `[package.metadata.cargo-machete] ignored` (cargo-machete's key, so that tool agrees).
//!
//! Written here rather than installing cargo-machete in CI: the check is the same textual one, runs
//! in milliseconds without a download or a build, and works offline.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use toml_edit::{DocumentMut, Item};

pub fn run() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask lives in the workspace")?
        .to_path_buf();
    let problems = check(&root)?;
    if problems.is_empty() {
        eprintln!("deps: every declared dependency is used");
        return Ok(());
    }
    for problem in &problems {
        eprintln!("error: {problem}");
    }
    bail!(
        "{} unused dependenc{} (remove them, or list them under [package.metadata.cargo-machete] ignored with a reason)",
        problems.len(),
        if problems.len() == 1 { "y" } else { "ies" }
    )
}

fn read(path: &Path) -> anyhow::Result<DocumentMut> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))
}

/// Every unused dependency of the workspace at `root`, as a sentence.
pub fn check(root: &Path) -> anyhow::Result<Vec<String>> {
    let manifest = read(&root.join("Cargo.toml"))?;
    let members: Vec<String> = manifest["workspace"]["members"]
        .as_array()
        .context("[workspace] members")?
        .iter()
        .filter_map(|m| m.as_str().map(str::to_string))
        .collect();
    let mut problems = Vec::new();
    let mut used_from_workspace = BTreeSet::new();
    for member in &members {
        let dir = root.join(member);
        let package = read(&dir.join("Cargo.toml"))?;
        let ignored: BTreeSet<String> = package
            .get("package")
            .and_then(|p| p.get("metadata"))
            .and_then(|m| m.get("cargo-machete"))
            .and_then(|m| m.get("ignored"))
            .and_then(Item::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let sources = sources(&dir);
        for table in ["dependencies", "dev-dependencies", "build-dependencies"] {
            let Some(deps) = package.get(table).and_then(Item::as_table_like) else {
                continue;
            };
            for (key, spec) in deps.iter() {
                if spec.get("workspace").and_then(Item::as_bool) == Some(true) {
                    used_from_workspace.insert(key.to_string());
                }
                if ignored.contains(key) || is_named(&sources, &key.replace('-', "_")) {
                    continue;
                }
                problems.push(format!(
                    "{member}/Cargo.toml: `{key}` in [{table}] is used nowhere in {member}'s sources"
                ));
            }
        }
    }
    if let Some(workspace_deps) = manifest["workspace"]
        .get("dependencies")
        .and_then(Item::as_table_like)
    {
        for (key, _) in workspace_deps.iter() {
            if !used_from_workspace.contains(key) {
                problems.push(format!(
                    "Cargo.toml: `{key}` in [workspace.dependencies] is used by no member"
                ));
            }
        }
    }
    Ok(problems)
}

/// The text of every Rust file of a member (its `target/` and nested packages' aside).
fn sources(dir: &Path) -> String {
    let mut text = String::new();
    let mut pending: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if name != "target"
                    && name != "fixtures"
                    && !name.to_string_lossy().starts_with('.')
                {
                    pending.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs")
                && let Ok(file) = std::fs::read_to_string(&path)
            {
                text.push_str(&file);
                text.push('\n');
            }
        }
    }
    text
}

/// Whether `ident` is named as a crate in `text`: `ident::`, `ident!`, `use ident`, `extern crate
/// ident`, not as part of a longer identifier.
fn is_named(text: &str, ident: &str) -> bool {
    let bytes = text.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    text.match_indices(ident).any(|(at, _)| {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        if before.is_some_and(|c| word(c) || c == b':' || c == b'.') {
            return false;
        }
        let after = &text[at + ident.len()..];
        if after.starts_with("::") || after.starts_with('!') {
            return true;
        }
        let preceding = text[..at].trim_end();
        (preceding.ends_with("use") || preceding.ends_with("extern crate"))
            && after
                .chars()
                .next()
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crate_is_named_by_a_path_a_macro_or_a_use() {
        assert!(is_named("let x = serde_json::to_string(&y);", "serde_json"));
        assert!(is_named("tracing::info!(..)", "tracing"));
        assert!(is_named("use toml_edit;", "toml_edit"));
        assert!(is_named("anyhow!(\"x\")", "anyhow"));
        assert!(!is_named("my_serde_json::x", "serde_json"));
        assert!(!is_named("serde_jsonx::x", "serde_json"));
        assert!(!is_named("// uses insta for snapshots", "insta"));
        assert!(!is_named("crate::tracing::x", "tracing"));
    }

    #[test]
    fn this_workspace_declares_no_unused_dependency() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        assert_eq!(check(root).unwrap(), Vec::<String>::new());
    }
}
