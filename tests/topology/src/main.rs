//! `dbmigrate-topology`: starts, checks and stops the test topologies by hand.
//!
//! ```text
//! dbmigrate-topology up [COMPONENT...]      start what is not running (all by default), print the variables
//! dbmigrate-topology status [COMPONENT...]  say what is running and healthy
//! dbmigrate-topology down [COMPONENT...]    stop what this directory started
//! ```
//!
//! Components: pgbouncer, galera, postgres-standby, mariadb-replica.

use std::process::ExitCode;
use std::time::Instant;

use dbmigrate_topology::{Component, Topology};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let names: Vec<String> = args.collect();
    let mut components = Vec::new();
    for name in &names {
        match Component::from_name(name) {
            Some(component) => components.push(component),
            None => {
                eprintln!(
                    "error: unknown component `{name}`; use pgbouncer, galera, postgres-standby or mariadb-replica"
                );
                return ExitCode::from(2);
            }
        }
    }
    if components.is_empty() {
        components = Component::ALL.to_vec();
    }
    let topology = Topology::from_env();
    match command.as_str() {
        "up" => {
            let started = Instant::now();
            let results = topology.ensure_each(&components);
            let mut failed = false;
            for result in results {
                match result {
                    Ok(endpoints) => {
                        let (name, value) = endpoints.variable();
                        println!("{name}={value}");
                    }
                    Err(error) => {
                        eprintln!("error: {error}");
                        failed = true;
                    }
                }
            }
            eprintln!("ready in {:.1} s", started.elapsed().as_secs_f64());
            if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        "status" => {
            let mut healthy = true;
            for component in components {
                match topology.health(component) {
                    Ok(()) => println!("{}: running", component.name()),
                    Err(problem) => {
                        println!("{}: not running ({problem})", component.name());
                        healthy = false;
                    }
                }
            }
            if healthy {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        "down" => {
            let mut failed = false;
            for component in components {
                if let Err(error) = topology.stop(component) {
                    eprintln!("error: {error}");
                    failed = true;
                }
            }
            if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            eprintln!(
                "usage: dbmigrate-topology up|status|down [pgbouncer|galera|postgres-standby|mariadb-replica...]"
            );
            ExitCode::from(2)
        }
    }
}
