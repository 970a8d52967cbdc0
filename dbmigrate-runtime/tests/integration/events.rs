//! What a migrator tells its event callback: each revision as it starts and as it is recorded (never
//! before its transaction committed), a data step's progress in between, a wait for another
//! runner's lock, and each failed connection attempt with its real cause.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dbmigrate_runtime::data::{Context, StepFuture};
use dbmigrate_runtime::migrator::{Direction, Event};
use dbmigrate_runtime::{Backend, BackendPool, Migrations, Migrator, RustStep};

use crate::support::{on_every_backend, revisions};

/// The events of a run as lines, in the order they came.
#[derive(Clone, Default)]
struct Recorded(Arc<Mutex<Vec<String>>>);

impl Recorded {
    fn record(&self, event: &Event<'_>) {
        let line = match event {
            Event::ConnectRetry { attempt, error, .. } => format!("retry {attempt}: {error}"),
            Event::LockWait { holder, .. } => format!("lock wait: {}", holder.unwrap_or("?")),
            Event::RevisionStarted {
                version, direction, ..
            } => format!("start {version} {direction:?}"),
            Event::RevisionFinished {
                version, direction, ..
            } => format!("finish {version} {direction:?}"),
            Event::Progress(progress) => format!(
                "progress {} {}: {}",
                progress.version, progress.task, progress.rows
            ),
            _ => "other".to_string(),
        };
        self.0.lock().unwrap().push(line);
    }

    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    fn position(&self, line: &str) -> usize {
        let lines = self.lines();
        lines
            .iter()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("no `{line}` in {lines:#?}"))
    }

    fn migrator<'m>(&self, migrations: &'m Migrations) -> Migrator<'m> {
        let recorded = self.clone();
        Migrator::new(migrations).on_event(move |event| recorded.record(event))
    }
}

fn fill_and_backfill<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        let rows = (1..=250_i64).map(|id| [id.into(), format!("Item {id}").into()]);
        cx.bulk_insert("items", &["id", "label"], rows).await?;
        cx.backfill("items", "id", "label_lower = LOWER(label)")
            .batch_size(100)
            .run()
            .await?;
        Ok(())
    })
}

fn items_with_a_data_step() -> Migrations {
    revisions(&[
        ("V1__items.sql", "-- Revises:\nCREATE TABLE items (id INTEGER PRIMARY KEY, label VARCHAR(40), label_lower VARCHAR(40));\n"),
        ("V2__fill.rs", "//! Revises: 1\npub async fn upgrade() {}\n"),
        ("V3__broken.sql", "-- Revises: 2\nINSERT INTO nowhere VALUES (1);\n"),
    ])
    .with_rust_steps(&[RustStep { version: 2, upgrade: fill_and_backfill, downgrade: None }])
}

on_every_backend! {
    async fn each_revision_is_announced_as_it_starts_and_once_it_is_recorded(db) {
        let migrations = items_with_a_data_step();
        let recorded = Recorded::default();
        recorded.migrator(&migrations).upgrade(&db.pool).await.unwrap_err();
        let lines = recorded.lines();

        for version in [1, 2] {
            assert!(recorded.position(&format!("start {version} Upgrade")) < recorded.position(&format!("finish {version} Upgrade")), "{lines:#?}");
        }
        // The data step's tasks report as they go, between its start and its end.
        let progress: Vec<_> = lines.iter().filter(|l| l.starts_with("progress 2 ")).collect();
        assert!(progress.contains(&&"progress 2 bulk insert into items: 250".to_string()), "{lines:#?}");
        assert!(progress.contains(&&"progress 2 backfill items: 100".to_string()), "{lines:#?}");
        assert!(progress.contains(&&"progress 2 backfill items: 250".to_string()), "{lines:#?}");
        let first_progress = lines.iter().position(|l| l.starts_with("progress 2 ")).unwrap();
        assert!(recorded.position("start 2 Upgrade") < first_progress && first_progress < recorded.position("finish 2 Upgrade"));
        // The failed revision started and is never announced as recorded.
        recorded.position("start 3 Upgrade");
        assert!(!lines.iter().any(|l| l == "finish 3 Upgrade"), "{lines:#?}");
        assert_eq!(db.applied_versions().await, [1, 2]);

        if db.backend == Backend::Sqlite {
            // Revisions 1 and 2 commit together: neither is recorded before both ran.
            assert!(recorded.position("finish 1 Upgrade") > recorded.position("start 2 Upgrade"), "{lines:#?}");
        }

        let recorded = Recorded::default();
        recorded.migrator(&migrations).downgrade(&db.pool, dbmigrate_runtime::Target::Base).await.unwrap_err();
        // Revision 2 has no downgrade: the refusal comes before anything starts.
        assert!(recorded.lines().iter().all(|l| !l.starts_with("start") || l.ends_with(&format!("{:?}", Direction::Downgrade))));
    }
}

