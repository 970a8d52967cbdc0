//! The splitter against the servers' own parsers: a text sent whole (PostgreSQL's simple query,
//! MariaDB's multi-statement query) and the same text sent as the statements dbmigrate splits it
//! into, one by one, must leave the same catalog and data, or both fail.
//!
//! The texts are the fixture corpus and generated SQL full of what makes splitting hard: comments
//! (nested on PostgreSQL), strings with escapes, `E''` strings, dollar quotes with tags, quoted
//! identifiers, functions, procedures, triggers, rules and anonymous blocks.

use std::path::Path;

use dbmigrate_runtime::revision::load_directory;
use dbmigrate_runtime::{Backend, RevisionKind, VersionWidth, sql};
use dbmigrate_test_support::{Database, Server};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use sqlx::{AssertSqlSafe, Connection as _, MySqlConnection, PgConnection};

/// What sending a text left behind: whether it failed, and the catalog and data it produced.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    failed: bool,
    catalog: Vec<String>,
}

/// A database as seen by one way of sending SQL to it.
trait Target {
    /// Runs `sql` as the server receives a whole file: one message.
    async fn whole(&mut self, sql: &str) -> Result<(), sqlx::Error>;
    /// Runs one statement.
    async fn one(&mut self, sql: &str) -> Result<(), sqlx::Error>;
    /// Tables, columns, routines, triggers, views and the log's rows, as text.
    async fn catalog(&mut self) -> Vec<String>;
}

struct Pg(PgConnection);

impl Target for Pg {
    async fn whole(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .execute(&mut self.0)
            .await
            .map(drop)
    }

    async fn one(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        self.whole(sql).await
    }

    async fn catalog(&mut self) -> Vec<String> {
        let queries = [
            "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || COALESCE(column_default, '') \
             FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY 1",
            "SELECT pg_get_functiondef(p.oid) FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace \
             ORDER BY p.proname",
            "SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
             WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal ORDER BY 1",
            "SELECT rulename || ' ' || definition FROM pg_rules WHERE schemaname = current_schema() ORDER BY 1",
            "SELECT table_name || ' ' || view_definition FROM information_schema.views \
             WHERE table_schema = current_schema() ORDER BY 1",
            "SELECT COALESCE(obj_description('log'::regclass, 'pg_class'), '')",
            "SELECT COALESCE(string_agg(v, '|' ORDER BY id), '') FROM log",
        ];
        let mut catalog = Vec::new();
        for query in queries {
            let rows: Vec<Option<String>> = sqlx::query_scalar(AssertSqlSafe(query))
                .fetch_all(&mut self.0)
                .await
                .unwrap_or_else(|e| panic!("{query}: {e}"));
            catalog.extend(rows.into_iter().flatten());
        }
        catalog
    }
}

struct MariaDb(MySqlConnection);

impl Target for MariaDb {
    async fn whole(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .execute(&mut self.0)
            .await
            .map(drop)
    }

    async fn one(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        self.whole(sql).await
    }

    async fn catalog(&mut self) -> Vec<String> {
        let queries = [
            "SELECT CONCAT(table_name, '.', column_name, ' ', column_type) FROM information_schema.columns \
             WHERE table_schema = DATABASE() ORDER BY 1",
            "SELECT CONCAT(routine_type, ' ', routine_name, ' ', routine_definition) FROM information_schema.routines \
             WHERE routine_schema = DATABASE() ORDER BY 1",
            "SELECT CONCAT(trigger_name, ' ', action_statement) FROM information_schema.triggers \
             WHERE trigger_schema = DATABASE() ORDER BY 1",
            // A view's definition names its database, which differs between the two sides.
            "SELECT CONCAT(table_name, ' ', REPLACE(view_definition, CONCAT('`', DATABASE(), '`.'), '')) \
             FROM information_schema.views WHERE table_schema = DATABASE() ORDER BY 1",
            "SELECT COALESCE(GROUP_CONCAT(v ORDER BY id SEPARATOR '|'), '') FROM log",
        ];
        let mut catalog = Vec::new();
        for query in queries {
            let rows: Vec<Option<String>> = sqlx::query_scalar(AssertSqlSafe(query))
                .fetch_all(&mut self.0)
                .await
                .unwrap_or_else(|e| panic!("{query}: {e}"));
            catalog.extend(rows.into_iter().flatten());
        }
        catalog
    }
}

