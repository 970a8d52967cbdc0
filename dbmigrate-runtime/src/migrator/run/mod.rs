//! Running one revision: in a transaction with its history row where the database allows, statement
//! by statement with its progress recorded in the side table where it does not.

use std::time::Duration;

use super::Migrator;
use super::event::Event;
use super::failure::{Committed, FailureCause, RevisionFailure};
use super::report::{Direction, StepReport};
use crate::backend::Backend;
use crate::backend::connection::Connection;
use crate::backend::session::Session;
use crate::data::StepFn;
use crate::history::{self, AppliedRow, RunState, StateRow, now_rfc3339};
use crate::revision::{Revision, RevisionKind, VersionWidth};
use crate::sql::{self, Statement};

mod group;
mod one_by_one;
mod resolve;
mod runner;

pub(super) use resolve::resolve;
use runner::Runner;

/// What a revision runs in one direction.
enum Work<'r> {
    /// SQL statements, with their lines in the file.
    Sql(Vec<Statement>),
    /// A compiled data step.
    Rust(StepFn, &'r Revision),
}

/// Tells the event callback a revision starts.
fn started(migrator: &Migrator<'_>, revision: &Revision, direction: Direction) {
    migrator.emit(Event::RevisionStarted {
        version: revision.version,
        name: &revision.name,
        kind: revision.kind,
        direction,
    });
}

/// Tells the event callback a revision finished and is recorded.
fn finished(migrator: &Migrator<'_>, step: &StepReport, direction: Direction) {
    migrator.emit(Event::RevisionFinished {
        version: step.version,
        name: &step.name,
        direction,
        duration: step.duration,
    });
}

pub(super) fn step_report(revision: &Revision, duration: Duration) -> StepReport {
    StepReport {
        version: revision.version,
        name: revision.name.clone(),
        kind: revision.kind,
        duration,
    }
}

/// refinery's row for a revision applied now.
pub(super) fn applied_row(revision: &Revision, width: VersionWidth) -> AppliedRow {
    AppliedRow {
        version: revision.version,
        name: Some(revision.name.clone()),
        applied_on: Some(now_rfc3339()),
        checksum: Some(revision.checksum(width).to_string()),
    }
}

/// The statements of a SQL revision's section for `direction`, with lines counted in the file.
fn statements(revision: &Revision, direction: Direction, backend: Backend) -> Vec<Statement> {
    let section = match direction {
        Direction::Upgrade => Some(&revision.upgrade),
        Direction::Downgrade => revision.downgrade.as_ref(),
    };
    section
        .map(|section| {
            sql::split(&section.text, backend)
                .into_iter()
                .map(|s| Statement {
                    line: s.line + section.first_line.saturating_sub(1),
                    ..s
                })
                .collect()
        })
        .unwrap_or_default()
}

fn work<'r>(
    migrator: &Migrator<'_>,
    revision: &'r Revision,
    direction: Direction,
    backend: Backend,
) -> Work<'r> {
    match revision.kind {
        RevisionKind::Sql => Work::Sql(statements(revision, direction, backend)),
        RevisionKind::Rust => {
            // check_steps ran before anything was applied, so the step and its downgrade exist.
            let step = migrator.migrations.rust_step(revision.version).copied();
            let function = step.and_then(|s| match direction {
                Direction::Upgrade => Some(s.upgrade),
                Direction::Downgrade => s.downgrade,
            });
            match function {
                Some(function) => Work::Rust(function, revision),
                None => Work::Sql(Vec::new()),
            }
        }
    }
}

/// Runs `plan` in order and records each revision; on a failure, the error lists the revisions
/// completed before it, which stay.
///
/// On SQLite, consecutive revisions that run in a transaction share one, each in a savepoint of its
/// own: a commit there is a journal write and several fsyncs, which made a fresh database's 1,000
/// revisions ten times slower than the same SQL in one transaction. A revision that fails rolls back
/// to its savepoint and the ones before it are committed, as if each had had its own transaction; a
/// crash loses the group's revisions together, each whole. The server databases keep one
/// transaction per revision, so that locks on the application's tables are held for one revision
/// at a time.
pub(super) async fn plan(
    session: &mut Session,
    migrator: &Migrator<'_>,
    plan: &[&Revision],
    direction: Direction,
) -> Result<Vec<StepReport>, Box<RevisionFailure>> {
    let backend = session.backend();
    let traits = backend.dialect().runner;
    let grouped = |revision: &Revision| traits.groups_revisions && revision.transactional();
    let mut done = Vec::with_capacity(plan.len());
    // On PostgreSQL the side-table rows (execution times) of revisions applied in one transaction
    // are written together once the run ends: one statement instead of one per revision.
    let mut times = Vec::new();
    let defer_times = traits.writes_times_at_the_end && direction == Direction::Upgrade;
    let mut marker_written = false;
    // On MySQL the next revision's statements are split ahead of time for its first marker (see
    // `Handoff`); they are kept here for its own run.
    let mut next_work = None;
    let mut index = 0;
    while index < plan.len() {
        let group = plan[index..].iter().take_while(|r| grouped(r)).count();
        if group < 2 {
            let current = next_work
                .take()
                .unwrap_or_else(|| work(migrator, plan[index], direction, backend));
            next_work = plan
                .get(index + 1)
                .filter(|_| backend.dialect().implicit_commits)
                .map(|next| work(migrator, next, direction, backend));
            let handoff = Handoff {
                next_marker: plan.get(index + 1).zip(next_work.as_ref()).and_then(
                    |(next, work)| first_marker(migrator, next, work, direction, backend),
                ),
                marker_written: std::mem::take(&mut marker_written),
            };
            let hands_off = handoff.next_marker.is_some();
            let deferred = defer_times.then_some(&mut times);
            started(migrator, plan[index], direction);
            let running = revision(
                session,
                migrator,
                plan[index],
                current,
                direction,
                handoff,
                deferred,
            );
            let outcome = match migrator.revision_timeout_limit() {
                Some(limit) if !traits.in_process => {
                    match tokio::time::timeout(limit, running).await {
                        Ok(outcome) => outcome,
                        // The revision's future is dropped mid-way: its connection is in an unknown
                        // state and is closed (see `Migrator::locked`), which ends its transaction.
                        Err(_) => Err(Runner::new(migrator, backend, plan[index], direction)
                            .failure(None, FailureCause::TimedOut(limit), Committed::Unknown)),
                    }
                }
                _ => running.await,
            };
            match outcome {
                Ok(step) => {
                    marker_written = hands_off;
                    finished(migrator, &step, direction);
                    done.push(step);
                }
                Err(mut failure) => {
                    if failure.transaction_lost {
                        // sqlx still counts the transaction SQLite abandoned as open.
                        session.poison();
                    }
                    if failure.cause.is_connection_lost() {
                        // Nothing more can go through this connection (it may hang, mid-message).
                        session.poison();
                    } else {
                        write_times(session, migrator, &times).await;
                    }
                    failure.completed = done;
                    return Err(failure);
                }
            }
            index += 1;
            continue;
        }
        let members = &plan[index..index + group];
        group::run(session, migrator, members, direction, &mut done).await?;
        index += group;
    }
    write_times(session, migrator, &times).await;
    Ok(done)
}

