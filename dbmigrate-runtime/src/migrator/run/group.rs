//! A group of consecutive transactional revisions that share one transaction, each in a savepoint
//! of its own, where the dialect groups revisions (SQLite: a commit there is a journal write and
//! several fsyncs, which made a fresh database's 1,000 revisions ten times slower than the same SQL
//! in one transaction). A revision that fails rolls back to its savepoint and the ones before it
//! are committed, as if each had had its own transaction; a crash loses the group's revisions
//! together, each whole.

use std::time::Instant;

use super::runner::Runner;
use super::{applied_row, statements, step_report, work};
use crate::backend::connection::Connection;
use crate::backend::session::Session;
use crate::history::{self, AppliedRow, StateRow};
use crate::migrator::Migrator;
use crate::migrator::failure::{Committed, FailureCause, RevisionFailure};
use crate::migrator::report::{Direction, StepReport};
use crate::revision::{Revision, RevisionKind};
use crate::sql::Statement;

/// Runs `members` in one transaction and records them before it commits; on a failure, the
/// error's completed list is `done` (the revisions of the run before it, and of the group before
/// the failing one, unless the database abandoned the whole transaction).
pub(super) async fn run(
    session: &mut Session,
    migrator: &Migrator<'_>,
    members: &[&Revision],
    direction: Direction,
    done: &mut Vec<StepReport>,
) -> Result<(), Box<RevisionFailure>> {
    let backend = session.backend();
    let group = members.len();
    let runner = |revision| Runner::new(migrator, backend, revision, direction);
    if let Err(error) = session.conn().begin().await {
        let mut failure = runner(members[0]).database(error);
        failure.completed = std::mem::take(done);
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
                done,
            };
            failed = batch.run(migrator, session.conn()).await.err();
        } else {
            let work = work(migrator, members[member], direction, backend);
            super::started(migrator, members[member], direction);
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
        failure.completed = std::mem::take(done);
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
        failure.completed = std::mem::take(done);
        return Err(failure);
    }
    // Only now are they committed.
    for step in &done[before..] {
        super::finished(migrator, step, direction);
    }
    if let Some(mut failure) = failed {
        failure.completed = std::mem::take(done);
        return Err(failure);
    }
    Ok(())
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
                    .is_some_and(|&(savepoint, _)| savepoint == index)
                {
                    super::started(migrator, revisions[current].0, Direction::Upgrade);
                }
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
