//! Writing the history without running revisions: `stamp` (adopting an existing schema, or moving
//! to another branch) and `repair` (recording the checksum of files whose line endings changed).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::error::Error;
use super::report::{Direction, Report, RunKind};
use super::{Migrator, run};
use crate::backend::session::Pool;
use crate::graph::Target;
use crate::history::{self};
use crate::revision::Revision;

impl<'m> Migrator<'m> {
    /// Records the database as being at `target` without running anything: history rows are written
    /// for the revisions up to it and removed for those beyond it. Adopts an existing database.
    pub async fn stamp(&self, pool: &impl Pool, target: Target) -> Result<Report, Error> {
        let started = Instant::now();
        self.in_session(pool, |this, session| {
            Box::pin(this.locked(session, "stamp", move |this, session| {
                Box::pin(async move {
                    let width = this.migrations.version_width();
                    let history = this.prepare_unverified(session).await?;
                    let graph = this.migrations.graph();
                    let mut applied = history.applied_versions();
                    let (add, remove): (Vec<&Revision>, Vec<&Revision>) = match target {
                        Target::Relative(steps) if steps < 0 => {
                            (Vec::new(), graph.downgrade_plan(&target, &applied)?)
                        }
                        Target::FromVersion { steps, .. } if steps < 0 => {
                            (Vec::new(), graph.downgrade_plan(&target, &applied)?)
                        }
                        Target::Relative(_) => (graph.upgrade_plan(&target, &applied)?, Vec::new()),
                        _ => {
                            let wanted: BTreeSet<i64> = graph
                                .upgrade_plan(&target, &BTreeSet::new())?
                                .iter()
                                .map(|r| r.version)
                                .collect();
                            let add = graph.upgrade_plan(&target, &applied)?;
                            let mut remove: Vec<&Revision> = graph
                                .topological_order()
                                .into_iter()
                                .filter(|r| {
                                    applied.contains(&r.version) && !wanted.contains(&r.version)
                                })
                                .collect();
                            remove.reverse();
                            (add, remove)
                        }
                    };
                    session
                        .conn()
                        .begin()
                        .await
                        .map_err(Error::database("starting the stamp transaction"))?;
                    for revision in &remove {
                        history::table::delete(
                            session.conn(),
                            &this.table,
                            width,
                            revision.version,
                        )
                        .await
                        .map_err(Error::database(format!(
                            "removing the history row of revision {}",
                            revision.version
                        )))?;
                        applied.remove(&revision.version);
                    }
                    for revision in &add {
                        let row = run::applied_row(revision, width);
                        history::table::insert_applied(session.conn(), &this.table, width, &row)
                            .await
                            .map_err(Error::database(format!(
                                "writing the history row of revision {}",
                                revision.version
                            )))?;
                        applied.insert(revision.version);
                    }
                    session
                        .conn()
                        .commit()
                        .await
                        .map_err(Error::database("committing the stamp"))?;
                    let (direction, changed) = if add.is_empty() && !remove.is_empty() {
                        (Direction::Downgrade, &remove)
                    } else {
                        (Direction::Upgrade, &add)
                    };
                    let mut report = this.report(
                        direction,
                        RunKind::Stamped,
                        changed
                            .iter()
                            .map(|r| run::step_report(r, Duration::ZERO))
                            .collect(),
                        started,
                        &applied,
                    );
                    if direction == Direction::Upgrade {
                        report.removed = remove
                            .iter()
                            .map(|r| run::step_report(r, Duration::ZERO))
                            .collect();
                    }
                    Ok(report)
                })
            }))
        })
        .await
    }

    /// Records the current checksum of every applied revision whose file differs from what was
    /// applied only in its line endings (CRLF against LF). Nothing else is touched; returns the
    /// versions repaired.
    pub async fn repair(&self, pool: &impl Pool) -> Result<Vec<i64>, Error> {
        self.in_session(pool, |this, session| {
            Box::pin(this.locked(session, "repair", |this, session| {
                Box::pin(async move {
                    let history = this.prepare_unverified(session).await?;
                    let verification = this.verify(&history);
                    let width = this.migrations.version_width();
                    let mut repaired = Vec::new();
                    session
                        .conn()
                        .begin()
                        .await
                        .map_err(Error::database("starting the repair transaction"))?;
                    for divergence in verification
                        .divergent
                        .iter()
                        .filter(|d| d.line_endings_only)
                    {
                        history::table::update_checksum(
                            session.conn(),
                            &this.table,
                            width,
                            divergence.version,
                            &divergence.file_checksum,
                        )
                        .await
                        .map_err(Error::database(format!(
                            "updating the checksum of revision {}",
                            divergence.version
                        )))?;
                        repaired.push(divergence.version);
                    }
                    session
                        .conn()
                        .commit()
                        .await
                        .map_err(Error::database("committing the repair"))?;
                    Ok(repaired)
                })
            }))
        })
        .await
    }
}
