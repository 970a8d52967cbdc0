//! MySQL/MariaDB specifics: the `GET_LOCK` named lock and who holds it.

use std::time::Duration;

use sqlx::MySqlConnection;

use super::lock::LockError;

/// Takes the named lock for `table` in the current database, waiting up to `timeout`; returns the
/// name, which unlocking needs.
pub(super) async fn lock(
    conn: &mut MySqlConnection,
    table: &str,
    timeout: Duration,
) -> Result<String, LockError> {
    // Lock names are limited to 64 characters, so the database and table are hashed into one.
    let (name, locked): (String, Option<i64>) = sqlx::query_as(
        "SELECT n, GET_LOCK(n, 0) FROM (SELECT CONCAT('dbmigrate:', SHA1(CONCAT(COALESCE(DATABASE(), ''), '.', ?))) AS n) s",
    )
    .bind(table)
    .fetch_one(&mut *conn)
    .await?;
    if locked == Some(1) {
        return Ok(name);
    }
    // GET_LOCK takes whole seconds on every server version we support.
    let seconds = i64::try_from(timeout.as_millis().div_ceil(1000))
        .unwrap_or(i64::MAX)
        .max(1);
    let (locked,): (Option<i64>,) = sqlx::query_as("SELECT GET_LOCK(?, ?)")
        .bind(&name)
        .bind(seconds)
        .fetch_one(&mut *conn)
        .await?;
    if locked == Some(1) {
        Ok(name)
    } else {
        Err(LockError::Timeout {
            holder: holder(conn, &name).await.unwrap_or(None),
        })
    }
}

/// Describes the connection holding lock `name`, from `IS_USED_LOCK` and the process list.
async fn holder(conn: &mut MySqlConnection, name: &str) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(i64, String, String, String, i64, String, String)> = sqlx::query_as(
        "SELECT CAST(ID AS SIGNED), COALESCE(USER, ''), COALESCE(HOST, ''), COALESCE(DB, ''), \
                CAST(COALESCE(TIME, 0) AS SIGNED), COALESCE(STATE, ''), COALESCE(LEFT(INFO, 160), '') \
         FROM information_schema.PROCESSLIST WHERE ID = IS_USED_LOCK(?)",
    )
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(id, user, host, db, seconds, state, info)| {
        let doing = if info.is_empty() {
            state
        } else {
            format!(
                "`{}`",
                info.split_whitespace().collect::<Vec<_>>().join(" ")
            )
        };
        format!(
            "MySQL connection {id} ({user}@{host}, database `{db}`), busy for {seconds} s: {doing}"
        )
    }))
}

pub(super) async fn unlock(conn: &mut MySqlConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT RELEASE_LOCK(?)")
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}
