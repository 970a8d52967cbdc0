//! PgBouncer in transaction pooling in front of the local PostgreSQL, as production runs it: one
//! wildcard database entry so every per-test database is reachable, trust authentication with an
//! auth_file naming the user, and PgBouncer's defaults otherwise (`server_reset_query` only in
//! session mode, `server_lifetime` one hour), so what leaks on a pooled server connection stays.

use std::time::Duration;

use crate::process::{self, as_user};
use crate::{Component, Error, PGBOUNCER_PORT, Topology};

/// The PostgreSQL server PgBouncer sends clients to: the shared local one.
pub(crate) const BACKEND_PORT: u16 = 5432;

/// Server connections per database and user: fewer than the clients a race starts, so clients
/// share server connections as they do in production.
const POOL_SIZE: u16 = 8;

pub(crate) fn start(topology: &Topology) -> Result<(), Error> {
    let dir = topology.component_dir(Component::PgBouncer);
    process::remove_dir(&dir)?;
    process::create_dir(&dir)?;
    let config = dir.join("pgbouncer.ini");
    process::write(&dir.join("userlist.txt"), "\"root\" \"\"\n")?;
    process::write(
        &config,
        &format!(
            "[databases]\n\
             * = host=127.0.0.1 port={BACKEND_PORT}\n\
             \n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {PGBOUNCER_PORT}\n\
             unix_socket_dir =\n\
             pidfile = {dir}/pgbouncer.pid\n\
             logfile = {dir}/pgbouncer.log\n\
             auth_type = trust\n\
             auth_file = {dir}/userlist.txt\n\
             admin_users = root\n\
             pool_mode = transaction\n\
             default_pool_size = {POOL_SIZE}\n\
             max_client_conn = 1000\n\
             ; sqlx sends extra_float_digits at startup, which PgBouncer does not track\n\
             ignore_startup_parameters = extra_float_digits\n",
            dir = dir.display(),
        ),
    )?;
    process::chown(&dir, "postgres")?;
    // `-d` daemonizes once the listening socket is open, so the command returns when it is ready.
    process::run(
        as_user("postgres", "pgbouncer").arg("-d").arg(&config),
        "starting PgBouncer",
    )?;
    crate::wait_until(
        topology,
        Component::PgBouncer,
        Duration::from_secs(20),
        health,
    )
}

/// Healthy: the admin console says transaction pooling, and a query reaches PostgreSQL through it.
pub(crate) fn health() -> Result<(), String> {
    let mode = process::psql(
        PGBOUNCER_PORT,
        "pgbouncer",
        "SHOW CONFIG", // key|value|default|changeable
    )?;
    let transaction = mode.lines().any(|line| {
        let mut fields = line.split('|');
        fields.next() == Some("pool_mode") && fields.next() == Some("transaction")
    });
    if !transaction {
        return Err(format!(
            "127.0.0.1:{PGBOUNCER_PORT} is not PgBouncer in transaction pooling"
        ));
    }
    process::psql(PGBOUNCER_PORT, "postgres", "SELECT 1").map(drop)
}

pub(crate) fn stop(topology: &Topology) -> Result<(), Error> {
    let dir = topology.component_dir(Component::PgBouncer);
    process::stop_pid_file(
        &dir.join("pgbouncer.pid"),
        &dir.join("pgbouncer.ini").display().to_string(),
        Duration::from_secs(5),
    )
}
