//! A revision run statement by statement outside a transaction (`Transaction: none`, and where
//! statements commit implicitly, MySQL's DDL), each statement's start recorded in the side table,
//! and the batches that send a revision with its records in one round trip.

use super::{Work, applied_row, record_failure_state, step_report};
use crate::backend::connection::Connection;
use crate::backend::dialect::Dialect;
use crate::backend::session::Session;
use crate::data::Context;
use crate::history::{self, RunState};
use crate::migrator::failure::{Committed, FailedStatement, FailureCause, RevisionFailure};
use crate::migrator::report::{Direction, StepReport};
use crate::sql::Statement;

use super::runner::Runner;

impl<'a, 'm> Runner<'a, 'm> {
    /// Statement by statement outside a transaction, for `Transaction: none` revisions and MySQL DDL.
    /// Before each statement the side table says which one is running, so a revision cut short or
    /// failed part-way is recorded exactly; the history row is written once all have run.
    pub(super) async fn one_by_one(
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
    pub(super) async fn mark_running(
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
    pub(super) async fn implicit_failure(
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
    pub(super) async fn tail_failure(
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
    pub(super) async fn failure_after(
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
    pub(super) fn final_batch(
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
    pub(super) fn records_for_batch(&self, dialect: &Dialect) -> Option<Vec<String>> {
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
    pub(super) async fn try_one_message<'w>(
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
    pub(super) async fn in_one_batch(
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
