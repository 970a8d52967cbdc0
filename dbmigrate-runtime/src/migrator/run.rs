//! Running one revision: in a transaction with its history row where the database allows, statement
//! by statement with its progress recorded in the side table where it does not.

use std::time::{Duration, Instant};

use super::error::{Committed, Error, FailedStatement, FailureCause, RevisionFailure};
use super::report::{Direction, Report, RunKind, StepReport};
use super::{Migrator, Resolution};
use crate::backend::Backend;
use crate::backend::connection::Connection;
use crate::backend::dialect::Dialect;
use crate::backend::session::Session;
use crate::checksum::statements_checksum;
use crate::data::{Context, StepFn, StepScope};
use crate::history::{self, AppliedRow, RunState, StateRow, now_rfc3339};
use crate::revision::{Revision, RevisionKind, VersionWidth};
use crate::sql::{self, Statement};

/// What a revision runs in one direction.
enum Work<'r> {
    /// SQL statements, with their lines in the file.
    Sql(Vec<Statement>),
    /// A compiled data step.
    Rust(StepFn, &'r Revision),
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
        let runner = |revision| Runner::new(migrator, backend, revision, direction);
        if let Err(error) = session.conn().begin().await {
            let mut failure = runner(members[0]).database(error);
            failure.completed = done;
            return Err(failure);
        }
        let before = done.len();
        let mut failed = None;
        let mut states = Vec::with_capacity(group);
        let mut applied = Vec::new();
        let mut member = 0;
        while member < group && failed.is_none() {
            let is_sql = |revision: &Revision| revision.kind == RevisionKind::Sql;
            if direction == Direction::Upgrade && is_sql(members[member]) {
                let mut batch = Vec::new();
                while member < group && is_sql(members[member]) {
                    batch.push((
                        members[member],
                        statements(members[member], direction, backend),
                    ));
                    member += 1;
                }
                let batch = SqliteBatch {
                    revisions: &batch,
                    applied: &mut applied,
                    states: &mut states,
                    done: &mut done,
                };
                failed = batch.run(migrator, session.conn()).await.err();
            } else {
                let work = work(migrator, members[member], direction, backend);
                let mut member_runner = Runner {
                    deferred_states: Some(&mut states),
                    ..runner(members[member])
                };
                match member_runner.in_transaction(session.conn(), work).await {
                    Ok(step) => done.push(step),
                    Err(failure) => failed = Some(failure),
                }
                member += 1;
            }
        }
        if session.conn().transaction_lost() {
            // SQLite abandoned the group's transaction: every member run so far went with it, and
            // nothing may be recorded (the watch would refuse to commit it anyway). The connection
            // still counts the transaction as open, so it is closed rather than pooled.
            session.poison();
            let rolled_back = done.split_off(before);
            let mut failure = failed.unwrap_or_else(|| {
                let last = members[rolled_back.len().min(group - 1)];
                runner(last).failure(None, FailureCause::TransactionLost, Committed::Nothing)
            });
            failure.transaction_lost = true;
            failure.committed = Committed::Nothing;
            failure.rolled_back = rolled_back;
            failure.completed = done;
            return Err(failure);
        }
        // A failed member has rolled back to its savepoint: what is left is the members before it,
        // whose refinery rows (when run in a batch) and side-table rows go in now, in the group's
        // transaction.
        let table = migrator.history_table();
        let width = migrator.migrations.version_width();
        let mut closing =
            history::table::insert_applied_many(session.conn(), table, width, &applied).await;
        if closing.is_ok() {
            closing = history::table::write_states(session.conn(), table, &states).await;
        }
        if closing.is_ok() {
            closing = session.conn().commit().await;
        }
        if let Err(error) = closing {
            let mut failure = runner(members[0]).recording(error);
            done.truncate(before);
            failure.completed = done;
            return Err(failure);
        }
        if let Some(mut failure) = failed {
            failure.completed = done;
            return Err(failure);
        }
        index += group;
    }
    write_times(session, migrator, &times).await;
    Ok(done)
}

