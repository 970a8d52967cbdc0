//! The hostile-input corpus (`tests/fixtures/hostile/`): every malformed directory gets exactly the
//! problems its `EXPECTED` file lists, each at its file (and line), and nothing panics.
//!
//! `EXPECTED` holds one `code file[:line]` per problem; an empty file means the directory is sound.

use std::path::{Path, PathBuf};

use dbmigrate_runtime::{RevisionGraph, VersionWidth, revision::load_directory};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/hostile")
}

/// What `check` and startup see in a directory, in `EXPECTED`'s format, sorted.
fn problems_in(dir: &Path) -> Vec<String> {
    let (revisions, mut problems) = load_directory(dir, VersionWidth::I32);
    problems.extend(RevisionGraph::build(revisions).1);
    let mut lines: Vec<String> = problems
        .iter()
        .map(|problem| {
            let location = problem.location().expect("every problem names a file");
            let file = match location.path.strip_prefix(dir) {
                Ok(relative) if relative.as_os_str().is_empty() => {
                    dir.file_name().unwrap().to_string_lossy().into_owned()
                }
                Ok(relative) => relative.display().to_string(),
                Err(_) => location.path.display().to_string(),
            };
            match location.line {
                Some(line) => format!("{} {file}:{line}", problem.code()),
                None => format!("{} {file}", problem.code()),
            }
        })
        .collect();
    lines.sort();
    lines
}

#[test]
fn every_case_reports_exactly_its_expected_problems() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 60,
        "the corpus shrank to {} cases",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let expected_text = std::fs::read_to_string(case.join("EXPECTED")).unwrap();
        let mut expected: Vec<String> = expected_text.lines().map(str::to_string).collect();
        expected.sort();
        let found = problems_in(case);
        if found != expected {
            failures.push(format!(
                "{}:\n  expected {expected:?}\n  found    {found:?}",
                case.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn a_huge_file_is_read_in_one_piece() {
    let temp = tempfile::tempdir().unwrap();
    let statement =
        "INSERT INTO t VALUES (1, 'some text that makes the line longer than usual');\n";
    std::fs::write(temp.path().join("V1__big.sql"), statement.repeat(300_000)).unwrap();
    assert_eq!(problems_in(temp.path()), Vec::<String>::new());
}

#[test]
fn a_missing_directory_is_reported_not_panicked_on() {
    let missing = corpus().join("no such directory");
    assert_eq!(problems_in(&missing), ["unreadable no such directory"]);
}
