//! The private ports every component listens on, all on 127.0.0.1, apart from the shared servers'
//! 5432 and 3306 and from the packages' defaults (PgBouncer 6432, Galera 4567/4568/4444), so a
//! system service installed with a package never collides with them.

use crate::Component;

/// PgBouncer.
pub const PGBOUNCER_PORT: u16 = 16432;
/// The PostgreSQL primary of the standby pair.
pub const POSTGRES_PRIMARY_PORT: u16 = 15433;
/// The PostgreSQL standby.
pub const POSTGRES_STANDBY_PORT: u16 = 15434;
/// The MariaDB primary of the replica pair.
pub const MARIADB_PRIMARY_PORT: u16 = 13310;
/// The read-only MariaDB replica.
pub const MARIADB_REPLICA_PORT: u16 = 13311;

/// The ports of one Galera node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GaleraNode {
    /// SQL clients.
    pub sql: u16,
    /// Group communication (gcomm `base_port`).
    pub gcomm: u16,
    /// Incremental state transfer.
    pub ist: u16,
    /// State snapshot transfer (the rsync daemon of a joining node).
    pub sst: u16,
}

/// The three Galera nodes.
pub const GALERA_NODES: [GaleraNode; 3] = [
    GaleraNode {
        sql: 13307,
        gcomm: 14567,
        ist: 14568,
        sst: 14444,
    },
    GaleraNode {
        sql: 13308,
        gcomm: 14577,
        ist: 14578,
        sst: 14454,
    },
    GaleraNode {
        sql: 13309,
        gcomm: 14587,
        ist: 14588,
        sst: 14464,
    },
];

/// Every port a component listens on while it runs.
pub(crate) fn of(component: Component) -> Vec<u16> {
    match component {
        Component::PgBouncer => vec![PGBOUNCER_PORT],
        Component::Galera => GALERA_NODES
            .iter()
            .flat_map(|n| [n.sql, n.gcomm, n.ist])
            .collect(),
        Component::PostgresStandby => vec![POSTGRES_PRIMARY_PORT, POSTGRES_STANDBY_PORT],
        Component::MariaDbReplica => vec![MARIADB_PRIMARY_PORT, MARIADB_REPLICA_PORT],
    }
}
