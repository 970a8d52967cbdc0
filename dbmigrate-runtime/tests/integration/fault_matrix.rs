//! The fault matrix: a revision set that takes every execution path (a SQL batch, MySQL DDL that
//! commits implicitly, a Rust step, a `Transaction: none` revision, a failing revision) is run
//! through a proxy that cuts the connection after the k-th message the client sends, or before the
//! k-th message the server sends, for every k of a clean run. After each cut the history must tell
//! the truth: every recorded revision's effects are there, no effects without a record (or, where
//! a revision cannot be one transaction, the side table names exactly the statements that may have
//! run), what the error says was applied is what was, the lock is free, and a rerun reaches head.
//!
//! The suite runs every client cut and a spread of server cuts; `DBMIGRATE_FAULT_MATRIX=full`
//! (set by `cargo xtask stress`) runs every server cut too, and `DBMIGRATE_FAULT_MATRIX_REPORT`
//! names a file where each backend's figures are appended as a JSON line, for RELIABILITY.md.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use dbmigrate_runtime::data::{Context, StepFuture};
use dbmigrate_runtime::migrator::{Committed, Error};
use dbmigrate_runtime::{BackendPool, Migrations, Migrator, Resolution, RustStep};
use dbmigrate_test_support::Server;
use dbmigrate_test_support::fault_proxy::{Fault, FaultProxy};

use crate::support::{TestDb, revisions};

/// What each statement of a revision leaves behind, so a test can tell which ones ran.
#[derive(Debug, Clone, Copy)]
enum Effect {
    /// A table exists.
    Table(&'static str),
    /// A row `(version, statement)` is in `marks`.
    Mark(i64, i64),
    /// Nothing the test can see (the gate's insert, which fails while the gate is closed).
    Unseen,
}

/// The revisions, and the effect of each statement of each.
fn revision_set() -> (Migrations, Vec<(i64, Vec<Effect>)>) {
    let files = [
        (
            "V1__marks.sql",
            "CREATE TABLE marks (version INTEGER NOT NULL, statement INTEGER NOT NULL, PRIMARY KEY (version, statement));\n\
             INSERT INTO marks (version, statement) VALUES (1, 2);\n",
        ),
        (
            "V2__two_tables.sql",
            "-- Revises: 1\nCREATE TABLE t2_1 (id INTEGER);\nCREATE TABLE t2_2 (id INTEGER);\n\
             INSERT INTO marks (version, statement) VALUES (2, 3);\n",
        ),
        ("V3__data_step.rs", "//! Revises: 2\n"),
        (
            "V4__outside_a_transaction.sql",
            "-- Revises: 3\n-- Transaction: none\nCREATE TABLE t4_1 (id INTEGER);\n\
             INSERT INTO marks (version, statement) VALUES (4, 2);\nCREATE TABLE t4_3 (id INTEGER);\n",
        ),
        (
            "V5__rows.sql",
            "-- Revises: 4\nINSERT INTO marks (version, statement) VALUES (5, 1);\n\
             INSERT INTO marks (version, statement) VALUES (5, 2);\n",
        ),
        (
            // Fails while the test keeps row 1 in `gate`.
            "V6__gated.sql",
            "-- Revises: 5\nINSERT INTO marks (version, statement) VALUES (6, 1);\nINSERT INTO gate (id) VALUES (1);\n",
        ),
    ];
    let effects = vec![
        (1, vec![Effect::Table("marks"), Effect::Mark(1, 2)]),
        (
            2,
            vec![
                Effect::Table("t2_1"),
                Effect::Table("t2_2"),
                Effect::Mark(2, 3),
            ],
        ),
        (3, vec![Effect::Mark(3, 1), Effect::Mark(3, 2)]),
        (
            4,
            vec![
                Effect::Table("t4_1"),
                Effect::Mark(4, 2),
                Effect::Table("t4_3"),
            ],
        ),
        (5, vec![Effect::Mark(5, 1), Effect::Mark(5, 2)]),
        (6, vec![Effect::Mark(6, 1), Effect::Unseen]),
    ];
    let migrations = revisions(&files).with_rust_steps(&[RustStep {
        version: 3,
        upgrade: data_step,
        downgrade: None,
    }]);
    (migrations, effects)
}

fn data_step<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        for statement in 1..=2 {
            cx.execute(
                "INSERT INTO marks (version, statement) VALUES (?, ?)",
                &[3.into(), statement.into()],
            )
            .await?;
        }
        Ok(())
    })
}

/// Whether the effect is there; `None` when it cannot be seen.
async fn present(db: &TestDb, effect: Effect) -> Option<bool> {
    Some(match effect {
        Effect::Unseen => return None,
        Effect::Table(table) => db.has_table(table).await,
        Effect::Mark(version, statement) => {
            db.has_table("marks").await
                && db
                    .integer(&format!(
                        "SELECT COUNT(*) FROM marks WHERE version = {version} AND statement = {statement}"
                    ))
                    .await
                    == 1
        }
    })
}

