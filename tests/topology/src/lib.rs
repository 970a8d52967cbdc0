//! Production topologies for dbmigrate's tests, started by the project itself on private ports and
//! under a private directory, never touching the shared servers on 5432 and 3306:
//!
//! - [`Component::PgBouncer`]: PgBouncer (Debian's package) in `pool_mode = transaction` in front of
//!   the local PostgreSQL (127.0.0.1:5432), reaching every database on it;
//! - [`Component::Galera`]: a three-node MariaDB Galera cluster (rsync SST), every node writable;
//! - [`Component::PostgresStandby`]: a PostgreSQL primary and a streaming hot standby of its own;
//! - [`Component::MariaDbReplica`]: a MariaDB primary and a replica of it with `read_only = ON`.
//!
//! [`Topology::ensure`] is idempotent and safe to call from many processes at once: under a file
//! lock, a component that is already running and healthy is reused as it is; one that is partly
//! running, or left stale pid files behind, is stopped and started afresh. `cargo xtask test` starts
//! them all (and installs the Debian packages they need) before the suite; the test-support crate
//! starts one on demand when a test needs it and the environment does not name it.

mod galera;
mod mariadb;
mod packages;
mod pgbouncer;
mod ports;
mod postgres;
mod process;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use packages::{install_missing_packages, missing_packages};
pub use ports::*;

/// The directory used when `DBMIGRATE_TOPOLOGY_DIR` is not set. It is machine-wide rather than in
/// a worktree's `target/`, because the ports are machine-wide: every checkout on the machine finds
/// the same servers on the same ports, with the pid files and logs that describe them, and the
/// `postgres` and `mysql` users can reach it wherever the checkout lives.
pub const DEFAULT_DIR: &str = "/var/tmp/dbmigrate-topology";

/// One topology the tests need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Component {
    /// PgBouncer in transaction pooling in front of the local PostgreSQL.
    PgBouncer,
    /// A three-node MariaDB Galera cluster.
    Galera,
    /// A PostgreSQL primary and its streaming standby.
    PostgresStandby,
    /// A MariaDB primary and a read-only replica of it.
    MariaDbReplica,
}

impl Component {
    /// Every component, in the order they are reported.
    pub const ALL: [Component; 4] = [
        Component::PgBouncer,
        Component::Galera,
        Component::PostgresStandby,
        Component::MariaDbReplica,
    ];

    /// The short name used for files, logs and the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::PgBouncer => "pgbouncer",
            Self::Galera => "galera",
            Self::PostgresStandby => "postgres-standby",
            Self::MariaDbReplica => "mariadb-replica",
        }
    }

    /// The component a short name names.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The environment variable that hands the component's URLs to the tests: one URL, or several
    /// separated by commas (see [`Endpoints::urls`] for their order).
    pub fn variable(self) -> &'static str {
        match self {
            Self::PgBouncer => "DBMIGRATE_TEST_PGBOUNCER_URLS",
            Self::Galera => "DBMIGRATE_TEST_GALERA_URLS",
            Self::PostgresStandby => "DBMIGRATE_TEST_POSTGRES_STANDBY_URLS",
            Self::MariaDbReplica => "DBMIGRATE_TEST_MARIADB_REPLICA_URLS",
        }
    }
}

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::PgBouncer => "PgBouncer (transaction pooling)",
            Self::Galera => "the Galera cluster",
            Self::PostgresStandby => "the PostgreSQL primary and standby",
            Self::MariaDbReplica => "the MariaDB primary and read-only replica",
        })
    }
}

/// Where a running component answers. Each URL names the server's administrative database; tests
/// replace it with a database of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The component.
    pub component: Component,
    /// PgBouncer: PgBouncer, then the PostgreSQL server behind it. Galera: nodes 1, 2 and 3.
    /// Standby and replica: the primary, then the standby or replica.
    pub urls: Vec<String>,
}