/// Sends `sql` whole to `whole` and statement by statement to `split`. On PostgreSQL both run in
/// one explicit transaction, as dbmigrate runs a revision (the implicit transaction of a
/// multi-statement query would refuse `SAVEPOINT`), so a failure leaves nothing of either.
async fn compare(
    sql: &str,
    backend: Backend,
    whole: &mut impl Target,
    split: &mut impl Target,
) -> (Outcome, Outcome) {
    let transactional = backend == Backend::Postgres;
    if transactional {
        whole.one("BEGIN").await.unwrap();
    }
    let failed = whole.whole(sql).await.is_err();
    if transactional {
        whole
            .one(if failed { "ROLLBACK" } else { "COMMIT" })
            .await
            .unwrap();
    }
    let sent_whole = Outcome {
        failed,
        catalog: whole.catalog().await,
    };
    if transactional {
        split.one("BEGIN").await.unwrap();
    }
    let mut failed = false;
    for statement in sql::split(sql, backend) {
        if split.one(&statement.text).await.is_err() {
            failed = true;
            break;
        }
    }
    if transactional {
        split
            .one(if failed { "ROLLBACK" } else { "COMMIT" })
            .await
            .unwrap();
    }
    let sent_split = Outcome {
        failed,
        catalog: split.catalog().await,
    };
    (sent_whole, sent_split)
}

/// Two connections, each on a database of its own, where every case starts from the same empty
/// schema (PostgreSQL) or database (MariaDB) holding only the `log` table.
struct Pair<T> {
    whole: T,
    split: T,
    /// The test databases, dropped at the end.
    _databases: Vec<Database>,
}

impl Pair<Pg> {
    async fn postgres() -> Self {
        let a = Database::new(Server::Postgres).await;
        let b = Database::new(Server::Postgres).await;
        let whole = Pg(PgConnection::connect(&a.url).await.unwrap());
        let split = Pg(PgConnection::connect(&b.url).await.unwrap());
        Self {
            whole,
            split,
            _databases: vec![a, b],
        }
    }

    /// The same fresh schema on both sides.
    async fn reset(&mut self) {
        for side in [&mut self.whole, &mut self.split] {
            side.whole(
                "DROP SCHEMA IF EXISTS parsed CASCADE; CREATE SCHEMA parsed; SET search_path TO parsed; \
                 CREATE TABLE log (id serial PRIMARY KEY, v text)",
            )
            .await
            .unwrap();
        }
    }
}

impl Pair<MariaDb> {
    async fn mariadb() -> Self {
        let a = Database::new(Server::MySql).await;
        let b = Database::new(Server::MySql).await;
        let whole = MariaDb(MySqlConnection::connect(&a.url).await.unwrap());
        let split = MariaDb(MySqlConnection::connect(&b.url).await.unwrap());
        Self {
            whole,
            split,
            _databases: vec![a, b],
        }
    }

