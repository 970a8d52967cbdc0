//! SQL that would not run as written (an unclosed comment or string, a mysql-client `DELIMITER`
//! line, transaction control inside a transactional revision) is refused before the lock is taken
//! or anything is written, in the live database's dialect, naming the file and line.

use dbmigrate_runtime::migrator::Error;
use dbmigrate_runtime::{Backend, Migrator, RevisionError, Target};

use crate::support::{TestDb, on_every_backend, revisions};

const FIRST: (&str, &str) = (
    "V1__a.sql",
    "-- Revises:\n-- migrate:upgrade\nCREATE TABLE a (id INT);\n-- migrate:downgrade\nDROP TABLE a;\n",
);

/// How many tables the test's database holds: none means nothing was created, history included.
async fn table_count(db: &TestDb) -> i64 {
    db.integer(match db.backend {
        Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
        Backend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        }
        Backend::MySql => {
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()"
        }
    })
    .await
}

/// The codes and lines of the problems a refusal lists.
fn refused(error: Error) -> Vec<String> {
    match error {
        Error::Revisions(problems) => problems
            .problems
            .iter()
            .map(|p| {
                let location = p.location().unwrap();
                format!(
                    "{} {}:{}",
                    p.code(),
                    location.path.display(),
                    location.line.unwrap()
                )
            })
            .collect(),
        other => panic!("expected a refusal of the revisions, got {other}"),
    }
}

on_every_backend! {
    async fn an_unclosed_nested_comment_is_refused_where_comments_nest(db) {
        // PostgreSQL nests block comments, so this one never closes and would swallow the CREATE
        // TABLE below it: the revision used to be recorded as applied with nothing run.
        let migrations = revisions(&[
            FIRST,
            ("V2__b.sql", "-- Revises: 1\n-- migrate:upgrade\n/* a /* b */\nCREATE TABLE b (id INT);\n"),
        ]);
        let result = Migrator::new(&migrations).upgrade(&db.pool).await;
        if db.backend == Backend::Postgres {
            let error = result.unwrap_err();
            let message = error.to_string();
            assert_eq!(refused(error), ["unterminated-sql migrations/V2__b.sql:3"]);
            assert!(message.contains("never closed (in PostgreSQL)") && message.contains("its own `*/`"), "{message}");
            assert_eq!(table_count(&db).await, 0, "nothing is created before the refusal");
            // A dry run says the same.
            let dry = Migrator::new(&migrations).dry_run(true).upgrade(&db.pool).await.unwrap_err();
            assert_eq!(refused(dry), ["unterminated-sql migrations/V2__b.sql:3"]);
        } else {
            // MySQL and SQLite end the comment at the first `*/`: the file is sound there.
            result.unwrap();
            assert!(db.has_table("b").await);
            assert_eq!(db.applied_versions().await, [1, 2]);
        }
    }
}

on_every_backend! {
    async fn an_unclosed_string_refuses_the_whole_plan_naming_its_line(db) {
        let migrations = revisions(&[
            FIRST,
            ("V2__b.sql", "-- Revises: 1\n\nCREATE TABLE b (id INT);\nINSERT INTO b VALUES (1), ('2);\nCREATE TABLE c (id INT);\n"),
        ]);
        let error = Migrator::new(&migrations).upgrade(&db.pool).await.unwrap_err();
        assert_eq!(refused(error), ["unterminated-sql migrations/V2__b.sql:4"]);
        assert_eq!(table_count(&db).await, 0, "revision 1 does not run either");
        // Up to the revision before it, the plan is sound.
        Migrator::new(&migrations).target(Target::Version(1)).upgrade(&db.pool).await.unwrap();
        assert_eq!(db.applied_versions().await, [1]);
    }
}

on_every_backend! {
    async fn a_delimiter_line_is_refused_with_advice(db) {
        let migrations = revisions(&[(
            "V1__p.sql",
            "DELIMITER //\nCREATE PROCEDURE p() BEGIN SELECT 1; END //\nDELIMITER ;\n",
        )]);
        let error = Migrator::new(&migrations).upgrade(&db.pool).await.unwrap_err();
        let message = error.to_string();
        assert_eq!(
            refused(error),
            ["delimiter-command migrations/V1__p.sql:1", "delimiter-command migrations/V1__p.sql:3"]
        );
        assert!(message.contains("end the routine with `END;`"), "{message}");
        assert_eq!(table_count(&db).await, 0);
    }
}

