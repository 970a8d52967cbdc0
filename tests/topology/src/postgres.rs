//! A PostgreSQL primary and a streaming hot standby of its own: `initdb` with a `root` superuser and
//! trust authentication for 127.0.0.1 (replication included), `pg_basebackup -R` for the standby,
//! both run as the `postgres` user.

use std::path::Path;
use std::time::Duration;

use crate::process::{self, as_user};
use crate::{Component, Error, POSTGRES_PRIMARY_PORT, POSTGRES_STANDBY_PORT, Topology};

const BIN: &str = "/usr/lib/postgresql/15/bin";

pub(crate) fn start(topology: &Topology) -> Result<(), Error> {
    let dir = topology.component_dir(Component::PostgresStandby);
    process::remove_dir(&dir)?;
    process::create_dir(&dir)?;
    process::chown(&dir, "postgres")?;
    let primary = dir.join("primary");
    let standby = dir.join("standby");
    process::run(
        as_user("postgres", format!("{BIN}/initdb"))
            .arg("-D")
            .arg(&primary)
            .args([
                "-U",
                "root",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]),
        "initdb of the PostgreSQL primary",
    )?;
    // initdb's pg_hba.conf already trusts 127.0.0.1 for replication connections.
    append(
        &primary.join("postgresql.conf"),
        &format!(
            "\n# dbmigrate-topology\n\
             listen_addresses = '127.0.0.1'\n\
             port = {POSTGRES_PRIMARY_PORT}\n\
             unix_socket_directories = '{dir}'\n\
             wal_level = replica\n\
             max_wal_senders = 4\n\
             hot_standby = on\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             shared_buffers = 32MB\n\
             max_connections = 200\n",
            dir = dir.display()
        ),
    )?;
    pg_ctl_start(&primary, "the PostgreSQL primary")?;
    process::run(
        as_user("postgres", format!("{BIN}/pg_basebackup"))
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "root",
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
            ])
            .arg("-p")
            .arg(POSTGRES_PRIMARY_PORT.to_string())
            .arg("-D")
            .arg(&standby),
        "pg_basebackup of the standby",
    )?;
    // The copied configuration is the primary's; a later line wins.
    append(
        &standby.join("postgresql.conf"),
        &format!("port = {POSTGRES_STANDBY_PORT}\n"),
    )?;
    pg_ctl_start(&standby, "the PostgreSQL standby")?;
    crate::wait_until(
        topology,
        Component::PostgresStandby,
        Duration::from_secs(30),
        health,
    )
}

fn append(path: &Path, text: &str) -> Result<(), Error> {
    use std::io::Write as _;
    std::fs::File::options()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(Error::io("appending to", path))
}

fn pg_ctl_start(data: &Path, what: &str) -> Result<(), Error> {
    let log = data.with_extension("log");
    let mut command = as_user("postgres", format!("{BIN}/pg_ctl"));
    command
        .arg("-D")
        .arg(data)
        .arg("-l")
        .arg(&log)
        .args(["-w", "-t", "60", "start"]);
    // Its own process group, so that a Ctrl-C meant for the caller does not stop the server.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    process::run(&mut command, &format!("starting {what}")).map(drop)
}

/// Healthy: the primary writes, the standby is in recovery, and it streams from the primary.
pub(crate) fn health() -> Result<(), String> {
    let primary = process::psql(
        POSTGRES_PRIMARY_PORT,
        "postgres",
        "SELECT pg_is_in_recovery(), (SELECT COUNT(*) FROM pg_stat_replication WHERE state = 'streaming')",
    )?;
    if primary != "f|1" {
        return Err(format!(
            "the primary answers `{primary}` (expected not in recovery, one streaming standby)"
        ));
    }
    let standby = process::psql(
        POSTGRES_STANDBY_PORT,
        "postgres",
        "SELECT pg_is_in_recovery()",
    )?;
    if standby != "t" {
        return Err("the standby is not in recovery".into());
    }
    Ok(())
}

pub(crate) fn stop(topology: &Topology) -> Result<(), Error> {
    let dir = topology.component_dir(Component::PostgresStandby);
    for data in [dir.join("standby"), dir.join("primary")] {
        if data.join("postmaster.pid").exists() {
            // `immediate`: the data is thrown away next; a stale pid file makes pg_ctl fail, which
            // is fine, as the directory is removed before the next start.
            let _ = process::run(
                as_user("postgres", format!("{BIN}/pg_ctl"))
                    .arg("-D")
                    .arg(&data)
                    .args(["-m", "immediate", "-w", "stop"]),
                "stopping PostgreSQL",
            );
        }
    }
    Ok(())
}
