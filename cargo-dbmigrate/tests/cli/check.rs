//! `check` on named fixture directories, in every format, and against the hostile-input corpus.

use std::path::Path;

use snapbox::file;

use crate::support::{Sandbox, fixtures};

fn check(fixture: &str, format: &str) -> snapbox::cmd::OutputAssert {
    Sandbox::with_fixture(fixture)
        .cmd(&["check", "--dir", "migrations", "--format", format])
        .assert()
}

#[test]
fn a_sound_history_passes() {
    check("linear", "human")
        .code(0)
        .stdout_eq(file!["snapshots/check/linear.txt"])
        .stderr_eq("");
    check("linear", "json").code(0).stdout_eq("[]\n");
    check("linear", "github").code(0).stdout_eq("");
}

#[test]
fn a_merged_fork_passes() {
    check("merge", "human")
        .code(0)
        .stdout_eq(file!["snapshots/check/merge.txt"]);
}

#[test]
fn adopted_refinery_files_pass() {
    check("adopted_refinery", "human")
        .code(0)
        .stdout_eq(file!["snapshots/check/adopted_refinery.txt"]);
}

#[test]
fn a_fork_fails_with_the_way_out() {
    check("fork", "human")
        .code(1)
        .stdout_eq(file!["snapshots/check/fork.txt"])
        .stderr_eq("");
    check("fork", "json")
        .code(1)
        .stdout_eq(file!["snapshots/check/fork.json"]);
    check("fork", "github")
        .code(1)
        .stdout_eq(file!["snapshots/check/fork.github.txt"]);
}

#[test]
fn a_cycle_fails() {
    check("cycle", "human")
        .code(1)
        .stdout_eq(file!["snapshots/check/cycle.txt"]);
}

#[test]
fn a_missing_parent_fails_at_its_line() {
    check("missing_parent", "human")
        .code(1)
        .stdout_eq(file!["snapshots/check/missing_parent.txt"]);
    check("missing_parent", "github")
        .code(1)
        .stdout_eq(file!["snapshots/check/missing_parent.github.txt"]);
}

#[test]
fn a_duplicate_version_fails() {
    check("duplicate", "human")
        .code(1)
        .stdout_eq(file!["snapshots/check/duplicate.txt"]);
}

#[test]
fn every_header_problem_is_listed_at_once_with_warnings() {
    check("bad_header", "human")
        .code(1)
        .stdout_eq(file!["snapshots/check/bad_header.txt"]);
    check("bad_header", "json")
        .code(1)
        .stdout_eq(file!["snapshots/check/bad_header.json"]);
    check("bad_header", "github")
        .code(1)
        .stdout_eq(file!["snapshots/check/bad_header.github.txt"]);
}

#[test]
fn warnings_alone_pass() {
    let sandbox = Sandbox::with_fixture("linear");
    sandbox.write(
        "migrations/V5__later.sql",
        "-- Revises: 4\n\n-- migrate:upgrade\n\n-- migrate:downgrade\n",
    );
    sandbox
        .cmd(&["check", "--dir", "migrations"])
        .assert()
        .code(0)
        .stdout_eq(file!["snapshots/check/warning_only.txt"]);
}

#[test]
fn a_missing_directory_is_a_project_error() {
    Sandbox::new()
        .cmd(&["check", "--dir", "nowhere"])
        .assert()
        .code(3)
        .stdout_eq("")
        .stderr_eq(file!["snapshots/check/missing_directory.txt"]);
}

#[test]
fn color_follows_the_flag() {
    let colored = check_output(&["--color", "always"]);
    assert!(colored.contains("\u{1b}["), "{colored:?}");
    let plain = check_output(&["--color", "never"]);
    assert!(!plain.contains('\u{1b}'), "{plain:?}");
}