impl Endpoints {
    /// The endpoints of a component as this crate starts it.
    pub fn of(component: Component) -> Self {
        let urls = match component {
            Component::PgBouncer => vec![
                postgres_url(PGBOUNCER_PORT),
                postgres_url(pgbouncer::BACKEND_PORT),
            ],
            Component::Galera => GALERA_NODES.iter().map(|n| mysql_url(n.sql)).collect(),
            Component::PostgresStandby => vec![
                postgres_url(POSTGRES_PRIMARY_PORT),
                postgres_url(POSTGRES_STANDBY_PORT),
            ],
            Component::MariaDbReplica => vec![
                mysql_url(MARIADB_PRIMARY_PORT),
                mysql_url(MARIADB_REPLICA_PORT),
            ],
        };
        Self { component, urls }
    }

    /// The endpoints the environment names for `component`, if it names them.
    pub fn from_env(component: Component) -> Option<Self> {
        Self::from_list(component, &std::env::var(component.variable()).ok()?)
    }

    /// The endpoints a comma-separated list of URLs names, if it names any.
    pub fn from_list(component: Component, value: &str) -> Option<Self> {
        let urls: Vec<String> = value
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(String::from)
            .collect();
        (!urls.is_empty()).then_some(Self { component, urls })
    }

    /// The variable and value that hand these endpoints to the tests.
    pub fn variable(&self) -> (&'static str, String) {
        (self.component.variable(), self.urls.join(","))
    }
}

fn postgres_url(port: u16) -> String {
    format!("postgres://root@127.0.0.1:{port}/postgres")
}

fn mysql_url(port: u16) -> String {
    format!("mysql://root@127.0.0.1:{port}/mysql")
}

/// Why a component could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A program the component needs is not installed.
    #[error(
        "`{program}` is not installed (Debian package `{package}`); run `cargo xtask test`, which installs \
         what is missing, or `apt-get install -y {package}`"
    )]
    NotInstalled {
        /// The program or file looked for.
        program: String,
        /// The Debian package that provides it.
        package: &'static str,
    },
    /// A command failed.
    #[error("{what} failed ({status}): {output}")]
    Command {
        /// What was being done.
        what: String,
        /// How the command ended.
        status: String,
        /// What it printed.
        output: String,
    },
    /// A port the component needs answers, but not as this component.
    #[error(
        "127.0.0.1:{port} is taken by something that is not {component}, healthy; stop it, then run again"
    )]
    PortTaken {
        /// The component.
        component: Component,
        /// The port.
        port: u16,
    },
    /// The component did not become healthy in time.
    #[error("{component} was not ready after {:.0} s: {detail} (logs in {})", waited.as_secs_f64(), dir.display())]
    NotReady {
        /// The component.
        component: Component,
        /// How long it was waited for.
        waited: Duration,
        /// What was last seen.
        detail: String,
        /// Where its logs are.
        dir: PathBuf,
    },
    /// A file or directory could not be used.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}

/// The topologies under one directory.
#[derive(Debug, Clone)]
pub struct Topology {
    dir: PathBuf,
}