/// Consecutive SQL revisions inside a SQLite group, sent to SQLite as one batch (a few KiB per
/// call, see [`Connection::execute_batch`]): for each, its savepoint, its statements and the
/// savepoint's release. A call crosses to sqlx's SQLite worker thread and back, and a result comes
/// back per statement: made once per revision and with a history insert in each, they cost a fresh
/// database's 1,000 small revisions as much as SQLite's own work. The refinery and side-table rows
/// of the revisions applied are gathered for the group to write in one statement each before it
/// commits.
struct SqliteBatch<'b, 'r> {
    revisions: &'b [(&'r Revision, Vec<Statement>)],
    applied: &'b mut Vec<AppliedRow>,
    states: &'b mut Vec<StateRow>,
    done: &'b mut Vec<StepReport>,
}

impl SqliteBatch<'_, '_> {
    /// A revision that fails is rolled back to its savepoint; the ones before it stay in the
    /// group's transaction. Each one's execution time runs from the end of the one before.
    async fn run(
        self,
        migrator: &Migrator<'_>,
        conn: &mut dyn Connection,
    ) -> Result<(), Box<RevisionFailure>> {
        const SAVEPOINT: &str = "SAVEPOINT dbmigrate_revision";
        const RELEASE: &str = "RELEASE dbmigrate_revision";
        let Self {
            revisions,
            applied,
            states,
            done,
        } = self;
        let width = migrator.migrations.version_width();
        let mut batch: Vec<&str> = Vec::new();
        // Where each revision's savepoint and release are in the batch.
        let mut bounds = Vec::with_capacity(revisions.len());
        for (_, statements) in revisions {
            let savepoint = batch.len();
            batch.push(SAVEPOINT);
            batch.extend(statements.iter().map(|s| s.text.as_str()));
            batch.push(RELEASE);
            bounds.push((savepoint, batch.len() - 1));
        }
        let backend = conn.backend();
        let runner = |revision, started| Runner {
            started,
            ..Runner::new(migrator, backend, revision, Direction::Upgrade)
        };
        let mut started = Instant::now();
        // The revision whose release comes next.
        let mut current = 0;
        let outcome = conn
            .execute_batch(&batch, &mut |index| {
                if bounds
                    .get(current)
                    .is_some_and(|&(_, release)| release == index)
                {
                    let revision = revisions[current].0;
                    applied.push(applied_row(revision, width));
                    states.push(runner(revision, started).applied_state());
                    done.push(step_report(revision, started.elapsed()));
                    started = Instant::now();
                    current += 1;
                }
            })
            .await;
        let Err((completed, error)) = outcome else {
            return Ok(());
        };
        let current = current.min(revisions.len() - 1);
        let ((revision, statements), (savepoint, _)) = (&revisions[current], bounds[current]);
        // When SQLite abandoned the whole transaction there is no savepoint to go back to; the
        // group sees the loss and gives up every member.
        if completed > savepoint && !conn.transaction_lost() {
            let _ = conn
                .execute("ROLLBACK TO dbmigrate_revision; RELEASE dbmigrate_revision")
                .await;
        }
        // After the savepoint come the statements, then the release.
        let failing = runner(revision, started);
        Err(match completed.saturating_sub(savepoint).checked_sub(1) {
            Some(index) if index < statements.len() => failing.failure(
                Some(Runner::failed_statement(statements, index)),
                FailureCause::Database(error),
                Committed::Nothing,
            ),
            _ => failing.database(error),
        })
    }
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

struct Runner<'a, 'm> {
    migrator: &'a Migrator<'m>,
    backend: Backend,
    revision: &'a Revision,
    direction: Direction,
    started: Instant,
    /// In a SQLite group, where the side-table rows of applied revisions are gathered and written
    /// in one statement before the group commits.
    deferred_states: Option<&'a mut Vec<StateRow>>,
    /// For a revision run statement by statement: where the statements that run in the recording
    /// transaction begin.
    tail: usize,
    /// Progress records shared with the revisions before and after.
    handoff: Handoff,
}

impl<'a, 'm> Runner<'a, 'm> {
    /// A runner for `revision` starting now, in one transaction, sharing no progress records.
    fn new(
        migrator: &'a Migrator<'m>,
        backend: Backend,
        revision: &'a Revision,
        direction: Direction,
    ) -> Self {
        Runner {
            migrator,
            backend,
            revision,
            direction,
            started: Instant::now(),
            deferred_states: None,
            tail: 0,
            handoff: Handoff::default(),
        }
    }

