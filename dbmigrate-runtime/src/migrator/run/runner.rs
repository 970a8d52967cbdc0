//! One revision run in one transaction with its history rows: the runner's state for a revision,
//! the failures it reports, and the records it writes.

use std::time::Instant;

use super::{Handoff, Work, applied_row, record_failure_state, step_report};
use crate::backend::Backend;
use crate::backend::connection::Connection;
use crate::checksum::statements_checksum;
use crate::data::{Context, StepScope};
use crate::history::{self, RunState, StateRow, now_rfc3339};
use crate::migrator::Migrator;
use crate::migrator::failure::{Committed, FailedStatement, FailureCause, RevisionFailure};
use crate::migrator::report::{Direction, StepReport};
use crate::revision::{Revision, RevisionKind};
use crate::sql::Statement;

pub(super) struct Runner<'a, 'm> {
    pub(super) migrator: &'a Migrator<'m>,
    pub(super) backend: Backend,
    pub(super) revision: &'a Revision,
    pub(super) direction: Direction,
    pub(super) started: Instant,
    /// In a SQLite group, where the side-table rows of applied revisions are gathered and written
    /// in one statement before the group commits.
    pub(super) deferred_states: Option<&'a mut Vec<StateRow>>,
    /// For a revision run statement by statement: where the statements that run in the recording
    /// transaction begin.
    pub(super) tail: usize,
    /// Progress records shared with the revisions before and after.
    pub(super) handoff: Handoff,
}

impl<'a, 'm> Runner<'a, 'm> {
    /// A runner for `revision` starting now, in one transaction, sharing no progress records.
    pub(super) fn new(
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

    pub(super) fn failure(
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

    pub(super) fn scope<'s>(
        &'s self,
        revision: &'s Revision,
        transactional: bool,
    ) -> StepScope<'s> {
        StepScope {
            version: revision.version,
            path: &revision.path,
            transactional,
            progress: self.migrator.progress(),
            history_table: self.migrator.history_table(),
            direction: self.direction.as_str(),
        }
    }

    pub(super) fn database(&self, error: sqlx::Error) -> Box<RevisionFailure> {
        self.failure(None, FailureCause::Database(error), Committed::Nothing)
    }

    /// Writing the revision's history failed (after, or instead of, running it).
    pub(super) fn recording(&self, error: sqlx::Error) -> Box<RevisionFailure> {
        self.failure(None, FailureCause::Recording(error), Committed::Nothing)
    }

    pub(super) fn failed_statement(statements: &[Statement], index: usize) -> FailedStatement {
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
    pub(super) fn failed_in_batch(
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
    pub(super) async fn record(
        &self,
        conn: &mut dyn Connection,
    ) -> Result<Option<StateRow>, sqlx::Error> {
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
    pub(super) async fn in_transaction(
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
    pub(super) fn applied_state(&self) -> StateRow {
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

    pub(super) fn state(
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
}
