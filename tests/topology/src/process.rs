//! Running the servers' programs: as their own system user when this process is root, detached
//! from this process so they outlive it, and stopped only through the pid files they wrote.

use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Error;

/// Whether this process runs as root (and so must hand the servers to their own users).
pub(crate) fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `program` run as `user` when this process is root (servers refuse to run as root), as this
/// process's user otherwise.
pub(crate) fn as_user(user: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", user, "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Runs a command to its end and returns what it printed; an error with its output if it failed.
pub(crate) fn run(command: &mut Command, what: &str) -> Result<String, Error> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Command {
            what: what.to_string(),
            status: "could not start".into(),
            output: e.to_string(),
        })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(Error::Command {
            what: what.to_string(),
            status: output.status.to_string(),
            output: text.trim().to_string(),
        })
    }
}

/// Starts a long-running server in a process group of its own (so a Ctrl-C meant for the caller
/// does not reach it), with no terminal and its output appended to `log`, and leaves it running.
pub(crate) fn spawn_detached(command: &mut Command, log: &Path, what: &str) -> Result<(), Error> {
    let open = || {
        std::fs::File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(Error::io("opening the log", log))
    };
    command
        .stdin(Stdio::null())
        .stdout(open()?)
        .stderr(open()?)
        .process_group(0)
        .spawn()
        .map_err(|e| Error::Command {
            what: what.to_string(),
            status: "could not start".into(),
            output: e.to_string(),
        })?;
    Ok(())
}

/// Creates a directory (and its parents) that the servers' users can traverse.
pub(crate) fn create_dir(path: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(path).map_err(Error::io("creating", path))
}

/// Removes a directory and everything in it, if it exists.
pub(crate) fn remove_dir(path: &Path) -> Result<(), Error> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io("removing", path)(e)),
        _ => Ok(()),
    }
}

/// Writes a file.
pub(crate) fn write(path: &Path, text: &str) -> Result<(), Error> {
    std::fs::write(path, text).map_err(Error::io("writing", path))
}

/// Hands `path` (recursively) to `user` when this process is root.
pub(crate) fn chown(path: &Path, user: &str) -> Result<(), Error> {
    if !is_root() {
        return Ok(());
    }
    run(
        Command::new("chown")
            .arg("-R")
            .arg(format!("{user}:"))
            .arg(path),
        &format!("handing {} to {user}", path.display()),
    )
    .map(drop)
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
pub(crate) fn listening(port: u16) -> bool {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&address, Duration::from_millis(300)).is_ok()
}

/// Stops the process a pid file names, if it is alive and its command line contains `marker` (so a
/// recycled pid never gets a signal meant for a server of ours): SIGTERM, then SIGKILL after
/// `grace`. Removes the pid file.
pub(crate) fn stop_pid_file(pid_file: &Path, marker: &str, grace: Duration) -> Result<(), Error> {
    let Ok(text) = std::fs::read_to_string(pid_file) else {
        return Ok(());
    };
    if let Ok(pid) = text.trim().parse::<u32>()
        && is_ours(pid, marker)
    {
        signal(pid, "TERM");
        let started = Instant::now();
        while alive(pid) && started.elapsed() < grace {
            std::thread::sleep(Duration::from_millis(50));
        }
        if alive(pid) {
            signal(pid, "KILL");
            while alive(pid) && started.elapsed() < grace * 2 {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    match std::fs::remove_file(pid_file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::io("removing the stale pid file", pid_file)(e))
        }
        _ => Ok(()),
    }
}

/// Whether `pid` is a live process whose command line contains `marker`.
fn is_ours(pid: u32, marker: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(marker))
}

/// Whether `pid` is alive (a zombie, dead but not reaped by its parent, counts as gone).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// One query through `psql` on 127.0.0.1:`port` as root, unaligned and without headers.
pub(crate) fn psql(port: u16, database: &str, sql: &str) -> Result<String, String> {
    let output = Command::new("psql")
        .args(["-X", "-A", "-t", "-q", "-h", "127.0.0.1", "-U", "root"])
        .arg("-p")
        .arg(port.to_string())
        .arg("-d")
        .arg(database)
        .arg("-c")
        .arg(sql)
        .env("PGCONNECT_TIMEOUT", "3")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        Err(format!(
            "127.0.0.1:{port}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// One query through the `mariadb` client on 127.0.0.1:`port` as root, tab-separated, no headers.
pub(crate) fn mariadb(port: u16, sql: &str) -> Result<String, String> {
    let output = Command::new("mariadb")
        .args([
            "--no-defaults",
            "--protocol=tcp",
            "-h",
            "127.0.0.1",
            "-u",
            "root",
            "-N",
            "-B",
            "--connect-timeout=3",
        ])
        .arg("-P")
        .arg(port.to_string())
        .arg("-e")
        .arg(sql)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run mariadb: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        Err(format!(
            "127.0.0.1:{port}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}
