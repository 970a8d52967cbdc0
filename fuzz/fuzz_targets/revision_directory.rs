//! Fuzzes reading a revision directory, building its graph and reading its SQL in every dialect:
//! no input may panic.
//!
//! The input is split on NUL bytes into files; each file's first line is its name, the rest its
//! contents, so the fuzzer controls names, versions, headers and the shape of the graph at once.

#![no_main]

use std::borrow::Cow;
use std::path::PathBuf;

use dbmigrate_runtime::revision::{RevisionSource, parse_sources};
use dbmigrate_runtime::sql::lint::{Sections, lint};
use dbmigrate_runtime::{Backend, RevisionGraph, Target, VersionWidth};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let sources = data.split(|b| *b == 0).take(64).map(|file| {
        let (name, bytes) = match file.iter().position(|b| *b == b'\n') {
            Some(at) => (&file[..at], &file[at + 1..]),
            None => (file, &file[..0]),
        };
        RevisionSource {
            path: PathBuf::from(String::from_utf8_lossy(name).into_owned()),
            bytes: Cow::Borrowed(bytes),
        }
    });
    let width = if data.first().is_some_and(|b| b & 1 == 1) {
        VersionWidth::I64
    } else {
        VersionWidth::I32
    };
    let (revisions, _) = parse_sources(sources, width);
    let versions: Vec<i64> = revisions.iter().map(|r| r.version).collect();
    for problem in lint(&revisions, Sections::Both, &Backend::ALL) {
        let _ = (problem.to_string(), problem.help(), problem.location());
    }
    for revision in &revisions {
        for backend in Backend::ALL {
            let _ = dbmigrate_runtime::sql::split(&revision.upgrade.text, backend);
        }
    }
    let (graph, problems) = RevisionGraph::build(revisions);
    for problem in &problems {
        let _ = (problem.to_string(), problem.help(), problem.location());
    }
    let applied = versions.iter().copied().step_by(2).collect();
    for target in ["head", "heads", "base", "+1", "-1", "2+1", "3-1"] {
        let target: Target = target.parse().unwrap();
        let _ = graph.upgrade_plan(&target, &applied);
        let _ = graph.downgrade_plan(&target, &applied);
    }
    for version in versions {
        let _ = (
            graph.ancestors(version),
            graph.descendants(version),
            graph.children(version),
        );
    }
});