impl Topology {
    /// The topologies under `DBMIGRATE_TOPOLOGY_DIR`, or [`DEFAULT_DIR`].
    pub fn from_env() -> Self {
        let dir = std::env::var_os("DBMIGRATE_TOPOLOGY_DIR")
            .map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from);
        Self::at(dir)
    }

    /// The topologies under `dir`.
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory holding data directories, configuration, pid files and logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory of one component.
    pub fn component_dir(&self, component: Component) -> PathBuf {
        self.dir.join(component.name())
    }

    /// Makes sure `component` is running and healthy, starting it (afresh) if it is not, and says
    /// where it answers. Holds the component's file lock meanwhile, so that concurrent callers in
    /// any process wait for one start instead of racing.
    pub fn ensure(&self, component: Component) -> Result<Endpoints, Error> {
        let _lock = self.lock(component.name())?;
        if self.health(component).is_ok() {
            return Ok(Endpoints::of(component));
        }
        packages::require(component)?;
        self.stop_unlocked(component)?;
        for port in ports::of(component) {
            if process::listening(port) {
                return Err(Error::PortTaken { component, port });
            }
        }
        match component {
            Component::PgBouncer => pgbouncer::start(self),
            Component::Galera => galera::start(self),
            Component::PostgresStandby => postgres::start(self),
            Component::MariaDbReplica => mariadb::start(self),
        }?;
        Ok(Endpoints::of(component))
    }

    /// [`Topology::ensure`] for each of `components`, started side by side; one result each, in order.
    pub fn ensure_each(&self, components: &[Component]) -> Vec<Result<Endpoints, Error>> {
        std::thread::scope(|scope| {
            let started: Vec<_> = components
                .iter()
                .map(|&component| scope.spawn(move || self.ensure(component)))
                .collect();
            started
                .into_iter()
                .map(|handle| handle.join().expect("a start thread panicked"))
                .collect()
        })
    }

    /// Whether `component` is running and healthy; the error says what is wrong.
    pub fn health(&self, component: Component) -> Result<(), String> {
        match component {
            Component::PgBouncer => pgbouncer::health(),
            Component::Galera => galera::health(),
            Component::PostgresStandby => postgres::health(),
            Component::MariaDbReplica => mariadb::health(),
        }
    }

    /// Stops the processes of `component` that this directory's pid files name.
    pub fn stop(&self, component: Component) -> Result<(), Error> {
        let _lock = self.lock(component.name())?;
        self.stop_unlocked(component)
    }

    fn stop_unlocked(&self, component: Component) -> Result<(), Error> {
        match component {
            Component::PgBouncer => pgbouncer::stop(self),
            Component::Galera => galera::stop(self),
            Component::PostgresStandby => postgres::stop(self),
            Component::MariaDbReplica => mariadb::stop(self),
        }
    }

    /// Takes the file lock `<dir>/<name>.lock`, waiting for another holder (in any process).
    pub(crate) fn lock(&self, name: &str) -> Result<File, Error> {
        process::create_dir(&self.dir)?;
        let path = self.dir.join(format!("{name}.lock"));
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(Error::io("opening the lock file", &path))?;
        file.lock().map_err(Error::io("locking", &path))?;
        Ok(file)
    }
}

/// Polls `check` until it says ready, or fails with the last thing it saw once `timeout` passed.
pub(crate) fn wait_until(
    topology: &Topology,
    component: Component,
    timeout: Duration,
    mut check: impl FnMut() -> Result<(), String>,
) -> Result<(), Error> {
    let started = Instant::now();
    loop {
        match check() {
            Ok(()) => return Ok(()),
            Err(detail) if started.elapsed() >= timeout => {
                return Err(Error::NotReady {
                    component,
                    waited: started.elapsed(),
                    detail,
                    dir: topology.component_dir(component),
                });
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_travel_through_one_variable_each() {
        for component in Component::ALL {
            assert_eq!(Component::from_name(component.name()), Some(component));
            let endpoints = Endpoints::of(component);
            let (variable, value) = endpoints.variable();
            assert_eq!(variable, component.variable());
            assert_eq!(Endpoints::from_list(component, &value), Some(endpoints));
        }
        assert_eq!(Endpoints::from_list(Component::Galera, " , "), None);
        assert_eq!(Endpoints::of(Component::Galera).urls.len(), 3);
    }

    #[test]
    fn no_port_is_used_twice_or_collides_with_the_shared_servers() {
        let mut ports: Vec<u16> = Component::ALL.into_iter().flat_map(ports::of).collect();
        ports.extend(GALERA_NODES.iter().map(|n| n.sst));
        let count = ports.len();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), count, "a port is used twice");
        for shared in [5432, 3306, 6432, 4567, 4568, 4444] {
            assert!(!ports.contains(&shared), "{shared}");
        }
    }
}
