//! What is checked before anything runs: the history read and compared with the files, and each
//! revision of a plan able to run in its direction and dialect.

use super::Migrator;
use super::error::{Error, HistoryMismatch};
use super::report::Direction;
use crate::backend::session::Session;
use crate::history::{self, History, Verification};
use crate::revision::{Revision, RevisionKind};

impl<'m> Migrator<'m> {
    pub(super) async fn read(&self, session: &mut Session) -> Result<Option<History>, Error> {
        history::table::read(session.conn(), &self.table)
            .await
            .map_err(Error::database(format!("reading `{}`", self.table)))
    }

    /// Creates the tables if needed and reads them, without judging what they say.
    pub(super) async fn prepare_unverified(&self, session: &mut Session) -> Result<History, Error> {
        let conn = session.conn();
        history::table::ensure(conn, &self.table, self.migrations.version_width())
            .await
            .map_err(Error::database(format!("creating `{}`", self.table)))?;
        Ok(self.read(session).await?.unwrap_or_default())
    }

    /// Creates the tables if needed, reads them, and refuses on any mismatch with the files.
    pub(super) async fn prepare(&self, session: &mut Session) -> Result<History, Error> {
        let history = self.prepare_unverified(session).await?;
        match self.refusal(&self.verify(&history)) {
            Some(error) => Err(error),
            None => Ok(history),
        }
    }

    pub(super) fn verify(&self, history: &History) -> Verification {
        Verification::with_checksums(
            self.migrations.graph(),
            self.migrations.version_width(),
            history,
            |revision| self.migrations.checksum(revision),
        )
    }

    /// The error to refuse with, if the comparison found anything the options do not allow.
    pub(super) fn refusal(&self, verification: &Verification) -> Option<Error> {
        let refuse_out_of_order = self.abort_missing && !self.allow_out_of_order;
        let refused = !verification.bad_rows.is_empty()
            || !verification.unfinished.is_empty()
            || !verification.rows_deleted.is_empty()
            || (self.abort_divergent && !verification.divergent.is_empty())
            || (self.abort_missing && !verification.missing_files.is_empty())
            || (refuse_out_of_order && !verification.out_of_order.is_empty());
        refused.then(|| {
            Error::History(Box::new(HistoryMismatch {
                table: self.table.clone(),
                verification: verification.clone(),
                refuse_divergent: self.abort_divergent,
                refuse_missing: self.abort_missing,
                refuse_out_of_order,
            }))
        })
    }

    /// Checks, before anything runs, that every revision of the plan can run in this direction.
    pub(super) fn check_steps(
        &self,
        plan: &[&Revision],
        direction: Direction,
    ) -> Result<(), Error> {
        for revision in plan {
            let missing_downgrade = match revision.kind {
                RevisionKind::Sql => {
                    direction == Direction::Downgrade && revision.downgrade.is_none()
                }
                RevisionKind::Rust => {
                    let Some(step) = self.migrations.rust_step(revision.version) else {
                        return Err(Error::MissingRustStep {
                            version: revision.version,
                            path: revision.path.clone(),
                        });
                    };
                    direction == Direction::Downgrade && step.downgrade.is_none()
                }
            };
            if missing_downgrade {
                return Err(Error::NotDowngradable {
                    version: revision.version,
                    path: revision.path.clone(),
                });
            }
        }
        Ok(())
    }

    /// Refuses a plan whose SQL would not run as written in the live database's dialect (an
    /// unclosed comment or string, a `DELIMITER` line, transaction control in a transactional
    /// revision): the same problems `cargo dbmigrate check` reports, before anything runs.
    pub(super) fn check_sql(
        &self,
        plan: &[&Revision],
        direction: Direction,
        backend: crate::Backend,
    ) -> Result<(), Error> {
        let sections = match direction {
            Direction::Upgrade => crate::sql::lint::Sections::Upgrade,
            Direction::Downgrade => crate::sql::lint::Sections::Downgrade,
        };
        crate::sql::lint::refuse(plan.iter().copied(), sections, backend).map_err(Error::Revisions)
    }
}