fn hold_the_lock<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        cx.execute("INSERT INTO runs (revision) VALUES (?)", &[2.into()])
            .await?;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        Ok(())
    })
}

on_every_backend! {
    async fn a_runner_waiting_for_the_lock_says_so_and_who_holds_it(db) {
        let migrations: &'static Migrations = Box::leak(Box::new(
            revisions(&[
                ("V1__runs.sql", "-- Revises:\n-- Transaction: none\nCREATE TABLE runs (revision INTEGER NOT NULL);\n"),
                ("V2__hold.rs", "//! Revises: 1\npub async fn upgrade() {}\n"),
            ])
            .with_rust_steps(&[RustStep { version: 2, upgrade: hold_the_lock, downgrade: None }]),
        ));
        let holder_pool = db.another_pool(1);
        let holder = tokio::spawn(async move { Migrator::new(migrations).upgrade(&holder_pool).await });
        db.wait_for_table("runs").await;
        tokio::time::sleep(Duration::from_millis(200)).await;

        let recorded = Recorded::default();
        let waiter = db.another_pool(1);
        let report = recorded.migrator(migrations).lock_timeout(Duration::from_secs(30)).upgrade(&waiter).await.unwrap();
        assert!(report.is_empty(), "the holder applied everything");
        holder.await.unwrap().unwrap();
        let lines = recorded.lines();
        let waits: Vec<_> = lines.iter().filter(|l| l.starts_with("lock wait: ")).collect();
        assert_eq!(waits.len(), 1, "one event when the wait begins: {lines:#?}");
        let expected_holder = match db.backend {
            Backend::Postgres => "lock wait: PostgreSQL backend pid ",
            Backend::MySql => "lock wait: MySQL connection ",
            Backend::Sqlite => "lock wait: process ",
        };
        assert!(waits[0].starts_with(expected_holder), "{lines:#?}");
    }
}

#[tokio::test]
async fn each_failed_connection_attempt_is_reported_with_its_real_cause() {
    // A port nothing listens on: every attempt is refused until the deadline.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let pool =
        BackendPool::connect_lazy(&format!("postgres://root@127.0.0.1:{port}/test"), 1).unwrap();
    let migrations = revisions(&[(
        "V1__one.sql",
        "-- Revises:\nCREATE TABLE one (id INTEGER);\n",
    )]);
    let recorded = Recorded::default();
    let error = recorded
        .migrator(&migrations)
        .connect_timeout(Duration::from_millis(2500))
        .upgrade(&pool)
        .await
        .unwrap_err();
    let lines = recorded.lines();
    assert!(lines.len() >= 2, "the migrator retried: {lines:#?}");
    for (attempt, line) in lines.iter().enumerate() {
        assert!(
            line.starts_with(&format!("retry {}: ", attempt + 1)),
            "{lines:#?}"
        );
        assert!(
            line.to_lowercase().contains("refused"),
            "the real cause: {line}"
        );
    }
    assert!(
        error.to_string().to_lowercase().contains("refused"),
        "{error}"
    );
}