/// Writes the side-table rows of revisions applied in this run, best effort: they hold execution
/// times only (a revision's refinery row is what makes it applied), and a database that refuses them
/// has refused nothing of the migration.
async fn write_times(session: &mut Session, migrator: &Migrator<'_>, rows: &[StateRow]) {
    if rows.is_empty() {
        return;
    }
    if let Err(error) =
        history::table::write_states(session.conn(), migrator.history_table(), rows).await
    {
        tracing::warn!(%error, revisions = rows.len(), "the execution times of this run could not be recorded");
    }
}

/// Records a failed revision's state where `status` and `resolve` read it; when that fails too,
/// the failure says so (and tracing reports it), rather than leaving `status` silently wrong.
async fn record_failure_state(
    conn: &mut dyn Connection,
    table: &str,
    row: &StateRow,
    failure: &mut RevisionFailure,
) {
    if let Err(error) = history::table::write_state(conn, table, row).await {
        tracing::error!(version = row.version, %error, "recording a failed revision in the side table failed");
        failure.unrecorded = Some(error.to_string());
    }
}

/// How a revision run statement by statement on MySQL shares its progress record with the one
/// before and after it: the record saying its first statement is about to run is written in the
/// commit that finishes the revision before it, saving a commit (an fsync) per revision.
#[derive(Debug, Default)]
struct Handoff {
    /// The record to write with this revision's own, for the revision that comes next.
    next_marker: Option<StateRow>,
    /// Whether the revision before wrote this revision's first record already.
    marker_written: bool,
}

/// How a revision runs: in one transaction, or statement by statement (`Transaction: none`, and
/// MySQL revisions holding statements MySQL commits implicitly). For the latter, the statements
/// after the last implicit commit still run in the transaction that records the revision.
fn shape(revision: &Revision, work: &Work<'_>, backend: Backend) -> Option<usize> {
    let Work::Sql(statements) = work else {
        return (!revision.transactional()).then_some(0);
    };
    let dialect = backend.dialect();
    let last_implicit = dialect
        .implicit_commits
        .then(|| {
            statements
                .iter()
                .rposition(|statement| statement.commits_implicitly(dialect))
        })
        .flatten();
    match (revision.transactional(), last_implicit) {
        (true, None) => None,
        (true, Some(last)) => Some(last + 1),
        (false, _) => Some(statements.len()),
    }
}

/// The record of `next`'s first statement, when `next` runs statement by statement where statements
/// commit implicitly (MySQL).
fn first_marker(
    migrator: &Migrator<'_>,
    next: &Revision,
    work: &Work<'_>,
    direction: Direction,
    backend: Backend,
) -> Option<StateRow> {
    if !backend.dialect().implicit_commits {
        return None;
    }
    let tail = shape(next, work, backend)?;
    let Work::Sql(statements) = work else {
        return None;
    };
    if statements.is_empty() || tail == 0 {
        return None;
    }
    let runner = Runner {
        tail,
        ..Runner::new(migrator, backend, next, direction)
    };
    Some(runner.state(RunState::Running, Some(0), statements, None))
}

/// Runs one revision's `work` in `direction` and records it; with `deferred_states`, a revision that runs in
/// one transaction leaves its side-table row there for the caller to write.
async fn revision(
    session: &mut Session,
    migrator: &Migrator<'_>,
    revision: &Revision,
    work: Work<'_>,
    direction: Direction,
    handoff: Handoff,
    deferred_states: Option<&mut Vec<StateRow>>,
) -> Result<StepReport, Box<RevisionFailure>> {
    let backend = session.backend();
    let tail = shape(revision, &work, backend);
    let mut runner = Runner {
        // A revision run statement by statement replaces its progress record with its own.
        deferred_states: deferred_states.filter(|_| tail.is_none()),
        tail: tail.unwrap_or(0),
        handoff,
        ..Runner::new(migrator, backend, revision, direction)
    };
    match tail {
        None => runner.in_transaction(session.conn(), work).await,
        Some(_) => runner.one_by_one(session, work, 0).await,
    }
}
