//! Reliability in the test suite, bounded in time (`cargo xtask stress` runs the same scenarios for
//! many more rounds): real processes race to migrate one database, and a process is killed at
//! random moments of its run.

mod support {
    pub use dbmigrate_test_support::Database as TestDb;
}

use std::time::Duration;

use dbmigrate_replica::scenario::{KillPoint, Replica, calibrate, kill_at, race};
use dbmigrate_test_support::on_every_backend;

fn replica(step_millis: u64) -> Replica {
    Replica {
        binary: env!("CARGO_BIN_EXE_dbmigrate-replica").into(),
        rows: 5_000,
        step_millis,
    }
}

on_every_backend! {
    async fn eight_processes_racing_apply_each_revision_once(db) {
        let outcome = race(&replica(0), &db, 8, Duration::from_secs(60)).await;
        assert!(outcome.problems.is_empty(), "{:#?}", outcome.problems);
        assert_eq!(outcome.succeeded, 8);
    }
}

on_every_backend! {
    async fn waiters_on_a_slow_step_time_out_cleanly_and_succeed_on_retry(db) {
        // The data step holds the lock for 1.5 s; the others give up after 0.3 s.
        let outcome = race(&replica(1_500), &db, 4, Duration::from_millis(300)).await;
        assert!(outcome.problems.is_empty(), "{:#?}", outcome.problems);
        assert!(outcome.timed_out_then_retried >= 1, "{outcome:?}");
        assert_eq!(outcome.succeeded + outcome.timed_out_then_retried, 4);
    }
}

on_every_backend! {
    async fn a_process_killed_anywhere_leaves_every_revision_whole(db) {
        // Each kill point gets a fresh database of this test's backend.
        let server = db.server;
        drop(db);
        let replica = replica(300);
        let run = calibrate(&replica, server).await;
        // Before anything, inside the data step (certainly, through its signal), and at times spread
        // over the run up to after its end.
        let mut points = vec![
            KillPoint::After(Duration::ZERO),
            KillPoint::InDataStep(Duration::ZERO),
            KillPoint::InDataStep(Duration::from_millis(150)),
        ];
        points.extend((1..=3).map(|i| KillPoint::After(run.mul_f64(f64::from(i) / 2.0))));
        for point in points {
            let db = dbmigrate_test_support::Database::new(server).await;
            let outcome = kill_at(&replica, &db, point).await;
            assert!(outcome.problems.is_empty(), "killed at {point:?}: {:#?}", outcome.problems);
            if let KillPoint::InDataStep(_) = point {
                // Killed inside revision 3: it and everything after it must be absent.
                assert!(outcome.applied_at_kill.iter().all(|&v| v < 3), "killed at {point:?}: {outcome:?}");
            }
        }
    }
}