    fn failure(
        &self,
        statement: Option<FailedStatement>,
        cause: FailureCause,
        committed: Committed,
    ) -> Box<RevisionFailure> {
        Box::new(RevisionFailure {
            direction: self.direction,
            version: self.revision.version,
            path: self.revision.path.clone(),
            rust: self.revision.kind == RevisionKind::Rust,
            statement,
            cause,
            committed,
            completed: Vec::new(),
            transaction_lost: false,
            rolled_back: Vec::new(),
            recheck: None,
            unrecorded: None,
            backend: self.backend,
            table: self.migrator.history_table().to_string(),
        })
    }

    fn scope<'s>(&'s self, revision: &'s Revision, transactional: bool) -> StepScope<'s> {
        StepScope {
            version: revision.version,
            path: &revision.path,
            transactional,
            progress: self.migrator.progress(),
            history_table: self.migrator.history_table(),
            direction: self.direction.as_str(),
        }
    }

    fn database(&self, error: sqlx::Error) -> Box<RevisionFailure> {
        self.failure(None, FailureCause::Database(error), Committed::Nothing)
    }

    /// Writing the revision's history failed (after, or instead of, running it).
    fn recording(&self, error: sqlx::Error) -> Box<RevisionFailure> {
        self.failure(None, FailureCause::Recording(error), Committed::Nothing)
    }

    fn failed_statement(statements: &[Statement], index: usize) -> FailedStatement {
        FailedStatement::new(
            index + 1,
            statements.len(),
            statements[index].line,
            statements[index].text.clone(),
        )
    }

    /// [`Runner::failed_statement`], pointed at the line the database's `error` names, for a
    /// statement sent as part of `statements[first..]` joined as a batch (see
    /// [`Conn::execute_batch`]), after `before` characters of other text.
    fn failed_in_batch(
        statements: &[Statement],
        first: usize,
        index: usize,
        before: usize,
        error: &sqlx::Error,
    ) -> FailedStatement {
        let offset = before
            + statements[first..index]
                .iter()
                .map(|s| s.text.chars().count() + 2)
                .sum::<usize>();
        Self::failed_statement(statements, index).pointed_at(error, offset)
    }

    /// Writes the history for a finished revision: the row and the side table's execution time on
    /// upgrade, their removal on downgrade.
    async fn record(&self, conn: &mut dyn Connection) -> Result<Option<StateRow>, sqlx::Error> {
        let table = self.migrator.history_table();
        let width = self.migrator.migrations.version_width();
        match self.direction {
            Direction::Upgrade => {
                let state = self.applied_state();
                let applied = applied_row(self.revision, width);
                if self.deferred_states.is_some() {
                    history::table::insert_applied(conn, table, width, &applied).await?;
                    return Ok(Some(state));
                }
                match &self.handoff.next_marker {
                    Some(marker) => {
                        history::table::insert_applied(conn, table, width, &applied).await?;
                        history::table::write_states(conn, table, &[state, marker.clone()]).await?;
                    }
                    None => {
                        history::table::record_applied(conn, table, width, &applied, &state).await?
                    }
                }
                Ok(None)
            }
            Direction::Downgrade => {
                history::table::delete(conn, table, width, self.revision.version).await?;
                if let Some(marker) = &self.handoff.next_marker {
                    history::table::write_state(conn, table, marker).await?;
                }
                Ok(None)
            }
        }
    }

