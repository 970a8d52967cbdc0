//! History table names: every name is checked in one place before any SQL is written with it, and
//! quoted wherever it is used, naming the same table refinery's unquoted name does.

use dbmigrate_runtime::{Backend, Migrator, Target};

use crate::support::{TestDb, on_every_backend, revisions};

const USERS: (&str, &str) = (
    "V1__users.sql",
    "-- Revises:\n-- migrate:upgrade\nCREATE TABLE users (id INT);\n-- migrate:downgrade\nDROP TABLE users;\n",
);
const TEAMS: (&str, &str) = (
    "V2__teams.sql",
    "-- Revises: 1\n-- migrate:upgrade\nCREATE TABLE teams (id INT);\n-- migrate:downgrade\nDROP TABLE teams;\n",
);

async fn table_names(db: &TestDb) -> Vec<String> {
    let sql = match db.backend {
        Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1"
        }
        Backend::MySql => {
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1"
        }
    };
    db.texts(sql).await.into_iter().flatten().collect()
}

on_every_backend! {
    async fn a_hostile_name_is_refused_and_touches_nothing(db) {
        db.execute("CREATE TABLE victim (id INT)").await;
        let migrations = revisions(&[USERS]);
        for name in [
            "x(a); DROP TABLE victim; --",
            "victim\"; DROP TABLE victim; --",
            "victim`; DROP TABLE victim; --",
            "victim'",
            "",
            "public.victim",
            &"h".repeat(54),
            &"h".repeat(63),
            &"h".repeat(64),
            &"h".repeat(65),
        ] {
            let error = match Migrator::new(&migrations).table(name) {
                Ok(_) => panic!("{name:?} was accepted"),
                Err(error) => error,
            };
            assert_eq!(error.table, name);
            assert!(error.to_string().starts_with("the history table name "), "{error}");
        }
        assert_eq!(table_names(&db).await, ["victim"]);
    }
}

on_every_backend! {
    async fn the_longest_name_keeps_its_side_table_apart(db) {
        // 53 characters: `<name>_dbmigrate` is 63, PostgreSQL's limit, and does not truncate onto
        // the history table itself.
        let name = "h".repeat(53);
        let migrations = revisions(&[USERS, TEAMS]);
        let migrator = Migrator::new(&migrations).table(&name).unwrap();
        migrator.upgrade(&db.pool).await.unwrap();
        let side = format!("{name}_dbmigrate");
        assert_eq!(table_names(&db).await, [name.clone(), side, "teams".into(), "users".into()]);
        assert_eq!(db.applied_versions_in(&name).await, [1, 2]);
        migrator.downgrade(&db.pool, Target::Version(1)).await.unwrap();
        assert_eq!(db.applied_versions_in(&name).await, [1]);
    }
}

on_every_backend! {
    async fn a_reserved_word_works_because_every_use_is_quoted(db) {
        let migrations = revisions(&[USERS, TEAMS]);
        let migrator = Migrator::new(&migrations).table("order").unwrap();
        migrator.upgrade(&db.pool).await.unwrap();
        assert_eq!(migrator.status(&db.pool).await.unwrap().current, [2]);
        migrator.downgrade(&db.pool, Target::Base).await.unwrap();
        migrator.stamp(&db.pool, Target::Version(1)).await.unwrap();
        assert_eq!(migrator.repair(&db.pool).await.unwrap(), Vec::<i64>::new());
        migrator.upgrade(&db.pool).await.unwrap();
        let quoted = db.backend.quote_identifier("order");
        assert_eq!(
            db.integer(&format!("SELECT COUNT(*) FROM {quoted}")).await,
            2
        );
        assert!(db.has_table("order_dbmigrate").await);
    }
}

on_every_backend! {
    async fn a_mixed_case_name_is_the_table_refinerys_unquoted_name_is(db) {
        let migrations = revisions(&[USERS]);
        Migrator::new(&migrations).table("SchemaHistory").unwrap().upgrade(&db.pool).await.unwrap();
        // What refinery runs, unquoted, reads the rows dbmigrate wrote.
        assert_eq!(db.integer("SELECT COUNT(*) FROM SchemaHistory").await, 1);
        if db.backend == Backend::Postgres {
            assert!(db.has_table("schemahistory").await);
        }
    }
}

#[test]
fn a_revision_set_with_an_unusable_table_is_refused() {
    let sources = [dbmigrate_runtime::revision::RevisionSource {
        path: "V1__a.sql".into(),
        bytes: std::borrow::Cow::Borrowed(b"CREATE TABLE a (id INT);\n"),
    }];
    let problems = dbmigrate_runtime::Migrations::from_sources(
        sources,
        dbmigrate_runtime::VersionWidth::I32,
        "x; DROP TABLE y",
    )
    .unwrap_err();
    assert_eq!(problems.problems[0].code(), "bad-table-name");
}