#[test]
fn no_color_turns_colour_off_under_auto() {
    let sandbox = Sandbox::with_fixture("fork");
    let output = sandbox
        .cmd(&["check", "--dir", "migrations"])
        .env("NO_COLOR", "1")
        .env("CLICOLOR_FORCE", "1")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&output.stdout).contains('\u{1b}'));
    let forced = sandbox
        .cmd(&["check", "--dir", "migrations"])
        .env("CLICOLOR_FORCE", "1")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&forced.stdout).contains('\u{1b}'),
        "CLICOLOR_FORCE colours a pipe"
    );
}

fn check_output(extra: &[&str]) -> String {
    let sandbox = Sandbox::with_fixture("fork");
    let mut args = vec!["check", "--dir", "migrations"];
    args.extend(extra);
    let output = sandbox.cmd(&args).output().unwrap();
    String::from_utf8(output.stdout).unwrap()
}

/// Each hostile case's `EXPECTED` lists `code file[:line]` per problem; `check --format json` must
/// report exactly those, which also proves JSON carries every problem with its place.
#[test]
fn the_hostile_corpus_reports_exactly_the_expected_problems() {
    let corpus = fixtures().join("hostile");
    let mut cases: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 60, "the corpus shrank to {}", cases.len());
    let mut failures = Vec::new();
    let sandbox = Sandbox::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        // The corpus is read in place (it holds symlinks a copy would change); nothing is written.
        let output = sandbox
            .cmd(&["check", "--format", "json", "--dir", &name])
            .current_dir(&corpus)
            .output()
            .unwrap();
        let problems: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| {
                panic!(
                    "{name}: not JSON ({e}): {}",
                    String::from_utf8_lossy(&output.stdout)
                )
            });
        let mut found: Vec<String> = problems
            .iter()
            .map(|p| expected_line(p, Path::new(&name)))
            .collect();
        found.sort();
        let mut expected: Vec<String> = std::fs::read_to_string(case.join("EXPECTED"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        expected.sort();
        let has_error = problems.iter().any(|p| p["severity"] == "error");
        if found != expected || output.status.code() != Some(if has_error { 1 } else { 0 }) {
            failures.push(format!(
                "{name}: expected {expected:?}, found {found:?}, exit {:?}",
                output.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn expected_line(problem: &serde_json::Value, case: &Path) -> String {
    let file = problem["file"].as_str().unwrap_or_default();
    let relative = Path::new(file)
        .strip_prefix(case)
        .map_or_else(|_| file.to_string(), |r| r.display().to_string());
    match problem["line"].as_u64() {
        Some(line) => format!("{} {relative}:{line}", problem["code"].as_str().unwrap()),
        None => format!("{} {relative}", problem["code"].as_str().unwrap()),
    }
}

#[test]
fn ten_thousand_revisions_check_clean() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path().join("migrations");
    std::fs::create_dir(&dir).unwrap();
    for version in 1..=10_000 {
        let revises = if version == 1 {
            String::new()
        } else {
            format!(" {}", version - 1)
        };
        let text = format!(
            "-- Revises:{revises}\n\n-- migrate:upgrade\nCREATE TABLE t{version} (id INTEGER);\n"
        );
        std::fs::write(
            dir.join(format!("V{version}__revision_{version}.sql")),
            text,
        )
        .unwrap();
    }
    sandbox
        .cmd(&["check", "--dir", "migrations"])
        .assert()
        .code(0)
        .stdout_eq("ok: 10000 revisions in migrations, no problems\n");
}

#[test]
fn sql_that_would_not_run_as_written_is_reported_per_dialect() {
    check("sql_problems", "human")
        .code(1)
        .stdout_eq(file!["snapshots/check/sql_problems.txt"]);
    check("sql_problems", "json")
        .code(1)
        .stdout_eq(file!["snapshots/check/sql_problems.json"]);
    // Read as MySQL only, the nested comment closes: that problem is PostgreSQL's alone.
    Sandbox::with_fixture("sql_problems")
        .cmd(&["check", "--dir", "migrations", "--backend", "mysql"])
        .assert()
        .code(1)
        .stdout_eq(file!["snapshots/check/sql_problems_mysql.txt"]);
}

/// A package whose runtime dependency enables `features`, with a revision whose nested comment
/// only PostgreSQL leaves open, and `extra` configuration.
fn package(features: &str, extra: &str) -> Sandbox {
    let sandbox = Sandbox::new();
    let runtime = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../dbmigrate-runtime")
        .canonicalize()
        .unwrap();
    sandbox.write(
        "Cargo.toml",
        &format!(
            "[package]\nname = \"shop\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n[workspace]\n\n\
             [package.metadata.dbmigrate]\n{extra}\n\n\
             [dependencies]\ndbmigrate-runtime = {{ path = {runtime:?}, features = [{features}] }}\n"
        ),
    );
    sandbox.write("src/main.rs", "fn main() {}\n");
    sandbox.write(
        "migrations/V1__a.sql",
        "CREATE TABLE a (id INT);\n/* a /* b */\nCREATE TABLE b (id INT);\n",
    );
    sandbox
}

#[test]
fn the_dialects_come_from_the_flag_the_configuration_or_the_runtime_features() {
    // The package migrates MySQL: its nested comment is sound there, with or without --dir.
    let mysql = package("\"mysql\"", "");
    for args in [&["check"][..], &["check", "--dir", "migrations"]] {
        mysql
            .cmd(args)
            .assert()
            .code(0)
            .stdout_eq("ok: 1 revision in migrations read as MySQL/MariaDB, no problems\n");
    }
    // `--backend` overrides the features.
    mysql
        .cmd(&["check", "--backend", "postgres", "--format", "json"])
        .assert()
        .code(1)
        .stdout_eq(snapbox::str![[r#"
[
  {
    "code": "unterminated-sql",
    "severity": "error",
    "file": "migrations/V1__a.sql",
    "line": 2,
    "message": "this block comment is never closed (in PostgreSQL), so everything after it to the end of the section is part of it",
    "help": "close it with `*/`; PostgreSQL nests block comments, so every `/*` inside it needs its own `*/`"
  }
]

"#]]);
    // The configuration overrides the features.
    package("\"mysql\"", "backends = [\"postgres\", \"sqlite\"]")
        .cmd(&["check"])
        .assert()
        .code(1)
        .stdout_eq(snapbox::str![[r#"
...
check failed: 1 error (1 revision in migrations read as PostgreSQL and SQLite)

"#]]);
    // No backend feature (or no package at all): every dialect.
    package("", "")
        .cmd(&["check"])
        .assert()
        .code(1)
        .stdout_eq(snapbox::str![[r#"
...
check failed: 1 error (1 revision in migrations)

"#]]);
    package("\"mysql\"", "backends = [\"oracle\"]")
        .cmd(&["check"])
        .assert()
        .code(3);
}

#[cfg(unix)]
#[test]
fn a_symlink_out_of_the_directory_is_refused_and_never_printed() {
    let sandbox = Sandbox::with_fixture("linear");
    std::os::unix::fs::symlink(
        "/proc/self/environ",
        sandbox.path().join("migrations/V5__env.sql"),
    )
    .unwrap();
    let secret = "hunter2-in-the-environment";
    for args in [
        &["check", "--dir", "migrations"][..],
        &["check", "--dir", "migrations", "--format", "json"],
        &["show", "5", "--dir", "migrations"],
        &["show", "V5__env.sql", "--dir", "migrations"],
        &["history", "-v", "--dir", "migrations"],
    ] {
        let output = sandbox
            .cmd(args)
            .env("DBMIGRATE_SECRET", secret)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            !text.contains(secret),
            "{args:?} printed the environment:\n{text}"
        );
        let reported = if args[0] == "check" {
            text.contains("resolves to /proc/") && text.contains("outside the revision directory")
        } else {
            text.contains("the revisions have 1 error(s)")
        };
        assert!(reported, "{args:?}:\n{text}");
    }
}
