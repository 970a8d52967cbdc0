//! Downgrading and stamping: downgrade sections run newest first and remove their history rows;
//! stamping writes or removes rows without running anything.

use dbmigrate_runtime::migrator::{Error, RunKind};
use dbmigrate_runtime::{Migrator, Target};

use crate::support::{on_every_backend, revisions};

const USERS: (&str, &str) = (
    "V1__users.sql",
    "-- Revises:\n-- migrate:upgrade\nCREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50));\n\
     -- migrate:downgrade\nDROP TABLE users;\n",
);
const SEED: (&str, &str) = (
    "V2__seed.sql",
    "-- Revises: 1\n-- migrate:upgrade\nINSERT INTO users (id, name) VALUES (1, 'ada');\n\
     -- migrate:downgrade\nDELETE FROM users WHERE id = 1;\n",
);
const POSTS: (&str, &str) = (
    "V3__posts.sql",
    "-- Revises: 2\n-- migrate:upgrade\nCREATE TABLE posts (id INTEGER PRIMARY KEY);\n-- migrate:downgrade\nDROP TABLE posts;\n",
);

fn versions(report: &dbmigrate_runtime::Report) -> Vec<i64> {
    report.steps.iter().map(|s| s.version).collect()
}

on_every_backend! {
    async fn reverts_newest_first_to_the_target(db) {
        let migrations = revisions(&[USERS, SEED, POSTS]);
        Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        let report = Migrator::new(&migrations).downgrade(&db.pool, Target::Version(1)).await.unwrap();
        assert_eq!(versions(&report), [3, 2]);
        assert_eq!(report.current, [1]);
        assert!(!db.has_table("posts").await);
        assert_eq!(db.integer("SELECT COUNT(*) FROM users").await, 0);
        assert_eq!(db.applied_versions().await, [1]);

        let report = Migrator::new(&migrations).downgrade(&db.pool, Target::Base).await.unwrap();
        assert_eq!(versions(&report), [1]);
        assert!(!db.has_table("users").await);
        assert!(report.current.is_empty());

        // Up again: the downgrade left the history consistent.
        let report = Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        assert_eq!(versions(&report), [1, 2, 3]);
        assert_eq!(db.integer("SELECT COUNT(*) FROM users").await, 1);
    }
}

on_every_backend! {
    async fn relative_targets_count_applied_revisions(db) {
        let migrations = revisions(&[USERS, SEED, POSTS]);
        Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        let report = Migrator::new(&migrations).downgrade(&db.pool, "-1".parse().unwrap()).await.unwrap();
        assert_eq!(versions(&report), [3]);
        let report = Migrator::new(&migrations).target("+1".parse().unwrap()).upgrade(&db.pool).await.unwrap();
        assert_eq!(versions(&report), [3]);
    }
}

on_every_backend! {
    async fn a_revision_without_downgrade_stops_the_downgrade_before_it_starts(db) {
        let no_down = ("V2__seed.sql", "-- Revises: 1\nINSERT INTO users (id, name) VALUES (1, 'ada');\n");
        let migrations = revisions(&[USERS, no_down, POSTS]);
        Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        let error = Migrator::new(&migrations).downgrade(&db.pool, Target::Base).await.unwrap_err();
        let Error::NotDowngradable { version, .. } = &error else { panic!("{error}") };
        assert_eq!(*version, 2);
        // Revision 3 could be reverted, but nothing was: the check comes first.
        assert!(db.has_table("posts").await);
        assert_eq!(db.applied_versions().await, [1, 2, 3]);
    }
}

on_every_backend! {
    async fn stamping_adopts_an_existing_schema_without_running_it(db) {
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50))").await;
        let migrations = revisions(&[USERS, SEED, POSTS]);
        let report = Migrator::new(&migrations).stamp(&db.pool, Target::Version(2)).await.unwrap();
        assert_eq!((report.kind, versions(&report)), (RunKind::Stamped, vec![1, 2]));
        assert_eq!(db.integer("SELECT COUNT(*) FROM users").await, 0, "the seed did not run");
        assert_eq!(db.applied_versions().await, [1, 2]);

        let report = Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        assert_eq!(versions(&report), [3]);

        let report = Migrator::new(&migrations).stamp(&db.pool, Target::Version(1)).await.unwrap();
        assert_eq!(versions(&report), [3, 2]);
        assert!(db.has_table("posts").await, "stamping down runs no downgrade either");
        assert_eq!(db.applied_versions().await, [1]);
    }
}
