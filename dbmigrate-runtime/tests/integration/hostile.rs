//! The hostile-input corpus (`tests/fixtures/hostile/`): every malformed directory gets exactly the
//! problems its `EXPECTED` file lists, each at its file (and line), and nothing panics.
//!
//! `EXPECTED` holds one `code file[:line]` per problem; an empty file means the directory is sound.
//! The SQL is read in every dialect, as `cargo dbmigrate check --dir` does outside a package.

use std::path::{Path, PathBuf};

use dbmigrate_runtime::sql::lint::{Sections, lint};
use dbmigrate_runtime::{Backend, RevisionGraph, VersionWidth, revision::load_directory};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/hostile")
}

/// What `check` and startup see in a directory, in `EXPECTED`'s format, sorted.
fn problems_in(dir: &Path) -> Vec<String> {
    let (revisions, mut problems) = load_directory(dir, VersionWidth::I32);
    problems.extend(lint(&revisions, Sections::Both, &Backend::ALL));
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

/// FIFOs and sockets cannot live in git, so these cases are made here: named like revisions, they
/// are reported, never read (reading a FIFO with no writer would wait forever).
#[cfg(unix)]
#[test]
fn special_files_named_like_revisions_are_reported_not_read() {
    let temp = tempfile::tempdir().unwrap();
    std::fs::write(temp.path().join("V1__a.sql"), "CREATE TABLE a (id INT);\n").unwrap();
    let fifo = std::process::Command::new("mkfifo")
        .arg(temp.path().join("V2__fifo.sql"))
        .status()
        .expect("mkfifo");
    assert!(fifo.success());
    let _socket =
        std::os::unix::net::UnixListener::bind(temp.path().join("V3__socket.sql")).unwrap();
    // Not named like a revision: not looked at.
    let _other = std::os::unix::net::UnixListener::bind(temp.path().join("notes.socket")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", temp.path().join("V4__zero.sql")).unwrap();
    std::os::unix::fs::symlink("V2__fifo.sql", temp.path().join("V5__to_fifo.sql")).unwrap();
    assert_eq!(
        problems_in(temp.path()),
        [
            "not-a-regular-file V2__fifo.sql",
            "not-a-regular-file V3__socket.sql",
            "not-a-regular-file V5__to_fifo.sql",
            "outside-revision-directory V4__zero.sql",
        ]
    );
    let (_, problems) = load_directory(temp.path(), VersionWidth::I32);
    let fifo = problems
        .iter()
        .find(|p| p.to_string().contains("V2__fifo.sql"))
        .unwrap();
    assert!(
        fifo.to_string().ends_with(
            "V2__fifo.sql: it is a FIFO (named pipe), not a regular file; it was not read"
        ),
        "{fifo}"
    );
}

/// A symlink to a secret outside the directory is reported by where it leads, and its contents
/// appear nowhere in what is reported.
#[cfg(unix)]
#[test]
fn a_symlink_out_of_the_directory_is_not_read() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("migrations");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(temp.path().join("secret"), "-- Revises: hunter2\n").unwrap();
    std::os::unix::fs::symlink("../secret", dir.join("V1__secret.sql")).unwrap();
    let (revisions, problems) = load_directory(&dir, VersionWidth::I32);
    assert!(revisions.is_empty());
    assert_eq!(problems.len(), 1);
    let message = format!("{} {}", problems[0], problems[0].help());
    assert!(
        message.contains("outside the revision directory") && !message.contains("hunter2"),
        "{message}"
    );
    // A directory reached through a symlink is read as itself: its files are inside it.
    let link = temp.path().join("linked");
    std::os::unix::fs::symlink(&dir, &link).unwrap();
    std::fs::remove_file(dir.join("V1__secret.sql")).unwrap();
    std::fs::write(dir.join("V1__a.sql"), "CREATE TABLE a (id INT);\n").unwrap();
    assert_eq!(problems_in(&link), Vec::<String>::new());
}
