//! A three-node MariaDB Galera cluster on one machine: `wsrep_on`, gcomm on 127.0.0.1 with distinct
//! ports per node, rsync SST, row-based binary log format and interleaved auto-increment locks (as
//! Galera requires); node 1 bootstraps the cluster (`--wsrep-new-cluster`), nodes 2 and 3 join it
//! by state transfer from it.

use std::path::PathBuf;
use std::time::Duration;

use crate::process;
use crate::{Component, Error, GALERA_NODES, Topology, mariadb};

fn node_dir(topology: &Topology, index: usize) -> PathBuf {
    topology
        .component_dir(Component::Galera)
        .join(format!("node{}", index + 1))
}

pub(crate) fn start(topology: &Topology) -> Result<(), Error> {
    process::create_dir(&topology.component_dir(Component::Galera))?;
    let members: Vec<String> = GALERA_NODES
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.gcomm))
        .collect();
    let mut configs = Vec::new();
    for (index, node) in GALERA_NODES.iter().enumerate() {
        let extra = format!(
            "binlog_format = ROW\n\
             innodb_autoinc_lock_mode = 2\n\
             default_storage_engine = InnoDB\n\
             wsrep_on = ON\n\
             wsrep_provider = /usr/lib/galera/libgalera_smm.so\n\
             wsrep_cluster_name = dbmigrate_topology\n\
             wsrep_cluster_address = gcomm://{members}\n\
             wsrep_node_name = node{number}\n\
             wsrep_node_address = 127.0.0.1\n\
             wsrep_provider_options = \"base_port={gcomm};gmcast.listen_addr=tcp://127.0.0.1:{gcomm};ist.recv_addr=127.0.0.1:{ist};gcache.size=64M\"\n\
             wsrep_sst_method = rsync\n\
             wsrep_sst_receive_address = 127.0.0.1:{sst}\n",
            members = members.join(","),
            number = index + 1,
            gcomm = node.gcomm,
            ist = node.ist,
            sst = node.sst,
        );
        configs.push(mariadb::prepare(
            topology,
            &node_dir(topology, index),
            node.sql,
            &extra,
        )?);
    }
    mariadb::spawn(
        &configs[0],
        &["--wsrep-new-cluster"],
        "starting Galera node 1",
    )?;
    crate::wait_until(topology, Component::Galera, Duration::from_secs(60), || {
        node_state(GALERA_NODES[0].sql).map(drop)
    })?;
    for (index, config) in configs.iter().enumerate().skip(1) {
        mariadb::spawn(config, &[], &format!("starting Galera node {}", index + 1))?;
    }
    crate::wait_until(
        topology,
        Component::Galera,
        Duration::from_secs(120),
        health,
    )
}

/// `(cluster size, ready, local state)` as a node reports them.
fn node_state(port: u16) -> Result<(u32, bool, String), String> {
    let text = process::mariadb(
        port,
        "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS \
         WHERE VARIABLE_NAME IN ('WSREP_CLUSTER_SIZE', 'WSREP_READY', 'WSREP_LOCAL_STATE_COMMENT')",
    )?;
    let value = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix('\t'))
            .unwrap_or("")
            .to_string()
    };
    let size = value("WSREP_CLUSTER_SIZE").parse().unwrap_or(0);
    Ok((
        size,
        value("WSREP_READY") == "ON",
        value("WSREP_LOCAL_STATE_COMMENT"),
    ))
}

/// Healthy: every node is synced, ready, and sees a cluster of three.
pub(crate) fn health() -> Result<(), String> {
    for (index, node) in GALERA_NODES.iter().enumerate() {
        let (size, ready, state) = node_state(node.sql)?;
        if size != 3 || !ready || state != "Synced" {
            return Err(format!(
                "node {} reports cluster size {size}, ready {ready}, state `{state}`",
                index + 1
            ));
        }
    }
    Ok(())
}

pub(crate) fn stop(topology: &Topology) -> Result<(), Error> {
    for index in (0..GALERA_NODES.len()).rev() {
        mariadb::stop_server(&node_dir(topology, index))?;
    }
    Ok(())
}
