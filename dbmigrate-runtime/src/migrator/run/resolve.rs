//! `resolve`: settles a revision the side table lists as running or failed.

use std::time::{Duration, Instant};

use super::runner::Runner;
use super::{Work, applied_row, statements, step_report};
use crate::backend::session::Session;
use crate::checksum::statements_checksum;
use crate::history;
use crate::migrator::error::Error;
use crate::migrator::report::{Direction, Report, RunKind, StepReport};
use crate::migrator::{Migrator, Resolution};
use crate::revision::RevisionKind;

/// `resolve`: settles a revision the side table lists as running or failed.
pub(in crate::migrator) async fn resolve(
    session: &mut Session,
    migrator: &Migrator<'_>,
    version: i64,
    resolution: Resolution,
    started: Instant,
) -> Result<Report, Error> {
    let table = migrator.history_table().to_string();
    let width = migrator.migrations.version_width();
    let history = migrator.prepare_unverified(session).await?;
    // Unfinished runs, and applied revisions whose refinery row was deleted by hand.
    let recorded = history.applied_versions();
    let Some(state) = history
        .state(version)
        .filter(|s| s.is_unfinished() || !recorded.contains(&s.version))
        .cloned()
    else {
        return Err(Error::Resolve(format!(
            "revision {version} has nothing to resolve: `{}` lists no unfinished run of it and its history row is in place (see `cargo dbmigrate status`)",
            crate::backend::state_table(&table)
        )));
    };
    let revision = migrator.migrations.graph().get(version);
    let direction = if state.direction.as_deref() == Some("downgrade") {
        Direction::Downgrade
    } else {
        Direction::Upgrade
    };
    let mut applied = history.applied_versions();
    let mut steps = Vec::new();
    let mut kind = RunKind::Applied;
    match resolution {
        Resolution::Applied | Resolution::Reverted => {
            session
                .conn()
                .begin()
                .await
                .map_err(Error::database("starting the resolve transaction"))?;
            history::table::delete(session.conn(), &table, width, version)
                .await
                .map_err(Error::database(format!(
                    "clearing the records of revision {version}"
                )))?;
            applied.remove(&version);
            if resolution == Resolution::Applied {
                let Some(revision) = revision else {
                    return Err(Error::Resolve(format!(
                        "revision {version} has no file, so it cannot be recorded as applied"
                    )));
                };
                history::table::insert_applied(
                    session.conn(),
                    &table,
                    width,
                    &applied_row(revision, width),
                )
                .await
                .map_err(Error::database(format!("recording revision {version}")))?;
                applied.insert(version);
                steps.push(step_report(revision, Duration::ZERO));
                kind = RunKind::MarkedApplied;
            } else {
                let name = revision.map_or_else(
                    || state_name(&history, version),
                    |revision| revision.name.clone(),
                );
                steps.push(StepReport {
                    version,
                    name,
                    kind: revision.map_or(RevisionKind::Sql, |r| r.kind),
                    duration: Duration::ZERO,
                });
                kind = RunKind::MarkedReverted;
            }
            session
                .conn()
                .commit()
                .await
                .map_err(Error::database("committing the resolve"))?;
        }
        Resolution::Resume => {
            let Some(revision) = revision else {
                return Err(Error::Resolve(format!(
                    "revision {version} has no file to resume from"
                )));
            };
            if revision.kind == RevisionKind::Rust || state.statement_index.is_none() {
                return Err(Error::Resolve(format!(
                    "revision {version} cannot be resumed: only SQL revisions run statement by statement record where they stopped; \
                     use --applied or --reverted"
                )));
            }
            let backend = session.backend();
            let statements = statements(revision, direction, backend);
            let resume_at = usize::try_from(state.statement_index.unwrap_or(1) - 1).unwrap_or(0);
            let completed =
                statements_checksum(statements.iter().take(resume_at).map(|s| s.text.as_str()));
            if resume_at > statements.len()
                || state.completed_checksum.as_deref() != Some(completed.as_str())
            {
                return Err(Error::Resolve(format!(
                    "revision {version} cannot be resumed: statements 1 to {resume_at}, which completed, are not the same in {} any more; \
                     edit only the statement that failed and those after it",
                    revision.path.display()
                )));
            }
            let mut runner = Runner {
                tail: usize::MAX,
                ..Runner::new(migrator, backend, revision, direction)
            };
            let step = runner
                .one_by_one(session, Work::Sql(statements), resume_at)
                .await
                .map_err(Error::Revision)?;
            match direction {
                Direction::Upgrade => applied.insert(version),
                Direction::Downgrade => applied.remove(&version),
            };
            steps.push(step);
        }
    }
    Ok(migrator.report(direction, kind, steps, started, &applied))
}

/// The name refinery's row records for `version`, for a revision without a file.
fn state_name(history: &history::History, version: i64) -> String {
    history
        .applied
        .iter()
        .find(|row| row.version == version)
        .and_then(|row| row.name.clone())
        .unwrap_or_default()
}
