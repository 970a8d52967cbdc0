//! Which side of a fork (or of two files sharing a version) to move, told from a database's history:
//! `check --database-url` reads what the database has applied, read-only and without the lock, and
//! advises rebasing only what it has not applied.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use dbmigrate_runtime::{
    Backend, BackendPool, Migrations, Migrator, Revision, RevisionError, RevisionGraph,
};

use crate::directory::Revisions;
use crate::project::Project;

/// How long `check` keeps trying to reach the database: it only improves advice, so it gives up
/// quickly and falls back on the offline advice.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The applied versions of a database's history, with the name each row records.
pub type Applied = BTreeMap<i64, Option<String>>;

/// Whether `check` has advice that the history would change.
pub fn needs_history(problems: &[RevisionError]) -> bool {
    problems.iter().any(|p| {
        matches!(
            p,
            RevisionError::MultipleHeads { .. } | RevisionError::DuplicateVersion { .. }
        )
    })
}

/// Reads the history through [`Migrator::status`], which neither takes the lock nor writes; a SQLite
/// database is opened read-only, so a missing file is not created. The error is the reason, for a
/// warning.
pub fn read_applied(
    url: &str,
    revisions: &Revisions,
    project: &Project,
) -> Result<Applied, String> {
    let url = read_only(url);
    let migrations = Migrations::new(
        revisions.graph.clone(),
        project.config.version_width,
        project.config.table.clone(),
    )
    .map_err(|error| error.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    let status = runtime.block_on(async {
        // The pool belongs to the runtime, so it is made inside it.
        let pool = BackendPool::connect_lazy(&url, 1).map_err(|error| error.to_string())?;
        let status = Migrator::new(&migrations)
            .connect_timeout(CONNECT_TIMEOUT)
            .status(&pool)
            .await;
        pool.close().await;
        status.map_err(|error| error.to_string())
    })?;
    Ok(status
        .applied
        .into_iter()
        .map(|row| (row.version, row.name))
        .collect())
}

/// `url` with SQLite's `mode=ro`, so reading never creates or changes the file; other URLs as given.
fn read_only(url: &str) -> String {
    if Backend::from_url(url) != Some(Backend::Sqlite) {
        return url.to_string();
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut parameters: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("mode="))
        .collect();
    parameters.push("mode=ro");
    format!("{base}?{}", parameters.join("&"))
}

/// The advice for a fork or a duplicate version given what the database has applied, or `None` for
/// other problems (whose advice does not depend on the history).
pub fn advice(problem: &RevisionError, revisions: &Revisions, applied: &Applied) -> Option<String> {
    match problem {
        RevisionError::MultipleHeads { heads } => {
            let heads: Vec<i64> = heads.iter().map(|h| h.version).collect();
            Some(fork_advice(&revisions.graph, &heads, applied))
        }
        RevisionError::DuplicateVersion {
            version,
            first,
            second,
        } => Some(duplicate_advice(
            revisions, *version, first, second, applied,
        )),
        _ => None,
    }
}

/// Each head's own branch: it and its ancestors that no other head has.
fn branches(graph: &RevisionGraph, heads: &[i64]) -> Vec<(i64, BTreeSet<i64>)> {
    let lineage = |head: i64| {
        let mut versions = graph.ancestors(head);
        versions.insert(head);
        versions
    };
    heads
        .iter()
        .map(|&head| {
            let mut own = lineage(head);
            for &other in heads.iter().filter(|&&o| o != head) {
                own = own.difference(&lineage(other)).copied().collect();
            }
            (head, own)
        })
        .collect()
}

fn listed(versions: impl IntoIterator<Item = i64>) -> String {
    versions
        .into_iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn fork_advice(graph: &RevisionGraph, heads: &[i64], applied: &Applied) -> String {
    let branches = branches(graph, heads);
    let (with_applied, unapplied): (Vec<_>, Vec<_>) = branches
        .iter()
        .map(|(head, own)| {
            let done: Vec<i64> = own
                .iter()
                .copied()
                .filter(|v| applied.contains_key(v))
                .collect();
            (*head, done)
        })
        .partition(|(_, done)| !done.is_empty());
    match (with_applied.as_slice(), unapplied.as_slice()) {
        ([(kept, done)], [(moving, _), rest @ ..]) => {
            let then = if rest.is_empty() {
                String::new()
            } else {
                "; then run `cargo dbmigrate check --database-url` again for the next branch".into()
            };
            format!(
                "this database has applied {kept}'s branch ({}) and nothing of {}: move {moving}'s branch onto \
                 it with `cargo dbmigrate rebase {moving} --onto {kept}` (if no other database has applied it), or \
                 join the branches with `cargo dbmigrate merge`{then}",
                listed(done.iter().copied()),
                unapplied
                    .iter()
                    .map(|(head, _)| format!("{head}'s"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
        }
        ([], _) => {
            let (first, last) = (heads[0], heads[heads.len() - 1]);
            format!(
                "this database has applied no revision of either branch ({}): move the one no other database \
                 has applied either, for example `cargo dbmigrate rebase {last} --onto {first}`, or join the \
                 branches with `cargo dbmigrate merge`",
                listed(heads.iter().copied())
            )
        }
        (several, _) => format!(
            "this database has applied revisions of several branches ({}): rewriting either would change \
             applied revisions, so join them with `cargo dbmigrate merge`",
            several
                .iter()
                .map(|(head, done)| format!("{head}'s: {}", listed(done.iter().copied())))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

fn duplicate_advice(
    revisions: &Revisions,
    version: i64,
    first: &Path,
    second: &Path,
    applied: &Applied,
) -> String {
    let name_of = |path: &Path| {
        revisions
            .graph
            .revisions()
            .iter()
            .chain(&revisions.duplicates)
            .find(|r| r.path == path)
            .map(|r: &Revision| r.name.clone())
    };
    let recorded = applied.get(&version);
    let matches =
        |path: &Path| recorded.is_some_and(|name| name.is_some() && *name == name_of(path));
    let rebase = |path: &Path| {
        format!(
            "`cargo dbmigrate rebase {} --onto {version}`",
            path.display()
        )
    };
    match (recorded, matches(first), matches(second)) {
        (None, _, _) => format!(
            "this database has applied neither file of version {version}: renumber the one no other database \
             has applied either, for example with {}",
            rebase(second)
        ),
        (Some(_), true, false) => format!(
            "this database has applied {} as version {version}: renumber the other file with {}",
            first.display(),
            rebase(second)
        ),
        (Some(_), false, true) => format!(
            "this database has applied {} as version {version}: renumber the other file with {}",
            second.display(),
            rebase(first)
        ),
        (Some(name), _, _) => format!(
            "this database has applied a version {version} recorded as `{}`, which neither file is: \
             `cargo dbmigrate status` shows it; renumber the file no database has applied with {}",
            name.as_deref().unwrap_or("(no name)"),
            rebase(second)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_are_opened_read_only() {
        assert_eq!(
            read_only("sqlite://app.db?mode=rwc"),
            "sqlite://app.db?mode=ro"
        );
        assert_eq!(read_only("sqlite:app.db"), "sqlite:app.db?mode=ro");
        assert_eq!(
            read_only("sqlite://app.db?cache=shared&mode=rw"),
            "sqlite://app.db?cache=shared&mode=ro"
        );
        assert_eq!(
            read_only("postgres://u@h/db?sslmode=disable"),
            "postgres://u@h/db?sslmode=disable"
        );
    }
}
