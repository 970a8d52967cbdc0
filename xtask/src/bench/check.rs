//! Workload 5: `check` on a large revision directory, against merely reading its files (the limit) and
//! `alembic heads` on the same history written as an Alembic project.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use super::alembic::{Alembic, Project, revision_file};
use super::measure::{Bound, Contender, Role, Sample, Table, Targets, alternate};

pub const DESCRIPTION: &str = "\
A directory of N revisions: a chain with a fork and a merge every 100 revisions (revision 99 of each \
hundred branches off 97 beside 98, and 100 merges 98 and 99), so the graph code sees branches and \
merges, not only a list.

- **ours**: a whole `cargo-dbmigrate dbmigrate check --dir <dir>` process (release build): read, \
parse and validate every file and the graph.
- **Alembic**: a whole `alembic heads` process on an Alembic project with the same N revisions and \
the same shape (`revision`/`down_revision`, a tuple for each merge), which imports every revision \
script. The first (warm-up) run compiles them to `__pycache__`; the timed runs use the bytecode.
- **limit**: reading every file of the directory, in this process.
";

/// The parents of revision `version` in the generated shape.
fn parents(version: usize) -> Vec<usize> {
    match version {
        1 => Vec::new(),
        v if v % 100 == 0 => vec![v - 1, v - 2],
        v if v % 100 == 99 => vec![v - 2],
        v => vec![v - 1],
    }
}

/// Writes `count` dbmigrate revisions in the generated shape.
pub fn generate(dir: &Path, count: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    for version in 1..=count {
        let revises = parents(version)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let text = format!(
            "-- Message: revision {version}\n-- Revises: {revises}\n-- Created: 2026-11-24T00:00:00Z\n\n\
             -- migrate:upgrade\nCREATE TABLE t{version} (id INTEGER PRIMARY KEY, note TEXT);\n\n\
             -- migrate:downgrade\nDROP TABLE t{version};\n"
        );
        std::fs::write(
            dir.join(format!("V{version}__revision_{version}.sql")),
            text,
        )?;
    }
    Ok(())
}

/// Writes the same `count` revisions as an Alembic project.
pub fn generate_alembic(dir: &Path, count: usize) -> anyhow::Result<Project> {
    let project = Project::create(dir)?;
    for version in 1..=count {
        let down: Vec<String> = parents(version).iter().map(|p| format!("r{p}")).collect();
        project.write_revision(
            &format!("r{version}_revision_{version}.py"),
            &revision_file(
                &format!("r{version}"),
                &down,
                &format!("revision {version}"),
                "",
                &format!(
                    "    op.execute(\"CREATE TABLE t{version} (id INTEGER PRIMARY KEY, note TEXT)\")"
                ),
                &format!("    op.execute(\"DROP TABLE t{version}\")"),
            ),
        )?;
    }
    Ok(project)
}

/// Builds the CLI `check` runs, before anything is timed, so that a failing build ends a run at its
/// start rather than after the other workloads.
pub fn build_cli() -> anyhow::Result<PathBuf> {
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "--release", "--quiet", "-p", "cargo-dbmigrate"]);
    // Outside `cargo xtask`, a bare `rustc` is rustup's proxy, which obeys the toolchain file of the
    // directory cargo compiles a dependency in (atoi 2.0.0 pins 1.57.0): use the rustc that sits
    // beside the cargo this harness was built with.
    let rustc = Path::new(env!("CARGO")).with_file_name("rustc");
    if std::env::var_os("RUSTC").is_none() && rustc.is_file() {
        build.env("RUSTC", rustc);
    }
    let status = build.status().context("cannot start cargo")?;
    if !status.success() {
        bail!("building cargo-dbmigrate failed");
    }
    Ok(super::target_dir().join("release/cargo-dbmigrate"))
}

