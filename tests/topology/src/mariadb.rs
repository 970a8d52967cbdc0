//! MariaDB servers of the project's own: a data directory made once by `mariadb-install-db` (root
//! with an empty password, reachable over TCP from 127.0.0.1, as on the shared server) and copied
//! for each server, one `--defaults-file` per server; and the primary and read-only replica pair.
//!
//! The replica is a real one (binlog replication from a private primary, `read_only = ON`) rather
//! than a lone server with `read_only` set, so that tests see the schema arrive as a replica sees it:
//! after the primary commits, with a lag.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::process;
use crate::{Component, Error, MARIADB_PRIMARY_PORT, MARIADB_REPLICA_PORT, Topology};

/// The user the servers run as when this process is root.
const USER: &str = "mysql";

/// Makes (once, under its own lock) the data directory every server starts from.
pub(crate) fn template(topology: &Topology) -> Result<PathBuf, Error> {
    let _lock = topology.lock("mariadb-template")?;
    let template = topology.dir().join("mariadb-template");
    let complete = template.join("dbmigrate-complete");
    if complete.exists() {
        return Ok(template);
    }
    process::remove_dir(&template)?;
    let mut install = Command::new("mariadb-install-db");
    install
        .arg("--no-defaults")
        .arg(format!("--datadir={}", template.display()))
        // Creates root@localhost, root@127.0.0.1 and root@::1 with no password.
        .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
        .arg("--innodb-log-file-size=16M");
    if process::is_root() {
        install.arg(format!("--user={USER}"));
    }
    process::run(&mut install, "mariadb-install-db")?;
    process::write(&complete, "")?;
    Ok(template)
}

/// Copies the template into `<server>/data` (removing whatever was there) and writes `my.cnf`:
/// the common settings, then `extra`.
pub(crate) fn prepare(
    topology: &Topology,
    server: &Path,
    port: u16,
    extra: &str,
) -> Result<PathBuf, Error> {
    let template = template(topology)?;
    process::remove_dir(server)?;
    process::create_dir(server)?;
    let data = server.join("data");
    process::run(
        Command::new("cp").arg("-a").arg(&template).arg(&data),
        "copying the MariaDB data directory",
    )?;
    let _ = std::fs::remove_file(data.join("dbmigrate-complete"));
    let config = server.join("my.cnf");
    process::write(
        &config,
        &format!(
            "[mysqld]\n\
             datadir = {data}\n\
             port = {port}\n\
             bind-address = 127.0.0.1\n\
             socket = {server}/mysqld.sock\n\
             pid-file = {server}/mysqld.pid\n\
             log-error = {server}/error.log\n\
             skip-name-resolve\n\
             innodb_buffer_pool_size = 64M\n\
             innodb_log_file_size = 16M\n\
             innodb_flush_log_at_trx_commit = 2\n\
             max_connections = 300\n\
             {extra}",
            data = data.display(),
            server = server.display(),
        ),
    )?;
    process::chown(server, USER)?;
    Ok(config)
}

/// Starts `mariadbd --defaults-file=<config>` (plus `args`) in the background.
pub(crate) fn spawn(config: &Path, args: &[&str], what: &str) -> Result<(), Error> {
    let mut command = Command::new("mariadbd");
    command.arg(format!("--defaults-file={}", config.display()));
    if process::is_root() {
        command.arg(format!("--user={USER}"));
    }
    command.args(args);
    let log = config.with_file_name("mariadbd.out");
    process::spawn_detached(&mut command, &log, what)
}

/// Stops the server of `<server>/mysqld.pid`, if it is one of ours.
pub(crate) fn stop_server(server: &Path) -> Result<(), Error> {
    process::stop_pid_file(
        &server.join("mysqld.pid"),
        &server.join("my.cnf").display().to_string(),
        Duration::from_secs(20),
    )
}

pub(crate) fn start(topology: &Topology) -> Result<(), Error> {
    let dir = topology.component_dir(Component::MariaDbReplica);
    process::create_dir(&dir)?;
    let primary = prepare(
        topology,
        &dir.join("primary"),
        MARIADB_PRIMARY_PORT,
        &format!(
            "server_id = 1\nlog_bin = {}/primary/binlog\nbinlog_format = ROW\n",
            dir.display()
        ),
    )?;
    let replica = prepare(
        topology,
        &dir.join("replica"),
        MARIADB_REPLICA_PORT,
        &format!(
            "server_id = 2\nread_only = ON\nrelay_log = {}/replica/relay\nskip_slave_start\n",
            dir.display()
        ),
    )?;
    spawn(&primary, &[], "starting the MariaDB primary")?;
    spawn(&replica, &[], "starting the MariaDB replica")?;
    for port in [MARIADB_PRIMARY_PORT, MARIADB_REPLICA_PORT] {
        crate::wait_until(
            topology,
            Component::MariaDbReplica,
            Duration::from_secs(60),
            || process::mariadb(port, "SELECT 1").map(drop),
        )?;
    }
    // Both started from the same data directory and the primary's binary log starts with it, so
    // the replica reads it from its first event.
    process::mariadb(
        MARIADB_REPLICA_PORT,
        &format!(
            "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {MARIADB_PRIMARY_PORT}, \
             MASTER_USER = 'root', MASTER_PASSWORD = '', MASTER_CONNECT_RETRY = 1; START SLAVE"
        ),
    )
    .map_err(|detail| Error::Command {
        what: "starting replication on the MariaDB replica".into(),
        status: "failed".into(),
        output: detail,
    })?;
    crate::wait_until(
        topology,
        Component::MariaDbReplica,
        Duration::from_secs(30),
        health,
    )
}

/// Healthy: the primary writes, the replica is read-only and both replication threads run.
pub(crate) fn health() -> Result<(), String> {
    let primary = process::mariadb(MARIADB_PRIMARY_PORT, "SELECT @@read_only, @@log_bin")?;
    if primary != "0\t1" {
        return Err(format!(
            "the primary answers `{primary}` (expected writable, with a binary log)"
        ));
    }
    let replica = process::mariadb(MARIADB_REPLICA_PORT, "SELECT @@read_only")?;
    if replica != "1" {
        return Err("the replica is not read-only".into());
    }
    // ON while both the I/O and the SQL thread of the replication run.
    let running = process::mariadb(
        MARIADB_REPLICA_PORT,
        "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'SLAVE_RUNNING'",
    )?;
    if running != "ON" {
        return Err(format!(
            "the replica does not replicate (Slave_running {running})"
        ));
    }
    Ok(())
}

pub(crate) fn stop(topology: &Topology) -> Result<(), Error> {
    let dir = topology.component_dir(Component::MariaDbReplica);
    stop_server(&dir.join("replica"))?;
    stop_server(&dir.join("primary"))
}
