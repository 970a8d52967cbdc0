//! Integration tests of dbmigrate-runtime: one binary, one module per behaviour.
//!
//! Backend tests run against real PostgreSQL and MariaDB/MySQL servers and SQLite files; they need
//! every backend feature (`cargo test --workspace --all-features`, as README.md says).

mod embed;
mod hostile;

#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod concurrency;
#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod data;
#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod data_steps;
#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod downgrade;
#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod events;
#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod fault_matrix;
#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod faults;
#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod history_checks;
#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod lost_transaction;
#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod partial;
#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod real_cause;
#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod refinery_judge;
#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod server_parser;
#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod sql_text;
#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod standby;
#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod support;
#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod table_names;
#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod upgrade;

/// Without the backend features the database tests above are not compiled; fail rather than let a
/// plain `cargo test -p dbmigrate-runtime` pass while testing none of them.
#[cfg(not(all(feature = "sqlite", feature = "postgres", feature = "mysql")))]
#[test]
fn backend_tests_need_every_backend_feature() {
    panic!(
        "the database tests need the sqlite, postgres and mysql features: run `cargo test --workspace --all-features`"
    );
}