    /// The revision and its history row in one transaction: all of it commits, or none.
    async fn in_transaction(
        &mut self,
        conn: &mut dyn Connection,
        work: Work<'_>,
    ) -> Result<StepReport, Box<RevisionFailure>> {
        let work = match self.try_one_message(conn, work).await {
            Ok(outcome) => return outcome,
            Err(work) => work,
        };
        // Inside an open transaction (a SQLite group, see `plan`), this is a savepoint.
        conn.begin().await.map_err(|e| self.database(e))?;
        let outcome = match &work {
            // Every statement in one batch: the database stops at the first that fails and reports
            // how many completed, which names the failing one as precisely.
            Work::Sql(statements)
                if statements.len() > 1
                    && conn.dialect().runner.batches_transactional_statements =>
            {
                let texts: Vec<&str> = statements.iter().map(|s| s.text.as_str()).collect();
                match conn.execute_batch(&texts, &mut |_| {}).await {
                    Ok(()) => Ok(()),
                    Err((completed, error)) => Err(self.failure(
                        Some(Self::failed_in_batch(
                            statements,
                            0,
                            completed.min(statements.len() - 1),
                            0,
                            &error,
                        )),
                        FailureCause::Database(error),
                        Committed::Nothing,
                    )),
                }
            }
            Work::Sql(statements) => {
                let mut outcome = Ok(());
                for (index, statement) in statements.iter().enumerate() {
                    if let Err(error) = conn.execute(&statement.text).await {
                        outcome = Err(self.failure(
                            Some(Self::failed_statement(statements, index).pointed_at(&error, 0)),
                            FailureCause::Database(error),
                            Committed::Nothing,
                        ));
                        break;
                    }
                }
                outcome
            }
            Work::Rust(step, revision) => {
                let mut cx = Context::new(&mut *conn, self.scope(revision, true));
                let result = step(&mut cx).await;
                let implicitly_committed = cx.implicitly_committed();
                result.map_err(|error| {
                    let committed = if implicitly_committed {
                        Committed::Unknown
                    } else {
                        Committed::Nothing
                    };
                    self.failure(None, FailureCause::Step(error), committed)
                })
            }
        };
        if conn.transaction_lost() {
            let mut failure = outcome.err().unwrap_or_else(|| {
                self.failure(None, FailureCause::TransactionLost, Committed::Nothing)
            });
            if failure.cause.is_refused_commit() {
                // The step ignored the error that ended the transaction; what it reported is our
                // refusal of what it did afterwards.
                failure.cause = FailureCause::TransactionLost;
            }
            failure.transaction_lost = true;
            failure.committed = Committed::Nothing;
            return Err(failure);
        }
        if let Err(mut failure) = outcome {
            // Wait for the rollback, so the lock is released only once nothing of it remains.
            let _ = conn.rollback().await;
            if failure.committed != Committed::Nothing {
                // MySQL committed part of the step: say so where `status` looks.
                let failed =
                    self.state(RunState::Failed, None, &[], Some(failure.cause.to_string()));
                let table = self.migrator.history_table();
                record_failure_state(conn, table, &failed, &mut failure).await;
            }
            return Err(failure);
        }
        let deferred = match self.record(conn).await {
            Ok(deferred) => deferred,
            Err(error) => {
                let mut failure = self.recording(error);
                failure.transaction_lost = conn.transaction_lost();
                if !failure.transaction_lost {
                    let _ = conn.rollback().await;
                }
                return Err(failure);
            }
        };
        conn.commit().await.map_err(|e| self.database(e))?;
        if let (Some(state), Some(states)) = (deferred, self.deferred_states.as_deref_mut()) {
            states.push(state);
        }
        Ok(step_report(self.revision, self.started.elapsed()))
    }

    /// The side-table row of the revision, applied now.
    fn applied_state(&self) -> StateRow {
        StateRow {
            version: self.revision.version,
            state: Some(RunState::Applied),
            direction: Some(self.direction.as_str().to_string()),
            execution_ms: Some(
                i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX),
            ),
            statement_index: None,
            statement_count: None,
            statement_line: None,
            completed_checksum: None,
            error: None,
            updated_on: now_rfc3339(),
        }
    }

