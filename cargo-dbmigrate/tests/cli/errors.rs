//! Errors a user can act on: each names its real cause and the command that works, in text and
//! under `--format json`, against real servers (and a port where nothing listens).

use std::time::{Duration, Instant};

use dbmigrate_test_support::{Server, with_database};
use snapbox::str;

use crate::online::project;

/// A server that is down: the first failed attempt says what is happening and for how long it
/// retries; the command ends with exit 4 within a fraction of a second of the deadline, the error
/// ending with the real cause (connection refused), and a hint saying what to check.
#[test]
fn a_server_that_is_down_is_retried_until_the_deadline_then_named_as_refusing() {
    for url in [
        "postgres://root@127.0.0.1:9/test",
        "mysql://root@127.0.0.1:9/test",
    ] {
        let started = Instant::now();
        project()
            .cmd(&["status", "--dir", "migrations", "--connect-timeout", "2"])
            .env("DATABASE_URL", url)
            .assert()
            .code(4)
            .stdout_eq("")
            .stderr_eq(str![[r#"
note: cannot connect to the database yet (attempt 1): [..]Connection refused[..]; retrying for up to [..] more (--connect-timeout)
error: cannot connect to the database (tried for 2.[..] s): [..]Connection refused (os error 111)
help: nothing accepts connections at 127.0.0.1:9: start the database server, or correct the host and port in the URL

"#]]);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_secs(2) && took < Duration::from_millis(2_500),
            "{url}: the deadline was 2 s, the command took {took:?}"
        );
    }
}

/// A database that does not exist on a running server: the error says so, and `cargo dbmigrate
/// database create` (which it names) creates it; `database drop --yes` drops it again.
#[tokio::test]
async fn a_missing_database_is_named_and_created_by_database_create() {
    for server in [Server::Postgres, Server::MySql] {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("dbm_missing_{}_{nanos}", std::process::id());
        let url = with_database(&server.url(), &name);
        let sandbox = project();
        let run = |args: &[&str]| {
            sandbox
                .cmd(args)
                .env("DATABASE_URL", &url)
                .arg("--dir")
                .arg("migrations")
        };
        run(&["status"]).assert().code(4).stdout_eq("").stderr_eq(str![[r#"
error: cannot connect to the database (tried for [..] s): error returned from database: [..]dbm_missing_[..]
help: the database does not exist on that server: `cargo dbmigrate database create` creates it

"#]]);
        let database = |args: &[&str]| {
            sandbox
                .cmd(&[&["database"], args].concat())
                .env("DATABASE_URL", &url)
        };
        database(&["create"]).assert().success().stdout_eq(str![[r#"
created database `dbm_missing_[..]` ([..])

"#]]);
        database(&["create"]).assert().success().stdout_eq(str![[r#"
database `dbm_missing_[..]` already exists ([..])

"#]]);
        run(&["upgrade"]).assert().success();
        database(&["drop"]).assert().code(2).stderr_eq(str![[r#"
error: `database drop` deletes [..] and all its data; it needs confirmation
help: add --yes to drop it without being asked

"#]]);
        database(&["drop", "--yes"])
            .assert()
            .success()
            .stdout_eq(str![[r#"
dropped database `dbm_missing_[..]` ([..])

"#]]);
        run(&["status"]).assert().code(4);
    }
}

/// `sqlite://missing.db` without `?mode=rwc`: the file is not created, and the error says how to
/// create it; `database create` does.
#[test]
fn a_sqlite_file_that_does_not_exist_says_how_to_create_it() {
    let sandbox = project();
    let run = |args: &[&str]| {
        sandbox
            .cmd(args)
            .env("DATABASE_URL", "sqlite://missing.db")
            .arg("--dir")
            .arg("migrations")
    };
    run(&["upgrade"]).assert().code(4).stderr_eq(str![[r#"
error: cannot connect to the database (tried for [..] s): error returned from database: (code: 14) unable to open database file
help: the SQLite file `missing.db` does not exist: `sqlite://missing.db?mode=rwc` creates it on first use, and `cargo dbmigrate database create` creates it now

"#]]);
    assert!(!sandbox.path().join("missing.db").exists());
    sandbox
        .cmd(&["database", "create"])
        .env("DATABASE_URL", "sqlite://missing.db")
        .assert()
        .success()
        .stdout_eq("created database `missing.db` (SQLite)\n");
    run(&["upgrade"]).assert().success();
    sandbox
        .cmd(&["database", "drop", "--yes"])
        .env("DATABASE_URL", "sqlite://missing.db")
        .assert()
        .success();
    assert!(!sandbox.path().join("missing.db").exists());
}

/// A bare file path is not a URL: a usage error suggesting the SQLite URL for it.
#[test]
fn a_bare_file_path_is_shown_as_the_sqlite_url_it_means() {
    project()
        .cmd(&["upgrade", "--dir", "migrations"])
        .env("DATABASE_URL", "data/app.db")
        .assert()
        .code(2)
        .stderr_eq(str![[r#"
error: `data/app.db` is not a database URL scheme dbmigrate knows; use postgres://, mysql://, mariadb:// or sqlite:
help: a SQLite database is given by a URL: `sqlite://data/app.db?mode=rwc` (`mode=rwc` creates the file)

"#]]);
}

/// A PostgreSQL URL pointed at MariaDB's port: the error says the protocol does not match.
#[test]
fn a_postgres_url_at_a_mysql_port_says_the_protocols_differ() {
    let mysql = Server::MySql.url();
    let host = mysql.split_once('@').map_or("127.0.0.1:3306", |(_, rest)| {
        rest.split('/').next().unwrap()
    });
    project()
        .cmd(&["status", "--dir", "migrations", "--connect-timeout", "1"])
        .env("DATABASE_URL", format!("postgres://root@{host}/test"))
        .assert()
        .code(4)
        .stderr_eq(str![[r#"
error: cannot connect to the database (tried for [..] s): [..]
help: the server at [..]:3306 does not speak PostgreSQL's protocol: 3306 is MySQL/MariaDB's port; for that server use a mysql:// URL, for PostgreSQL its port (5432 by default)

"#]]);
}

/// Under `--format json`, an error is a JSON object on standard output: the exit code, a kind, the
/// message and the hints; standard error stays empty.
#[test]
fn errors_under_format_json_are_a_json_object_on_stdout() {
    project()
        .cmd(&["status", "--dir", "migrations", "--format", "json"])
        .env("DATABASE_URL", "sqlite://missing.db")
        .assert()
        .code(4)
        .stderr_eq("")
        .stdout_eq(str![[r#"
{
  "code": 4,
  "kind": "connect",
  "message": "cannot connect to the database (tried for [..] s): error returned from database: (code: 14) unable to open database file",
  "hints": [
    "the SQLite file `missing.db` does not exist: `sqlite://missing.db?mode=rwc` creates it on first use, and `cargo dbmigrate database create` creates it now"
  ]
}

"#]]);
    project()
        .cmd(&["upgrade", "--dir", "migrations", "--format", "json"])
        .env_remove("DATABASE_URL")
        .assert()
        .code(2)
        .stdout_eq(str![[r#"
{
  "code": 2,
  "kind": "usage",
  "message": "no database to connect to: neither --database-url nor DATABASE_URL (nor a .env file) gives one",
  "hints": [
    "pass --database-url postgres://... (or mysql://, sqlite://app.db?mode=rwc), or set DATABASE_URL in the environment or in a .env file"
  ]
}

"#]]);
}