    /// Both test databases emptied down to a fresh `log` table.
    async fn reset(&mut self) {
        for side in [&mut self.whole, &mut self.split] {
            let objects: Vec<(String, String)> = sqlx::query_as(
                "SELECT 'TABLE', CONCAT('`', table_name, '`') FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' \
                 UNION ALL SELECT 'VIEW', CONCAT('`', table_name, '`') FROM information_schema.views WHERE table_schema = DATABASE() \
                 UNION ALL SELECT routine_type, CONCAT('`', routine_name, '`') FROM information_schema.routines WHERE routine_schema = DATABASE()",
            )
            .fetch_all(&mut side.0)
            .await
            .unwrap();
            for (kind, name) in objects {
                side.whole(&format!("DROP {kind} IF EXISTS {name}"))
                    .await
                    .unwrap();
            }
            side.whole("CREATE TABLE log (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT)")
                .await
                .unwrap();
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn differs(sql: &str, backend: Backend, whole: &Outcome, split: &Outcome) -> String {
    format!(
        "the server and the splitter disagree on:\n{sql}\n--- split into:\n{}\n--- sent whole: {whole:#?}\n--- sent split: {split:#?}",
        sql::split(sql, backend)
            .iter()
            .map(|s| format!("[{}] {}", s.line, s.text))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// A string literal holding `text`, in one of PostgreSQL's spellings.
fn pg_literal() -> impl Strategy<Value = String> {
    let text = "[a-z;'\"\\\\ $*/-]{0,10}";
    prop_oneof![
        text.prop_map(|t| format!("'{}'", t.replace('\'', "''"))),
        text.prop_map(|t| format!("E'{}'", t.replace('\\', "\\\\").replace('\'', "\\'"))),
        (
            "[a-z;'\"\\\\ */-]{0,10}",
            prop_oneof![Just(""), Just("q"), Just("body_1")]
        )
            .prop_map(|(t, tag)| format!("${tag}${t}${tag}$")),
    ]
}

/// One PostgreSQL statement (or a few) using names numbered `i`.
fn pg_statement(i: usize) -> BoxedStrategy<String> {
    prop_oneof![
        Just(format!(
            "CREATE TABLE t{i} (id int, \"semi;colon\" text DEFAULT 'a;b', \"quo\"\"te\" int)"
        )),
        pg_literal().prop_map(|literal| format!("INSERT INTO log (v) VALUES ({literal})")),
        Just(format!(
            "CREATE FUNCTION f{i}() RETURNS int LANGUAGE plpgsql AS $fn$\nBEGIN\n  INSERT INTO log (v) VALUES ('in f;');\n  RETURN {i}; -- end;\nEND;\n$fn$"
        )),
        Just(format!(
            "CREATE PROCEDURE p{i}() LANGUAGE sql BEGIN ATOMIC\n  INSERT INTO log (v) VALUES ('atomic; {i}');\n  INSERT INTO log (v) VALUES (CASE WHEN {i} > 1 THEN 'big;' ELSE 'small;' END);\nEND;\nCALL p{i}()"
        )),
        Just(format!("CREATE FUNCTION g{i}(a int) RETURNS int LANGUAGE sql RETURN a + {i}")),
        Just(format!("CREATE VIEW v{i} AS SELECT v AS \"a;b\" FROM log WHERE v <> ';'")),
        Just("SELECT 1 /* x /* y; */ z */".to_string()),
        Just(format!("CREATE TABLE \"T;{i}\" (x int)")),
        pg_literal().prop_map(|literal| format!("COMMENT ON TABLE log IS {literal}")),
        Just(format!("DO $do$ BEGIN INSERT INTO log (v) VALUES ('do;{i}'); END $do$")),
        Just(format!(
            "CREATE TABLE r{i} (x int);\nCREATE RULE rule{i} AS ON INSERT TO r{i} DO ALSO (INSERT INTO log (v) VALUES ('rule;1'); INSERT INTO log (v) VALUES ('rule;2'));\nINSERT INTO r{i} VALUES (1)"
        )),
        Just(format!(
            "CREATE FUNCTION tf{i}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.v := NEW.v || ';t{i}'; RETURN NEW; END $$;\n\
             CREATE TRIGGER tr{i} BEFORE INSERT ON log FOR EACH ROW EXECUTE FUNCTION tf{i}()"
        )),
    ]
    .boxed()
}

/// What may stand between two statements: whitespace and comments, and now and then something
/// left open that must make both ways fail.
fn pg_separator() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => Just(";\n".to_string()),
        2 => Just("; -- a comment; with a semicolon\n".to_string()),
        2 => Just(";/* c; */".to_string()),
        2 => Just("\n;\n;".to_string()),
        2 => Just("; /* a /* nested; */ b */ ".to_string()),
        // Rarely, so most texts run to their end.
        1 => prop_oneof![
            Just(";\n/* a /* b */\n".to_string()),
            Just(";\n'".to_string()),
            Just(";\n$q$".to_string()),
            Just(";\n\"".to_string()),
        ],
    ]
}

fn pg_text() -> impl Strategy<Value = String> {
    (1..7usize)
        .prop_flat_map(|n| {
            let statements: Vec<BoxedStrategy<String>> = (0..n).map(pg_statement).collect();
            (statements, proptest::collection::vec(pg_separator(), n))
        })
        .prop_map(|(statements, separators)| {
            statements
                .iter()
                .zip(&separators)
                .map(|(s, sep)| format!("{s}{sep}"))
                .collect()
        })
}

#[test]
fn postgres_agrees_with_the_splitter_on_generated_sql() {
    let runtime = runtime();
    // The runner takes a `Fn`; cases run one at a time.
    let pair = std::cell::RefCell::new(runtime.block_on(Pair::postgres()));
    let mut runner = TestRunner::new(Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&pg_text(), |sql| {
            let mut pair = pair.borrow_mut();
            let pair = &mut *pair;
            let (whole, split) = runtime.block_on(async {
                pair.reset().await;
                compare(&sql, Backend::Postgres, &mut pair.whole, &mut pair.split).await
            });
            if whole == split {
                Ok(())
            } else {
                Err(TestCaseError::fail(differs(
                    &sql,
                    Backend::Postgres,
                    &whole,
                    &split,
                )))
            }
        })
        .unwrap();
}

#[test]
fn postgres_agrees_with_the_splitter_on_the_fixture_corpus() {
    let runtime = runtime();
    let mut pair = runtime.block_on(Pair::postgres());
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    let mut directories: Vec<_> = std::fs::read_dir(&fixtures)
        .unwrap()
        .chain(std::fs::read_dir(fixtures.join("hostile")).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.ends_with("hostile"))
        .collect();
    directories.sort();
    let mut compared = 0;
    for directory in directories {
        let (revisions, _) = load_directory(&directory, VersionWidth::I64);
        runtime.block_on(pair.reset());
        for revision in revisions.iter().filter(|r| r.kind == RevisionKind::Sql) {
            let sql = &revision.upgrade.text;
            let (whole, split) = runtime.block_on(compare(
                sql,
                Backend::Postgres,
                &mut pair.whole,
                &mut pair.split,
            ));
            assert_eq!(
                whole,
                split,
                "{}: {}",
                revision.path.display(),
                differs(sql, Backend::Postgres, &whole, &split)
            );
            compared += 1;
        }
    }
    assert!(compared >= 80, "only {compared} revisions compared");
}

/// A MariaDB string literal: doubled quotes, backslash escapes, or double quotes.
fn mysql_literal() -> impl Strategy<Value = String> {
    let text = "[a-z;'\"\\\\` #*/-]{0,10}";
    prop_oneof![
        text.prop_map(|t| format!("'{}'", t.replace('\\', "\\\\").replace('\'', "''"))),
        text.prop_map(|t| format!("'{}'", t.replace('\\', "\\\\").replace('\'', "\\'"))),
        text.prop_map(|t| format!("\"{}\"", t.replace('\\', "\\\\").replace('"', "\\\""))),
    ]
}

fn mysql_statement(i: usize) -> BoxedStrategy<String> {
    prop_oneof![
        Just(format!(
            "CREATE TABLE t{i} (id INT, `semi;colon` TEXT, `back``tick` INT)"
        )),
        mysql_literal().prop_map(|literal| format!("INSERT INTO log (v) VALUES ({literal})")),
        Just(format!(
            "CREATE PROCEDURE p{i}()\nBEGIN\n  INSERT INTO log (v) VALUES ('p;{i}');\n  IF {i} > 1 THEN INSERT INTO log (v) VALUES ('if;'); END IF;\n  CASE WHEN {i} > 2 THEN INSERT INTO log (v) VALUES ('case;'); ELSE BEGIN END; END CASE;\nEND;\nCALL p{i}()"
        )),
        Just(format!(
            "CREATE FUNCTION f{i}() RETURNS INT DETERMINISTIC\nBEGIN\n  DECLARE x INT DEFAULT {i};\n  WHILE x > 100 DO SET x = x - 1; END WHILE;\n  RETURN x;\nEND"
        )),
        Just(format!(
            "CREATE TRIGGER tr{i} BEFORE INSERT ON log FOR EACH ROW BEGIN SET NEW.v = CONCAT(NEW.v, ';t{i}'); END"
        )),
        Just(format!("BEGIN NOT ATOMIC\n  INSERT INTO log (v) VALUES ('anonymous;{i}');\nEND")),
        Just("SELECT 1 # a hash; comment\n".to_string()),
        Just("/*!40101 SET @x = 1 */".to_string()),
        Just(format!("CREATE VIEW v{i} AS SELECT v AS `a;b` FROM log")),
        Just("INSERT INTO log (v) VALUES (5--1)".to_string()),
    ]
    .boxed()
}

fn mysql_separator() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => Just(";\n".to_string()),
        2 => Just("; -- a comment; with a semicolon\n".to_string()),
        2 => Just(";/* c; */".to_string()),
        2 => Just(";\n# hash; comment\n".to_string()),
        // No empty statement (`;;`): MariaDB refuses one in a multi-statement query ("Query was
        // empty") while dbmigrate skips it, as PostgreSQL and SQLite do; that leniency is meant.
    ]
}

/// What ends a generated MariaDB text: a separator, or one that leaves a string or comment open.
/// Only at the end: an open comment in the middle would close at the next `*/` and leave a statement
/// of only a comment, which MariaDB refuses as empty and dbmigrate skips (the leniency above).
fn mysql_ending() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => mysql_separator(),
        1 => prop_oneof![Just(";\n'".to_string()), Just(";\n/* open".to_string())],
    ]
}