    fn state(
        &self,
        state: RunState,
        index: Option<usize>,
        statements: &[Statement],
        error: Option<String>,
    ) -> StateRow {
        let as_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        StateRow {
            version: self.revision.version,
            state: Some(state),
            direction: Some(self.direction.as_str().to_string()),
            execution_ms: None,
            statement_index: index.map(|i| as_i64(i + 1)),
            statement_count: (!statements.is_empty()).then(|| as_i64(statements.len())),
            statement_line: index
                .and_then(|i| statements.get(i))
                .map(|s| i64::from(s.line)),
            completed_checksum: index
                .map(|i| statements_checksum(statements[..i].iter().map(|s| s.text.as_str()))),
            error,
            updated_on: now_rfc3339(),
        }
    }

    /// Statement by statement outside a transaction, for `Transaction: none` revisions and MySQL DDL.
    /// Before each statement the side table says which one is running, so a revision cut short or
    /// failed part-way is recorded exactly; the history row is written once all have run.
    async fn one_by_one(
        &mut self,
        session: &mut Session,
        work: Work<'_>,
        start_at: usize,
    ) -> Result<StepReport, Box<RevisionFailure>> {
        let table = self.migrator.history_table().to_string();
        let conn = session.conn();
        match &work {
            Work::Sql(statements) => {
                let implicit_end = self.tail.min(statements.len());
                let batch = self.final_batch(conn.dialect(), statements, start_at);
                // With a final batch, the last statement run on its own joins it.
                let alone_end = match &batch {
                    Some(_) if implicit_end > start_at => implicit_end - 1,
                    _ => implicit_end,
                };
                for index in start_at..alone_end {
                    self.mark_running(conn, statements, start_at, index).await?;
                    if let Err(error) = conn.execute(&statements[index].text).await {
                        return Err(self.implicit_failure(conn, statements, index, error).await);
                    }
                }
                if let Some(records) = batch {
                    let lead = (alone_end < implicit_end).then_some(alone_end);
                    if let Some(index) = lead {
                        self.mark_running(conn, statements, start_at, index).await?;
                    }
                    return self.in_one_batch(conn, statements, lead, records).await;
                }
            }
            Work::Rust(step, revision) => {
                let running = self.state(RunState::Running, None, &[], None);
                history::table::write_state(conn, &table, &running)
                    .await
                    .map_err(|e| self.recording(e))?;
                let result = {
                    let mut cx = Context::new(&mut *conn, self.scope(revision, false));
                    step(&mut cx).await
                };
                if let Err(error) = result {
                    let failed = self.state(RunState::Failed, None, &[], Some(error.to_string()));
                    // Whatever the step committed stays; the side table says so.
                    let mut failure =
                        self.failure(None, FailureCause::Step(error), Committed::Unknown);
                    record_failure_state(conn, &table, &failed, &mut failure).await;
                    return Err(failure);
                }
            }
        }
        conn.begin().await.map_err(|e| self.database(e))?;
        // The statements after the last one MySQL commits implicitly run in the transaction that
        // records the revision: no progress record is needed for them.
        if let Work::Sql(statements) = &work {
            let tail = self.tail.max(start_at);
            for index in tail..statements.len() {
                if let Err(error) = conn.execute(&statements[index].text).await {
                    let _ = conn.rollback().await;
                    let statement = Self::failed_statement(statements, index).pointed_at(&error, 0);
                    return Err(self
                        .tail_failure(conn, statements, tail, Some(statement), error)
                        .await);
                }
            }
        }
        if let Err(error) = self.record(conn).await {
            let _ = conn.rollback().await;
            return Err(self.recording(error));
        }
        conn.commit().await.map_err(|e| self.database(e))?;
        Ok(step_report(self.revision, self.started.elapsed()))
    }

    /// Says in the side table that statement `index` is about to run, unless the revision before
    /// already did in its own commit (see [`Handoff`]).
    async fn mark_running(
        &self,
        conn: &mut dyn Connection,
        statements: &[Statement],
        start_at: usize,
        index: usize,
    ) -> Result<(), Box<RevisionFailure>> {
        if index == start_at && start_at == 0 && self.handoff.marker_written {
            return Ok(());
        }
        let running = self.state(RunState::Running, Some(index), statements, None);
        history::table::write_state(conn, self.migrator.history_table(), &running)
            .await
            .map_err(|e| self.recording(e))
    }