/// Why the CLI cannot be measured, if it does not implement `check --dir`: it must show help for it
/// and must reject a directory whose revision names a missing parent.
fn missing_check(cli: &Path) -> anyhow::Result<Option<String>> {
    let help = Command::new(cli)
        .args(["dbmigrate", "check", "--help"])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start {}", cli.display()))?;
    let help_text = String::from_utf8_lossy(&help.stdout);
    if !help.status.success() || !help_text.contains("--dir") {
        return Ok(Some(format!(
            "the `cargo-dbmigrate` built from this tree does not implement `check --dir` \
             (`cargo-dbmigrate dbmigrate check --help` exited with {} and printed {} bytes, none naming `--dir`); \
             these figures are Alembic's and the limit's only, and the comparison waits for the CLI",
            help.status,
            help_text.len()
        )));
    }
    let broken = tempfile::tempdir()?;
    std::fs::write(
        broken.path().join("V2__orphan.sql"),
        "-- Revises: 1\nCREATE TABLE orphan (id INTEGER);\n",
    )?;
    let verdict = Command::new(cli)
        .args(["dbmigrate", "check", "--dir"])
        .arg(broken.path())
        .stdin(Stdio::null())
        .output()?;
    if verdict.status.success() {
        return Ok(Some(
            "`cargo-dbmigrate dbmigrate check` accepted a revision whose parent is missing, so it does not \
             really check yet; these figures are Alembic's and the limit's only"
                .to_string(),
        ));
    }
    Ok(None)
}

pub fn run(
    cli: &Path,
    alembic: &Alembic,
    count: usize,
    rounds: usize,
) -> anyhow::Result<Vec<Table>> {
    let temp = tempfile::tempdir()?;
    let dir = temp.path().join("migrations");
    generate(&dir, count)?;
    let project = generate_alembic(&temp.path().join("alembic"), count)?;
    let missing = missing_check(cli)?;
    if let Some(reason) = &missing {
        eprintln!("check: {reason}");
    }
    let expected_head = format!("r{count} (head)");
    let mut contenders = Vec::new();
    if missing.is_none() {
        contenders.push(Contender::new("cargo dbmigrate check", Role::Ours, || {
            Sample::time(|| {
                let out = Command::new(cli)
                    .args(["dbmigrate", "check", "--dir"])
                    .arg(&dir)
                    .stdin(Stdio::null())
                    .output()?;
                if !out.status.success() {
                    bail!("check failed: {}", String::from_utf8_lossy(&out.stderr));
                }
                Ok(())
            })
        }));
    }
    contenders.push(Contender::new("alembic heads", Role::Peer, || {
        let (elapsed, output) = alembic.time_process(&project, &["heads"], &[])?;
        if output.trim() != expected_head {
            bail!("alembic heads printed {output:?}, expected {expected_head:?}");
        }
        Ok(Sample::of(elapsed))
    }));
    contenders.push(Contender::new("read every file", Role::Limit, || {
        Sample::time(|| {
            let mut bytes = 0;
            for entry in std::fs::read_dir(&dir)? {
                bytes += std::fs::read(entry?.path())?.len();
            }
            std::hint::black_box(bytes);
            Ok(())
        })
    }));
    let results = alternate(&mut contenders, rounds)?;
    let mut table = Table::new(
        format!(
            "check on {} revisions",
            super::measure::thousands(count as u64)
        ),
        results,
        Targets {
            // "At least 20x faster than Alembic".
            vs_best_peer: Some(Bound::AtMost(1.0 / 20.0)),
            vs_limit: None,
        },
    );
    table.ours_missing = missing;
    Ok(vec![table])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directories_have_the_same_shape() {
        let temp = tempfile::tempdir().unwrap();
        generate(&temp.path().join("ours"), 200).unwrap();
        let graph = dbmigrate_runtime::RevisionGraph::load(
            &temp.path().join("ours"),
            dbmigrate_runtime::VersionWidth::I32,
        )
        .unwrap();
        assert_eq!(graph.head().unwrap().version, 200);
        assert_eq!(graph.children(97).len(), 2);
        generate_alembic(&temp.path().join("alembic"), 200).unwrap();
        let merge =
            std::fs::read_to_string(temp.path().join("alembic/versions/r200_revision_200.py"))
                .unwrap();
        assert!(
            merge.contains("down_revision = (\"r199\", \"r198\")"),
            "{merge}"
        );
        let fork =
            std::fs::read_to_string(temp.path().join("alembic/versions/r199_revision_199.py"))
                .unwrap();
        assert!(fork.contains("down_revision = \"r197\""), "{fork}");
    }
}