fn mysql_text() -> impl Strategy<Value = String> {
    (1..7usize)
        .prop_flat_map(|n| {
            let statements: Vec<BoxedStrategy<String>> = (0..n).map(mysql_statement).collect();
            (
                statements,
                proptest::collection::vec(mysql_separator(), n - 1),
                mysql_ending(),
            )
        })
        .prop_map(|(statements, separators, ending)| {
            statements
                .iter()
                .zip(separators.iter().chain(std::iter::once(&ending)))
                .map(|(s, sep)| format!("{s}{sep}"))
                .collect()
        })
}

#[test]
fn mariadb_agrees_with_the_splitter_on_generated_sql() {
    let runtime = runtime();
    // The runner takes a `Fn`; cases run one at a time.
    let pair = std::cell::RefCell::new(runtime.block_on(Pair::mariadb()));
    let mut runner = TestRunner::new(Config {
        cases: 32,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&mysql_text(), |sql| {
            let mut pair = pair.borrow_mut();
            let pair = &mut *pair;
            let (whole, split) = runtime.block_on(async {
                pair.reset().await;
                compare(&sql, Backend::MySql, &mut pair.whole, &mut pair.split).await
            });
            if whole == split {
                Ok(())
            } else {
                Err(TestCaseError::fail(differs(
                    &sql,
                    Backend::MySql,
                    &whole,
                    &split,
                )))
            }
        })
        .unwrap();
}