    /// Records statement `index`, run outside a transaction, as the one that failed: what ran before
    /// it stays committed.
    async fn implicit_failure(
        &self,
        conn: &mut dyn Connection,
        statements: &[Statement],
        index: usize,
        error: sqlx::Error,
    ) -> Box<RevisionFailure> {
        let message = error.to_string();
        let statement = Some(Self::failed_statement(statements, index).pointed_at(&error, 0));
        self.failure_after(conn, statements, index, statement, error, message)
            .await
    }

    /// Records a failure in the final transaction, rolled back: what stays is what ran before the
    /// tail, and resuming runs the whole tail again.
    async fn tail_failure(
        &self,
        conn: &mut dyn Connection,
        statements: &[Statement],
        tail: usize,
        statement: Option<FailedStatement>,
        error: sqlx::Error,
    ) -> Box<RevisionFailure> {
        let message = match &statement {
            Some(s) => format!("statement {} (line {}): {error}", s.index, s.line),
            None => error.to_string(),
        };
        self.failure_after(conn, statements, tail, statement, error, message)
            .await
    }

    /// Records in the side table a revision that failed after its first `completed` statements
    /// committed, or leaves no trace when none did (fixing the file and rerunning is then enough).
    async fn failure_after(
        &self,
        conn: &mut dyn Connection,
        statements: &[Statement],
        completed: usize,
        statement: Option<FailedStatement>,
        error: sqlx::Error,
        message: String,
    ) -> Box<RevisionFailure> {
        let table = self.migrator.history_table();
        if completed == 0 {
            let mut failure =
                self.failure(statement, FailureCause::Database(error), Committed::Nothing);
            if let Err(error) =
                history::table::delete_state(conn, table, self.revision.version).await
            {
                // The record saying its first statement was about to run stays: `status` will list
                // the revision as unfinished though nothing of it ran.
                tracing::error!(version = self.revision.version, %error, "clearing a failed revision's record failed");
                failure.unrecorded = Some(error.to_string());
            }
            return failure;
        }
        let failed = self.state(RunState::Failed, Some(completed), statements, Some(message));
        let mut failure = self.failure(
            statement,
            FailureCause::Database(error),
            Committed::Statements(completed),
        );
        record_failure_state(conn, table, &failed, &mut failure).await;
        failure
    }

    /// On MySQL, the final transaction of an upgrade (the tail statements and the history records)
    /// as SQL text for one round trip instead of one per statement; `None` where it does not apply.
    /// The records' times are taken now, when the batch is sent.
    fn final_batch(
        &self,
        dialect: &Dialect,
        statements: &[Statement],
        start_at: usize,
    ) -> Option<Vec<String>> {
        if dialect.runner.batch_start_marker.is_none()
            || self.direction != Direction::Upgrade
            || self.deferred_states.is_some()
            || self.tail > statements.len()
            || start_at > self.tail
        {
            return None;
        }
        self.records_for_batch(dialect)
    }

    /// The statements recording this revision as applied, for a batch that ends with them. The
    /// execution time counts the batch too: the server measures it from the batch's start.
    fn records_for_batch(&self, dialect: &Dialect) -> Option<Vec<String>> {
        let width = self.migrator.migrations.version_width();
        // A deferred row is written by the caller, with the time measured after the commit.
        let mut states = match self.deferred_states {
            Some(_) => Vec::new(),
            None => vec![self.applied_state()],
        };
        states.extend(self.handoff.next_marker.clone());
        let before = self.started.elapsed().as_micros();
        let execution_ms = (dialect.runner.batch_elapsed_ms?)(before);
        history::table::record_applied_literal(
            dialect,
            self.migrator.history_table(),
            &applied_row(self.revision, width),
            &states,
            &execution_ms,
        )
    }