/// The side table's unfinished rows: version, state, and the statement running or failed.
async fn unfinished(db: &TestDb) -> Vec<(i64, String, Option<i64>)> {
    if !db.has_table("refinery_schema_history_dbmigrate").await {
        return Vec::new();
    }
    let rows = db
        .rows(
            "SELECT CAST(version AS CHAR(20)), state, CAST(statement_index AS CHAR(20)) FROM refinery_schema_history_dbmigrate \
             WHERE state <> 'applied' ORDER BY version",
        )
        .await;
    rows.into_iter()
        .map(|row| {
            let number =
                |v: &Option<String>| v.as_deref().map(|v| v.trim().parse::<i64>().unwrap());
            (
                number(&row[0]).unwrap(),
                row[1].clone().unwrap(),
                number(&row[2]),
            )
        })
        .collect()
}

async fn history(db: &TestDb) -> BTreeSet<i64> {
    if db.has_table("refinery_schema_history").await {
        db.applied_versions().await.into_iter().collect()
    } else {
        BTreeSet::new()
    }
}

/// Whether the migration lock of `db`'s history table is free, waiting a little for the server to
/// notice a cut connection.
async fn lock_is_free(db: &TestDb) -> bool {
    let query = match db.server {
        Server::Postgres => {
            "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        }
        Server::MySql => {
            "SELECT 1 - IS_FREE_LOCK(CONCAT('dbmigrate:', SHA1(CONCAT(DATABASE(), '.', 'refinery_schema_history'))))"
        }
        Server::Sqlite => return true,
    };
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if db.integer(query).await == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

/// Checks every promise after one cut run; returns a description of each one broken.
async fn violations(
    db: &TestDb,
    effects: &[(i64, Vec<Effect>)],
    outcome: &Result<dbmigrate_runtime::Report, Error>,
) -> Vec<String> {
    let mut broken = Vec::new();
    let recorded = history(db).await;
    let unfinished = unfinished(db).await;
    for (version, statements) in effects {
        let mut have = Vec::new();
        for effect in statements {
            have.push(present(db, *effect).await);
        }
        let seen = |wanted: bool| have.iter().flatten().all(|there| *there == wanted);
        let pending = unfinished.iter().find(|(v, _, _)| v == version);
        match pending {
            Some((_, state, Some(index))) => {
                let index = usize::try_from(*index).unwrap();
                for (position, there) in have.iter().enumerate() {
                    let Some(there) = there else { continue };
                    let statement = position + 1;
                    let allowed = match statement.cmp(&index) {
                        std::cmp::Ordering::Less => *there,
                        std::cmp::Ordering::Greater => !there,
                        std::cmp::Ordering::Equal => state == "running" || !there,
                    };
                    if !allowed {
                        broken.push(format!(
                            "revision {version} is recorded as {state} at statement {index}, but statement {statement} is {}",
                            if *there { "there" } else { "missing" }
                        ));
                    }
                }
            }
            // A Rust step outside a transaction says only that it started.
            Some((_, _, None)) => {}
            None if recorded.contains(version) => {
                if !seen(true) {
                    broken.push(format!(
                        "revision {version} is recorded as applied, but its effects are {have:?}"
                    ));
                }
            }
            None => {
                if !seen(false) {
                    broken.push(format!(
                        "revision {version} is not recorded, but its effects are {have:?}"
                    ));
                }
            }
        }
    }
    match outcome {
        Ok(report) => {
            for step in &report.steps {
                if !recorded.contains(&step.version) {
                    broken.push(format!(
                        "the run reported revision {} applied; it is not recorded",
                        step.version
                    ));
                }
            }
        }
        Err(Error::Revision(failure)) => {
            for step in &failure.completed {
                if !recorded.contains(&step.version) {
                    broken.push(format!(
                        "the error says revision {} was applied; it is not recorded",
                        step.version
                    ));
                }
            }
            match failure.committed {
                Committed::Nothing if recorded.contains(&failure.version) => broken.push(format!(
                    "the error says nothing of revision {} was applied; it is recorded",
                    failure.version
                )),
                Committed::Whole if !recorded.contains(&failure.version) => broken.push(format!(
                    "the error says revision {} committed; it is not recorded",
                    failure.version
                )),
                _ => {}
            }
        }
        Err(_) => {
            if !recorded.is_empty() {
                broken.push(format!(
                    "the run failed before any revision by its error, but {recorded:?} are recorded"
                ));
            }
        }
    }
    if !lock_is_free(db).await {
        broken.push("the migration lock is still held".to_string());
    }
    broken
}

/// Settles what a cut left unfinished the way an operator would after reading `status`: undo the
/// statements that ran, by hand, and record the revision as reverted.
async fn settle(db: &TestDb, migrations: &Migrations, effects: &[(i64, Vec<Effect>)]) {
    for (version, _, _) in unfinished(db).await {
        let statements = &effects.iter().find(|(v, _)| *v == version).unwrap().1;
        for effect in statements {
            match effect {
                Effect::Table(table) => db.execute(&format!("DROP TABLE IF EXISTS {table}")).await,
                Effect::Mark(v, s) if db.has_table("marks").await => {
                    db.execute(&format!(
                        "DELETE FROM marks WHERE version = {v} AND statement = {s}"
                    ))
                    .await
                }
                Effect::Mark(..) | Effect::Unseen => {}
            }
        }
        Migrator::new(migrations)
            .resolve(&db.pool, version, Resolution::Reverted)
            .await
            .unwrap_or_else(|e| panic!("resolving revision {version}: {e}"));
    }
}

/// What a cut run met and did.
struct CutRun {
    /// The promises it broke.
    broken: Vec<String>,
    /// Whether it found out, after the cut, that a revision had committed (the ambiguous commit).
    found_committed: bool,
    /// Where the cut stopped it: the path of the revision it was running, or before or after them.
    phase: &'static str,
}

/// The execution path each revision of the set takes.
fn path_of(version: i64) -> &'static str {
    match version {
        1 => "revision 1 (DDL and a row: one batch; MySQL commits its DDL)",
        2 => "revision 2 (two DDL statements: MySQL commits each)",
        3 => "revision 3 (a Rust data step)",
        4 => "revision 4 (Transaction: none)",
        5 => "revision 5 (rows only: one transaction everywhere)",
        _ => "revision 6 (failing) and the end of the run",
    }
}

/// One run cut by `fault`, and the checks after it.
async fn cut_run(server: Server, fault: Fault) -> CutRun {
    let db = TestDb::new(server).await;
    db.execute("CREATE TABLE gate (id INTEGER PRIMARY KEY)")
        .await;
    db.execute("INSERT INTO gate (id) VALUES (1)").await;
    let (migrations, effects) = revision_set();
    let proxy = FaultProxy::in_front_of(&db.url).await;
    let pool = BackendPool::connect_lazy(&proxy.url(&db.url), 1).unwrap();
    proxy.arm(fault);
    let outcome = Migrator::new(&migrations)
        .connect_timeout(Duration::from_secs(5))
        .lock_timeout(Duration::from_secs(10))
        .upgrade(&pool)
        .await;
    pool.close().await;
    drop(proxy);
    let mut broken = violations(&db, &effects, &outcome).await;
    // Whatever the cut left, the operator's way out leads to head.
    settle(&db, &migrations, &effects).await;
    db.execute("DELETE FROM gate").await;
    match Migrator::new(&migrations)
        .lock_timeout(Duration::from_secs(10))
        .upgrade(&db.pool)
        .await
    {
        Ok(_) => {
            let all: BTreeSet<i64> = (1..=6).collect();
            if history(&db).await != all {
                broken.push(format!(
                    "the rerun did not reach head: {:?}",
                    history(&db).await
                ));
            }
            let marks = db.integer("SELECT COUNT(*) FROM marks").await;
            if marks != 8 {
                broken.push(format!("after the rerun `marks` holds {marks} rows, not 8"));
            }
        }
        Err(error) => broken.push(format!("the rerun failed: {error}")),
    }
    let found_committed =
        matches!(&outcome, Err(Error::Revision(f)) if f.committed == Committed::Whole);
    let phase = match &outcome {
        Err(Error::Revision(failure)) => path_of(failure.version),
        Err(_) => "connecting, locking, reading the history",
        Ok(_) => "after the last revision",
    };
    let outcome = match &outcome {
        Ok(report) => format!("ok: {report}"),
        Err(error) => format!("error: {error}"),
    };
    let broken = broken
        .into_iter()
        .map(|b| format!("{b}\n    (the cut run said: {outcome})"))
        .collect();
    CutRun {
        broken,
        found_committed,
        phase,
    }
}

/// Counts the messages of a clean run that fails at revision 6, as the cut runs do.
async fn clean_run_messages(server: Server) -> (usize, usize) {
    let db = TestDb::new(server).await;
    db.execute("CREATE TABLE gate (id INTEGER PRIMARY KEY)")
        .await;
    db.execute("INSERT INTO gate (id) VALUES (1)").await;
    let (migrations, _) = revision_set();
    let proxy = FaultProxy::in_front_of(&db.url).await;
    let pool = BackendPool::connect_lazy(&proxy.url(&db.url), 1).unwrap();
    proxy.arm(Fault::None);
    let error = Migrator::new(&migrations).upgrade(&pool).await.unwrap_err();
    assert!(
        matches!(&error, Error::Revision(f) if f.version == 6),
        "{error}"
    );
    pool.close().await;
    (proxy.client_messages(), proxy.server_messages())
}

async fn matrix(server: Server) {
    let (client, replies) = clean_run_messages(server).await;
    let full = std::env::var("DBMIGRATE_FAULT_MATRIX").is_ok_and(|v| v == "full");
    // Every client cut; every server cut at full size, else about 40 spread over the run.
    let stride = if full { 1 } else { replies.div_ceil(40).max(1) };
    let mut faults: Vec<Fault> = (1..=client).map(Fault::CutAfterClientMessage).collect();
    faults.extend(
        (1..=replies)
            .step_by(stride)
            .map(Fault::CutBeforeServerMessage),
    );
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut ambiguous_commits = 0;
    let mut phases: std::collections::BTreeMap<&str, usize> = Default::default();
    for fault in &faults {
        let run = cut_run(server, *fault).await;
        ambiguous_commits += usize::from(run.found_committed);
        *phases.entry(run.phase).or_default() += 1;
        for broken in run.broken {
            failures.push(format!("{fault:?}: {broken}"));
        }
    }
    if let Ok(path) = std::env::var("DBMIGRATE_FAULT_MATRIX_REPORT") {
        use std::io::Write as _;
        let line = serde_json::json!({
            "backend": format!("{server:?}"),
            "cuts": faults.len(),
            "client_messages": client,
            "server_messages": replies,
            "stride": stride,
            "found_committed": ambiguous_commits,
            "violations": failures.len(),
            "seconds": started.elapsed().as_secs_f64(),
            "phases": phases,
        });
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .expect("the fault matrix report file");
        writeln!(file, "{line}").expect("writing the fault matrix report");
    }
    eprintln!(
        "fault matrix on {server:?}: {} cuts ({client} client messages, {replies} server messages, stride {stride}) in {:.1} s, \
         {ambiguous_commits} found committed after the cut, {} violations",
        faults.len(),
        started.elapsed().as_secs_f64(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} promises broken:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The cuts that fall between a commit and its answer are what the matrix is for.
    assert!(
        ambiguous_commits > 0,
        "no cut fell between a commit and its answer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cut_leaves_a_truthful_history_postgres() {
    matrix(Server::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cut_leaves_a_truthful_history_mysql() {
    matrix(Server::MySql).await;
}

/// Holds its transaction open long enough for the test to cut the connection under it.
fn sleeping_step<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        cx.execute("INSERT INTO marks (version, statement) VALUES (2, 1)", &[])
            .await?;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        Ok(())
    })
}

async fn unreachable_after_the_cut(server: Server) {
    let db = TestDb::new(server).await;
    let migrations = revisions(&[
        (
            "V1__marks.sql",
            "CREATE TABLE marks (version INTEGER NOT NULL, statement INTEGER NOT NULL, PRIMARY KEY (version, statement));\n",
        ),
        ("V2__sleeps.rs", "//! Revises: 1\n"),
    ])
    .with_rust_steps(&[RustStep {
        version: 2,
        upgrade: sleeping_step,
        downgrade: None,
    }]);
    let migrations: &'static Migrations = Box::leak(Box::new(migrations));
    let proxy = FaultProxy::in_front_of(&db.url).await;
    let pool = BackendPool::connect_lazy(&proxy.url(&db.url), 1).unwrap();
    let run = tokio::spawn(async move {
        Migrator::new(migrations)
            .connect_timeout(Duration::from_millis(1500))
            .upgrade(&pool)
            .await
    });
    db.wait_for_table("marks").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    proxy.refuse_new_connections(true);
    proxy.cut_all();
    let error = run.await.unwrap().unwrap_err();
    let Error::Revision(failure) = &error else {
        panic!("{error}")
    };
    let text = error.to_string();
    assert_eq!(failure.committed, Committed::Unknown, "{text}");
    assert!(
        text.contains("the outcome of revision 2 is unknown"),
        "{text}"
    );
    assert!(text.contains("`cargo dbmigrate status` tells"), "{text}");
    assert!(
        !text.contains("nothing of revision 2 was applied"),
        "{text}"
    );
    assert_eq!(
        dbmigrate_runtime::online::ErrorKind::of(&error),
        dbmigrate_runtime::online::ErrorKind::OutcomeUnknown
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_that_cannot_be_found_out_is_unknown_not_guessed_postgres() {
    unreachable_after_the_cut(Server::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_that_cannot_be_found_out_is_unknown_not_guessed_mysql() {
    unreachable_after_the_cut(Server::MySql).await;
}
