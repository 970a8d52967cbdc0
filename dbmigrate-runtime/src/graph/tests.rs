use std::collections::BTreeSet;
use std::path::PathBuf;

use super::*;
use crate::revision::{RevisionSource, parse_sources};

/// Builds revisions from `(file name, Revises)` pairs; `None` writes a header-less (adopted) file.
fn revisions(files: &[(&str, Option<&str>)]) -> Vec<Revision> {
    let sources = files.iter().map(|(name, revises)| RevisionSource {
        path: PathBuf::from(name),
        bytes: match revises {
            Some(revises) => format!("-- Revises: {revises}\nSELECT 1;\n")
                .into_bytes()
                .into(),
            None => b"SELECT 1;\n".to_vec().into(),
        },
    });
    let (revisions, problems) = parse_sources(sources, VersionWidth::I32);
    assert_eq!(problems, vec![]);
    revisions
}

fn versions(list: &[&Revision]) -> Vec<i64> {
    list.iter().map(|r| r.version).collect()
}

fn applied(versions: &[i64]) -> BTreeSet<i64> {
    versions.iter().copied().collect()
}

fn codes(problems: &[RevisionError]) -> Vec<&'static str> {
    problems.iter().map(RevisionError::code).collect()
}

#[test]
fn adopted_refinery_files_form_a_linear_chain() {
    let graph = RevisionGraph::from_revisions(revisions(&[
        ("V1__a.sql", None),
        ("V2__b.sql", None),
        ("V5__c.sql", None),
    ]))
    .unwrap();
    assert_eq!(versions(&graph.heads()), [5]);
    assert_eq!(versions(&graph.bases()), [1]);
    assert_eq!(versions(&graph.parents(5)), [2]);
}

#[test]
fn a_merge_joins_a_fork_and_orders_branches_by_version() {
    let graph = RevisionGraph::from_revisions(revisions(&[
        ("V1__a.sql", Some("")),
        ("V2__left.sql", Some("1")),
        ("V3__right.sql", Some("1")),
        ("V4__left_more.sql", Some("2")),
        ("V5__merge.sql", Some("4, 3")),
    ]))
    .unwrap();
    assert_eq!(versions(&graph.topological_order()), [1, 2, 3, 4, 5]);
    assert_eq!(graph.head().unwrap().version, 5);
    assert_eq!(graph.ancestors(5), applied(&[1, 2, 3, 4]));
    assert_eq!(graph.descendants(2), applied(&[4, 5]));
    let plan = graph
        .upgrade_plan(&Target::Version(4), &applied(&[1]))
        .unwrap();
    assert_eq!(versions(&plan), [2, 4]);
}

#[test]
fn a_fork_is_reported_and_head_refuses() {
    let (graph, problems) = RevisionGraph::build(revisions(&[
        ("V1__a.sql", Some("")),
        ("V2__b.sql", Some("1")),
        ("V3__c.sql", Some("1")),
    ]));
    assert_eq!(codes(&problems), ["multiple-heads"]);
    assert_eq!(
        graph.head(),
        Err(GraphError::MultipleHeads { heads: vec![2, 3] })
    );
    let plan = graph.upgrade_plan(&Target::Heads, &applied(&[])).unwrap();
    assert_eq!(versions(&plan), [1, 2, 3]);
}

#[test]
fn every_graph_problem_is_collected() {
    let (_, problems) = RevisionGraph::build(revisions(&[
        ("V1__a.sql", Some("")),
        ("V2__self.sql", Some("2")),
        ("V3__missing.sql", Some("9")),
        ("V4__loop_a.sql", Some("5")),
        ("V5__loop_b.sql", Some("4")),
        ("V6__dup.sql", Some("1")),
        ("V06__dup_again.sql", Some("1")),
    ]));
    assert_eq!(
        codes(&problems),
        [
            "duplicate-version",
            "self-loop",
            "missing-parent",
            "parent-after-child",
            "cycle",
            "multiple-heads"
        ]
    );
    let cycle = problems.iter().find(|p| p.code() == "cycle").unwrap();
    assert_eq!(cycle.to_string(), "the revisions form a cycle: 4 -> 5 -> 4");
}

#[test]
fn upgrade_targets_resolve_like_alembic() {
    let graph = RevisionGraph::from_revisions(revisions(&[
        ("V1__a.sql", None),
        ("V2__b.sql", None),
        ("V3__c.sql", None),
        ("V4__d.sql", None),
    ]))
    .unwrap();
    let none = applied(&[]);
    assert_eq!(
        versions(&graph.upgrade_plan(&Target::Head, &none).unwrap()),
        [1, 2, 3, 4]
    );
    assert_eq!(
        versions(
            &graph
                .upgrade_plan(&Target::Relative(2), &applied(&[1]))
                .unwrap()
        ),
        [2, 3]
    );
    assert_eq!(
        versions(&graph.upgrade_plan(&"2+1".parse().unwrap(), &none).unwrap()),
        [1, 2, 3]
    );
    assert_eq!(
        graph.upgrade_plan(&Target::Relative(9), &none).unwrap_err(),
        GraphError::NotEnoughRevisions {
            requested: 9,
            available: 4
        }
    );
    assert_eq!(
        graph.upgrade_plan(&Target::Version(7), &none).unwrap_err(),
        GraphError::UnknownRevision { version: 7 }
    );
    assert!(
        graph
            .upgrade_plan(&Target::Head, &applied(&[1, 2, 3, 4]))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn downgrade_reverts_dependents_first() {
    let graph = RevisionGraph::from_revisions(revisions(&[
        ("V1__a.sql", Some("")),
        ("V2__left.sql", Some("1")),
        ("V3__right.sql", Some("1")),
        ("V4__merge.sql", Some("2, 3")),
    ]))
    .unwrap();
    let all = applied(&[1, 2, 3, 4]);
    assert_eq!(
        versions(&graph.downgrade_plan(&Target::Version(2), &all).unwrap()),
        [4]
    );
    assert_eq!(
        versions(&graph.downgrade_plan(&Target::Version(1), &all).unwrap()),
        [4, 3, 2]
    );
    assert_eq!(
        versions(&graph.downgrade_plan(&Target::Base, &all).unwrap()),
        [4, 3, 2, 1]
    );
    assert_eq!(
        versions(&graph.downgrade_plan(&Target::Relative(-2), &all).unwrap()),
        [4, 3]
    );
    assert_eq!(
        versions(&graph.downgrade_plan(&"4-1".parse().unwrap(), &all).unwrap()),
        [4]
    );
    assert!(matches!(
        graph.downgrade_plan(&Target::Head, &all),
        Err(GraphError::WrongDirection { .. })
    ));
    assert_eq!(
        graph.downgrade_plan(&Target::Version(3), &applied(&[1, 2])),
        Err(GraphError::NotApplied { version: 3 })
    );
}