    /// Where a revision goes as one message (PostgreSQL), an upgrade's SQL revision with its
    /// history records in one transaction sent as one batch: one round trip instead of four.
    /// `Err(work)` gives the work back where this does not apply.
    async fn try_one_message<'w>(
        &mut self,
        conn: &mut dyn Connection,
        work: Work<'w>,
    ) -> Result<Result<StepReport, Box<RevisionFailure>>, Work<'w>> {
        let dialect = conn.dialect();
        let records = match &work {
            Work::Sql(_)
                if dialect.runner.one_message_per_revision
                    && self.direction == Direction::Upgrade =>
            {
                self.records_for_batch(dialect)
            }
            _ => None,
        };
        let (Some(records), Work::Sql(statements)) = (records, &work) else {
            return Err(work);
        };
        let mut batch: Vec<&str> = Vec::with_capacity(statements.len() + 4);
        batch.push(dialect.begin);
        batch.extend(statements.iter().map(|s| s.text.as_str()));
        batch.extend(records.iter().map(String::as_str));
        batch.push("COMMIT");
        let Err((completed, error)) = conn.execute_batch(&batch, &mut |_| {}).await else {
            let state = self.applied_state();
            if let Some(states) = self.deferred_states.as_deref_mut() {
                states.push(state);
            }
            return Ok(Ok(step_report(self.revision, self.started.elapsed())));
        };
        // Wait for the rollback, so the lock is released only once nothing of it remains.
        let _ = conn.execute("ROLLBACK").await;
        // After BEGIN: a statement of the revision, or a record.
        let index = completed.checked_sub(1);
        if index.is_some_and(|index| index >= statements.len()) {
            // The revision's statements all ran; one of the records after them failed.
            return Ok(Err(self.recording(error)));
        }
        let statement = index.map(|index| {
            Self::failed_in_batch(statements, 0, index, dialect.begin.len() + 2, &error)
        });
        Ok(Err(self.failure(
            statement,
            FailureCause::Database(error),
            Committed::Nothing,
        )))
    }

    /// Runs, in one round trip: statement `lead` (if any, outside the transaction, as MySQL commits it
    /// implicitly anyway), then the tail statements and the history records in one transaction.
    async fn in_one_batch(
        &self,
        conn: &mut dyn Connection,
        statements: &[Statement],
        lead: Option<usize>,
        records: Vec<String>,
    ) -> Result<StepReport, Box<RevisionFailure>> {
        let dialect = conn.dialect();
        let mut batch: Vec<&str> = Vec::with_capacity(statements.len() - self.tail + 6);
        // `final_batch` offers a batch only where the dialect has a start marker.
        batch.extend(dialect.runner.batch_start_marker);
        batch.extend(lead.map(|index| statements[index].text.as_str()));
        batch.push(dialect.begin);
        batch.extend(statements[self.tail..].iter().map(|s| s.text.as_str()));
        batch.extend(records.iter().map(String::as_str));
        batch.push("COMMIT");
        let Err((completed, error)) = conn.execute_batch(&batch, &mut |_| {}).await else {
            return Ok(step_report(self.revision, self.started.elapsed()));
        };
        // The first statement only sets a variable: the lead, if any, is the second.
        if completed == 0 {
            return Err(self.database(error));
        }
        if let Some(index) = lead.filter(|_| completed == 1) {
            return Err(self.implicit_failure(conn, statements, index, error).await);
        }
        let _ = conn.execute("ROLLBACK").await;
        // The position in the batch after the lead and BEGIN: a tail statement, or a record.
        let position = completed - 1 - usize::from(lead.is_some());
        let index = (position >= 1).then(|| self.tail + position - 1);
        let recording = index.is_some_and(|index| index >= statements.len());
        let statement = index
            .filter(|&index| index < statements.len())
            .map(|index| Self::failed_statement(statements, index).pointed_at(&error, 0));
        let failure = self
            .tail_failure(conn, statements, self.tail, statement, error)
            .await;
        Err(if recording {
            failure.into_recording()
        } else {
            failure
        })
    }
}

/// `resolve`: settles a revision the side table lists as running or failed.
pub(super) async fn resolve(
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
