//! The data-step helpers moving values exactly, on every backend: each kind of value, placeholders,
//! bulk inserts and backfills, each defect of issue 16 pinned by a test, and round-trip properties.

mod backfill;
mod bulk;
mod placeholders;
mod properties;
mod values;

use std::time::Duration;

use dbmigrate_runtime::data::StepFn;
use dbmigrate_runtime::migrator::{Error, FailureCause};
use dbmigrate_runtime::{Backend, Migrations, Migrator, Report, RustStep};

use crate::support::{TestDb, revisions};

/// Revision 1 creating `schema` (SQL), then revision 2, the Rust step `step` (outside a
/// transaction when `transactional` is false).
pub fn step_after(schema: &str, step: StepFn, transactional: bool) -> Migrations {
    let header = if transactional {
        "//! Revises: 1\n"
    } else {
        "//! Revises: 1\n//! Transaction: none\n"
    };
    revisions(&[("V1__schema.sql", schema), ("V2__step.rs", header)]).with_rust_steps(&[RustStep {
        version: 2,
        upgrade: step,
        downgrade: None,
    }])
}

/// Upgrades `db` through [`step_after`], failing the test if that takes more than 60 seconds (a
/// step that never ends is a defect these tests pin).
pub async fn run_step(
    db: &TestDb,
    schema: &str,
    step: StepFn,
    transactional: bool,
) -> Result<Report, Error> {
    let migrations = step_after(schema, step, transactional);
    tokio::time::timeout(
        Duration::from_secs(60),
        Migrator::new(&migrations).upgrade(&db.pool),
    )
    .await
    .expect("the upgrade never finished")
}

/// The message of the error a step returned.
pub fn step_error(error: &Error) -> String {
    match error {
        Error::Revision(failure) => match &failure.cause {
            FailureCause::Step(e) => e.to_string(),
            other => panic!("the step did not fail, the database did: {other}"),
        },
        other => panic!("not a revision failure: {other}"),
    }
}

/// `sql` with `"` quotes turned into MySQL's backticks on MySQL.
pub fn quoted_for(backend: Backend, sql: &str) -> String {
    match backend {
        Backend::MySql => sql.replace('"', "`"),
        _ => sql.to_string(),
    }
}
