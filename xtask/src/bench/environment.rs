//! What the figures were measured on: the machine, and the version of every tool involved.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use tokio::runtime::Runtime;

use super::alembic::Alembic;
use super::databases::{Server, require_tool};

/// The first line of `program --version`, or why there is none.
fn tool_version(program: &str) -> String {
    require_tool(program, "the version table", "")
        .map(|v| v.lines().next().unwrap_or("").to_string())
        .unwrap_or_else(|e| format!("unavailable: {e}"))
}

fn proc_field(file: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines()
        .find(|line| line.starts_with(key))
        .and_then(|line| line.split_once(':'))
        .map(|(_, value)| value.trim().to_string())
}

/// `(name, version)` of a crate in the workspace's lock file.
fn locked_version(lock: &str, name: &str) -> String {
    let needle = format!("name = \"{name}\"\nversion = \"");
    lock.find(&needle)
        .and_then(|at| {
            let rest = &lock[at + needle.len()..];
            rest.find('"').map(|end| rest[..end].to_string())
        })
        .unwrap_or_else(|| "not in Cargo.lock".to_string())
}

/// The machine and versions section of BENCHMARKS.md.
pub fn describe(
    runtime: &Runtime,
    alembic: Option<&Alembic>,
    workspace: &Path,
) -> anyhow::Result<String> {
    let cpu = proc_field("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let memory = proc_field("/proc/meminfo", "MemTotal")
        .and_then(|kb| kb.trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or_else(
            || "unknown".to_string(),
            |kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0),
        );
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".to_string(), |k| k.trim().to_string());
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|e| format!("unavailable: {e}"));
    let lock = std::fs::read_to_string(workspace.join("Cargo.lock")).unwrap_or_default();
    let server = |server: Server| {
        runtime
            .block_on(server.version())
            .unwrap_or_else(|e| format!("unavailable: {e:#}"))
    };

    let mut out = String::new();
    let _ = writeln!(out, "| | |\n| --- | --- |");
    let _ = writeln!(out, "| CPU | {cpu} |");
    let _ = writeln!(out, "| cores | {cores} |");
    let _ = writeln!(out, "| memory | {memory} |");
    let _ = writeln!(out, "| kernel | Linux {kernel} |");
    let _ = writeln!(out, "| rustc | {rustc} |");
    let _ = writeln!(
        out,
        "| build | release profile (opt-level 3): `cargo xtask bench` re-runs itself with `--release` |"
    );
    let _ = writeln!(out, "| PostgreSQL server | {} |", server(Server::Postgres));
    let _ = writeln!(out, "| MariaDB server | {} |", server(Server::MariaDb));
    let _ = writeln!(out, "| SQLite library | {} |", server(Server::Sqlite));
    let _ = writeln!(out, "| psql | {} |", tool_version("psql"));
    let _ = writeln!(out, "| mariadb client | {} |", tool_version("mariadb"));
    let _ = writeln!(out, "| sqlite3 shell | {} |", tool_version("sqlite3"));
    for name in [
        "refinery",
        "refinery-core",
        "tokio-postgres",
        "mysql_async",
        "rusqlite",
        "sqlx",
    ] {
        let _ = writeln!(out, "| {name} | {} |", locked_version(&lock, name));
    }
    if let Some(alembic) = alembic {
        let [alembic_version, sqlalchemy, psycopg2, python] = &alembic.versions;
        let _ = writeln!(out, "| Python | {python} |");
        let _ = writeln!(out, "| alembic | {alembic_version} |");
        let _ = writeln!(out, "| SQLAlchemy | {sqlalchemy} |");
        let _ = writeln!(out, "| psycopg2-binary | {psycopg2} |");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_come_from_the_lock_file() {
        let lock = "[[package]]\nname = \"sqlx\"\nversion = \"0.9.0\"\nsource = \"x\"\n";
        assert_eq!(locked_version(lock, "sqlx"), "0.9.0");
        assert_eq!(locked_version(lock, "refinery"), "not in Cargo.lock");
    }
}
