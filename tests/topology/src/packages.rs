//! The Debian packages the components need, found by the files they install, and installed with
//! apt-get when missing.

use std::path::Path;
use std::process::Command;

use crate::{Component, Error, process};

/// A file a component needs, and the package that ships it.
struct Need {
    file: &'static str,
    package: &'static str,
}

const PGBOUNCER: Need = Need {
    file: "/usr/sbin/pgbouncer",
    package: "pgbouncer",
};
const PSQL: Need = Need {
    file: "/usr/bin/psql",
    package: "postgresql-client",
};
const POSTGRES: Need = Need {
    file: "/usr/lib/postgresql/15/bin/initdb",
    package: "postgresql-15",
};
const PG_BASEBACKUP: Need = Need {
    file: "/usr/lib/postgresql/15/bin/pg_basebackup",
    package: "postgresql-15",
};
const MARIADBD: Need = Need {
    file: "/usr/sbin/mariadbd",
    package: "mariadb-server",
};
const INSTALL_DB: Need = Need {
    file: "/usr/bin/mariadb-install-db",
    package: "mariadb-server",
};
const MARIADB: Need = Need {
    file: "/usr/bin/mariadb",
    package: "mariadb-client",
};
const GALERA: Need = Need {
    file: "/usr/lib/galera/libgalera_smm.so",
    package: "galera-4",
};
const RSYNC: Need = Need {
    file: "/usr/bin/rsync",
    package: "rsync",
};
/// rsync SST finds its daemon's socket with `ss`.
const SS: Need = Need {
    file: "/usr/bin/ss",
    package: "iproute2",
};
const RUNUSER: Need = Need {
    file: "/usr/sbin/runuser",
    package: "util-linux",
};

fn needs(component: Component) -> &'static [Need] {
    match component {
        Component::PgBouncer => &[PGBOUNCER, PSQL, RUNUSER],
        Component::Galera => &[MARIADBD, INSTALL_DB, MARIADB, GALERA, RSYNC, SS],
        Component::PostgresStandby => &[POSTGRES, PG_BASEBACKUP, PSQL, RUNUSER],
        Component::MariaDbReplica => &[MARIADBD, INSTALL_DB, MARIADB],
    }
}

/// The packages missing for `components`, each once.
pub fn missing_packages(components: &[Component]) -> Vec<&'static str> {
    let mut missing = Vec::new();
    for need in components.iter().flat_map(|c| needs(*c)) {
        if !Path::new(need.file).exists() && !missing.contains(&need.package) {
            missing.push(need.package);
        }
    }
    missing
}

/// Installs the packages missing for `components` with apt-get (as root); returns what it installed.
pub fn install_missing_packages(components: &[Component]) -> Result<Vec<&'static str>, Error> {
    let missing = missing_packages(components);
    if missing.is_empty() {
        return Ok(missing);
    }
    process::run(
        Command::new("apt-get").args(["update", "-qq"]),
        "apt-get update",
    )?;
    process::run(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
        &format!("apt-get install {}", missing.join(" ")),
    )?;
    Ok(missing)
}

/// Fails, naming the package, when something `component` needs is not installed.
pub(crate) fn require(component: Component) -> Result<(), Error> {
    match needs(component)
        .iter()
        .find(|need| !Path::new(need.file).exists())
    {
        Some(need) => Err(Error::NotInstalled {
            program: need.file.to_string(),
            package: need.package,
        }),
        None => Ok(()),
    }
}
