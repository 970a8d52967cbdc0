//! `cargo dbmigrate database create|drop`: creates or drops the database a URL names, on
//! PostgreSQL (through its `postgres` maintenance database), MariaDB/MySQL (through the server
//! without a database) or SQLite (the file), as `sqlx database create|drop` does.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::str::FromStr as _;

use dbmigrate_runtime::Backend;
use dbmigrate_runtime::online::{ErrorKind, ErrorReport};
use sqlx::{ConnectOptions as _, Connection as _};

use crate::cli::{DatabaseAction, DatabaseArgs};
use crate::error::Error;
use crate::exit::Exit;
use crate::render::Output;

/// Creates or drops the database.
pub fn run(args: &DatabaseArgs, output: &mut Output) -> Result<Exit, Error> {
    let url = args.database_url.clone().ok_or(Error::NoDatabaseUrl)?;
    let backend = Backend::from_url(&url).ok_or_else(|| Error::InvalidArgument {
        message: format!(
            "`{}` is not a database URL; use postgres://, mysql://, mariadb:// or sqlite:",
            dbmigrate_runtime::redact_url(&url)
        ),
        help: (!url.contains(':'))
            .then(|| format!("a SQLite database is given by a URL: `sqlite://{url}?mode=rwc`")),
    })?;
    let drop = match &args.action {
        DatabaseAction::Create => false,
        DatabaseAction::Drop { yes } => {
            confirm(*yes, &url)?;
            true
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::io("start", "the async runtime")(source))?;
    let message = runtime
        .block_on(apply(backend, &url, drop))
        .map_err(|(kind, error)| failure(kind, &error, &url))?;
    output.line(message);
    Ok(Exit::Success)
}

/// `drop` deletes data: without `--yes` it asks on a terminal, and refuses elsewhere.
fn confirm(yes: bool, url: &str) -> Result<(), Error> {
    if yes {
        return Ok(());
    }
    let refused = || Error::InvalidArgument {
        message: format!(
            "`database drop` deletes {} and all its data; it needs confirmation",
            dbmigrate_runtime::redact_url(url)
        ),
        help: Some("add --yes to drop it without being asked".into()),
    };
    if !std::io::stdin().is_terminal() {
        return Err(refused());
    }
    eprint!(
        "drop {} and all its data? [y/N] ",
        dbmigrate_runtime::redact_url(url)
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(refused())
    }
}

fn failure(kind: ErrorKind, error: &sqlx::Error, url: &str) -> Error {
    let mut report = ErrorReport::new(kind, format!("{error}"));
    if kind == ErrorKind::Connect {
        report.message = format!("cannot connect to the database server: {error}");
        report.hints = ErrorReport::connect_hints(error, url);
    }
    Error::Online(report)
}

type Failure = (ErrorKind, sqlx::Error);

fn connecting(error: sqlx::Error) -> Failure {
    (ErrorKind::Connect, error)
}

fn refused(error: sqlx::Error) -> Failure {
    (ErrorKind::Database, error)
}

async fn apply(backend: Backend, url: &str, drop: bool) -> Result<String, Failure> {
    match backend {
        Backend::Postgres => postgres(url, drop).await,
        Backend::MySql => mysql(url, drop).await,
        Backend::Sqlite => sqlite(url, drop).await,
    }
}

/// `"name"`, quoted for PostgreSQL and SQLite; `` `name` `` for MySQL.
fn quoted(name: &str, quote: char) -> String {
    let doubled = name.replace(quote, &format!("{quote}{quote}"));
    format!("{quote}{doubled}{quote}")
}

async fn postgres(url: &str, drop: bool) -> Result<String, Failure> {
    let options = sqlx::postgres::PgConnectOptions::from_str(url).map_err(connecting)?;
    let name = options
        .get_database()
        .map(str::to_string)
        .unwrap_or_else(|| options.get_username().to_string());
    let mut admin = options
        .clone()
        .database("postgres")
        .connect()
        .await
        .map_err(connecting)?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .map_err(refused)?;
    let sql = match (drop, exists) {
        (false, true) => return Ok(format!("database `{name}` already exists (PostgreSQL)")),
        (true, false) => return Ok(format!("database `{name}` does not exist (PostgreSQL)")),
        (false, false) => format!("CREATE DATABASE {}", quoted(&name, '"')),
        (true, true) => format!("DROP DATABASE {}", quoted(&name, '"')),
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut admin)
        .await
        .map_err(refused)?;
    let _ = admin.close().await;
    Ok(done(drop, &name, "PostgreSQL"))
}

async fn mysql(url: &str, drop: bool) -> Result<String, Failure> {
    let url = url.replacen("mariadb:", "mysql:", 1);
    let options = sqlx::mysql::MySqlConnectOptions::from_str(&url).map_err(connecting)?;
    let Some(name) = options.get_database().map(str::to_string) else {
        return Err(refused(sqlx::Error::Configuration(
            "the URL names no database (mysql://user@host/NAME)".into(),
        )));
    };
    // The server itself, without the database the URL names (which may not exist).
    let (base, query) = url
        .split_once('?')
        .map_or((url.as_str(), None), |(b, q)| (b, Some(q)));
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    let server = match query {
        Some(query) => format!("{server}/?{query}"),
        None => format!("{server}/"),
    };
    let mut admin = sqlx::MySqlConnection::connect(&server)
        .await
        .map_err(connecting)?;
    let exists: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?",
    )
    .bind(&name)
    .fetch_one(&mut admin)
    .await
    .map_err(refused)?;
    let sql = match (drop, exists > 0) {
        (false, true) => return Ok(format!("database `{name}` already exists (MySQL/MariaDB)")),
        (true, false) => return Ok(format!("database `{name}` does not exist (MySQL/MariaDB)")),
        (false, false) => format!("CREATE DATABASE {}", quoted(&name, '`')),
        (true, true) => format!("DROP DATABASE {}", quoted(&name, '`')),
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut admin)
        .await
        .map_err(refused)?;
    let _ = admin.close().await;
    Ok(done(drop, &name, "MySQL/MariaDB"))
}

async fn sqlite(url: &str, drop: bool) -> Result<String, Failure> {
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).map_err(connecting)?;
    let file = options.get_filename().to_path_buf();
    let shown = file.display().to_string();
    if file.as_os_str().is_empty() || shown == ":memory:" {
        return Err(refused(sqlx::Error::Configuration(
            "an in-memory SQLite database has no file to create or drop".into(),
        )));
    }
    match (drop, file.exists()) {
        (false, true) => Ok(format!("database `{shown}` already exists (SQLite)")),
        (true, false) => Ok(format!("database `{shown}` does not exist (SQLite)")),
        (false, false) => {
            let connection = options
                .create_if_missing(true)
                .connect()
                .await
                .map_err(connecting)?;
            let _ = connection.close().await;
            Ok(done(false, &shown, "SQLite"))
        }
        (true, true) => {
            // The file and what SQLite and dbmigrate keep beside it.
            for suffix in ["", "-wal", "-shm", "-journal", "-dbmigrate.lock"] {
                let path = format!("{}{suffix}", file.display());
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                    Err(error) => return Err(refused(sqlx::Error::Io(error))),
                }
            }
            Ok(done(true, &shown, "SQLite"))
        }
    }
}

fn done(drop: bool, name: &str, backend: &str) -> String {
    if drop {
        format!("dropped database `{name}` ({backend})")
    } else {
        format!("created database `{name}` ({backend})")
    }
}