on_every_backend! {
    async fn transaction_control_in_a_transactional_revision_is_refused(db) {
        let migrations = revisions(&[(
            "V1__a.sql",
            "CREATE TABLE a (id INT);\nCOMMIT;\nCREATE TABLE b (id INT);\nINSERT INTO nowhere VALUES (1);\n",
        )]);
        let error = Migrator::new(&migrations).upgrade(&db.pool).await.unwrap_err();
        let message = error.to_string();
        assert_eq!(refused(error), ["transaction-control migrations/V1__a.sql:2"]);
        assert!(message.contains("`Transaction: none`") && message.contains("split the revision"), "{message}");
        assert_eq!(table_count(&db).await, 0, "nothing committed, nothing recorded");
    }
}

on_every_backend! {
    async fn a_revision_outside_a_transaction_may_manage_its_own(db) {
        let migrations = revisions(&[(
            "V1__a.sql",
            "-- Revises:\n-- Transaction: none\n\nBEGIN;\nCREATE TABLE a (id INT);\nINSERT INTO a VALUES (1);\nCOMMIT;\n",
        )]);
        Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        assert_eq!(db.integer("SELECT COUNT(*) FROM a").await, 1);
        assert_eq!(db.applied_versions().await, [1]);
    }
}

on_every_backend! {
    async fn routine_bodies_stay_whole_and_are_not_transaction_control(db) {
        let body = match db.backend {
            Backend::Sqlite => "CREATE TABLE a (id INT, n INT);\nCREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE a SET n = CASE WHEN NEW.id > 0 THEN 1 END WHERE id = NEW.id;\nEND;\nINSERT INTO a (id) VALUES (1);\n",
            Backend::Postgres => "CREATE TABLE a (id INT, n INT);\nCREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  NEW.n := 1; -- ; END;\n  RETURN NEW;\nEND;\n$$;\nCREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW EXECUTE FUNCTION f();\nINSERT INTO a (id) VALUES (1);\n",
            Backend::MySql => "CREATE TABLE a (id INT, n INT);\nCREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW BEGIN\n  IF NEW.id > 0 THEN SET NEW.n = 1; END IF;\nEND;\nINSERT INTO a (id) VALUES (1);\n",
        };
        let migrations = revisions(&[("V1__a.sql", body)]);
        Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        assert_eq!(db.integer("SELECT COUNT(*) FROM a WHERE n = 1").await, 1);
    }
}

on_every_backend! {
    async fn a_downgrade_with_an_unclosed_comment_is_refused_before_the_lock(db) {
        let migrations = revisions(&[(
            "V1__a.sql",
            "-- Revises:\n-- migrate:upgrade\nCREATE TABLE a (id INT);\n-- migrate:downgrade\n/* drop it\nDROP TABLE a;\n",
        )]);
        Migrator::new(&migrations).upgrade(&db.pool).await.unwrap();
        let error = Migrator::new(&migrations).downgrade(&db.pool, Target::Base).await.unwrap_err();
        assert_eq!(refused(error), ["unterminated-sql migrations/V1__a.sql:5"]);
        assert!(db.has_table("a").await);
        assert_eq!(db.applied_versions().await, [1]);
        let dry = Migrator::new(&migrations).dry_run(true).downgrade(&db.pool, Target::Base).await.unwrap_err();
        assert_eq!(refused(dry), ["unterminated-sql migrations/V1__a.sql:5"]);
    }
}

/// A problem only one dialect has is reported for that dialect alone.
#[test]
fn problems_name_the_dialect_they_belong_to() {
    let migrations = revisions(&[("V1__a.sql", "SELECT 'a\\';\n")]);
    let problems = dbmigrate_runtime::sql::lint::lint(
        migrations.graph().revisions(),
        dbmigrate_runtime::sql::lint::Sections::Both,
        &Backend::ALL,
    );
    match problems.as_slice() {
        [RevisionError::UnterminatedSql { dialects, .. }] => {
            assert_eq!(dialects, &[Backend::MySql])
        }
        other => panic!("{other:?}"),
    }
}
