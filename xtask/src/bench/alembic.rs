//! Alembic, the Python peer: a virtualenv with pinned versions under the target directory (made once,
//! reused after), minimal Alembic projects, and running them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::databases::{Scratch, Server, require_tool};

/// The versions installed from PyPI; changing one makes the next run rebuild the virtualenv.
const PINNED: &[(&str, &str)] = &[
    ("alembic", "1.20.1"),
    ("SQLAlchemy", "2.1.9"),
    ("psycopg2-binary", "2.9.13"),
];

/// Prints the installed versions in the order of [`PINNED`], plus Python's.
const VERSIONS_PY: &str = "import sys, alembic, sqlalchemy, psycopg2\n\
print(alembic.__version__, sqlalchemy.__version__, psycopg2.__version__.split()[0], sys.version.split()[0])\n";

/// Runs `alembic upgrade <target>` inside the interpreter and prints how long the command took, so
/// the time excludes starting Python and importing Alembic (shown separately as start-up).
const TIMED_UPGRADE_PY: &str = "import sys, time\n\
from alembic import command\n\
from alembic.config import Config\n\
config = Config(sys.argv[1])\n\
started = time.perf_counter()\n\
command.upgrade(config, sys.argv[2])\n\
print(time.perf_counter() - started)\n";

/// An `env.py` with nothing but what `upgrade` needs: one engine, one connection, one transaction.
/// The database URL comes from `BENCH_SQLALCHEMY_URL`, so one project serves every fresh database.
const ENV_PY: &str = r#"import os

from alembic import context
from sqlalchemy import create_engine

engine = create_engine(os.environ["BENCH_SQLALCHEMY_URL"])
with engine.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
"#;

/// The virtualenv with Alembic, SQLAlchemy and psycopg2.
pub struct Alembic {
    venv: PathBuf,
    /// alembic, SQLAlchemy, psycopg2, Python.
    pub versions: [String; 4],
}

impl Alembic {
    /// The virtualenv under `target/bench/venv`, created and filled from PyPI if it is missing or has
    /// other versions.
    pub fn ensure(target_dir: &Path) -> anyhow::Result<Self> {
        let venv = target_dir.join("bench/venv");
        if let Ok(alembic) = Self::open(&venv) {
            return Ok(alembic);
        }
        require_tool(
            "python3",
            "the Alembic peer",
            "install Python 3 with the venv module, e.g. apt-get install python3-venv",
        )?;
        eprintln!(
            "  creating {} and installing {} from PyPI",
            venv.display(),
            PINNED
                .iter()
                .map(|(name, version)| format!("{name}=={version}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        if venv.exists() {
            std::fs::remove_dir_all(&venv)?;
        }
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .context("cannot start python3")?;
        if !status.success() {
            bail!(
                "`python3 -m venv {}` failed; install the venv module (apt-get install python3-venv)",
                venv.display()
            );
        }
        let status = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(
                PINNED
                    .iter()
                    .map(|(name, version)| format!("{name}=={version}")),
            )
            .status()
            .context("cannot start pip in the virtualenv")?;
        if !status.success() {
            bail!("installing Alembic from PyPI failed (is PyPI reachable?)");
        }
        Self::open(&venv)
    }

    fn open(venv: &Path) -> anyhow::Result<Self> {
        let output = Command::new(venv.join("bin/python"))
            .args(["-c", VERSIONS_PY])
            .stderr(Stdio::null())
            .output()?;
        if !output.status.success() {
            bail!("the virtualenv lacks a package");
        }
        let text = String::from_utf8(output.stdout)?;
        let found: Vec<&str> = text.split_whitespace().collect();
        let [alembic, sqlalchemy, psycopg2, python] = found[..] else {
            bail!("unexpected version output: {text}");
        };
        if [alembic, sqlalchemy, psycopg2] != [PINNED[0].1, PINNED[1].1, PINNED[2].1] {
            bail!("the virtualenv has other versions");
        }
        Ok(Self {
            venv: venv.to_path_buf(),
            versions: [alembic, sqlalchemy, psycopg2, python].map(String::from),
        })
    }

    /// Runs `alembic -c <project>/alembic.ini <arguments>` to completion with `environment` added;
    /// returns its standard output.
    pub fn run(
        &self,
        project: &Project,
        arguments: &[&str],
        environment: &[(&str, String)],
    ) -> anyhow::Result<String> {
        let output = Command::new(self.venv.join("bin/alembic"))
            .arg("-c")
            .arg(project.ini())
            .args(arguments)
            .envs(environment.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output()
            .context("cannot start alembic")?;
        if !output.status.success() {
            bail!(
                "`alembic {}` failed: {}",
                arguments.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Upgrades to `target` and returns the time `command.upgrade` took inside the interpreter
    /// (environment, connection, migration and commit; not Python's start-up or imports).
    pub fn timed_upgrade(
        &self,
        project: &Project,
        target: &str,
        environment: &[(&str, String)],
    ) -> anyhow::Result<Duration> {
        let output = Command::new(self.venv.join("bin/python"))
            .args(["-c", TIMED_UPGRADE_PY])
            .arg(project.ini())
            .arg(target)
            .envs(environment.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output()
            .context("cannot start the virtualenv's python")?;
        if !output.status.success() {
            bail!(
                "alembic upgrade {target} failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let seconds: f64 = text
            .trim()
            .lines()
            .last()
            .unwrap_or("")
            .parse()
            .with_context(|| format!("unexpected output of the timed upgrade: {text}"))?;
        Ok(Duration::from_secs_f64(seconds))
    }

    /// The wall time of a whole `alembic` process.
    pub fn time_process(
        &self,
        project: &Project,
        arguments: &[&str],
        environment: &[(&str, String)],
    ) -> anyhow::Result<(Duration, String)> {
        let started = Instant::now();
        let output = self.run(project, arguments, environment)?;
        Ok((started.elapsed(), output))
    }
}

/// An Alembic project directory: `alembic.ini`, `env.py` and `versions/`.
pub struct Project {
    pub dir: PathBuf,
}

impl Project {
    /// Writes `alembic.ini` and `env.py` in `dir`.
    pub fn create(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir.join("versions"))?;
        std::fs::write(
            dir.join("alembic.ini"),
            "[alembic]\nscript_location = %(here)s\npath_separator = os\n",
        )?;
        std::fs::write(dir.join("env.py"), ENV_PY)?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    fn ini(&self) -> PathBuf {
        self.dir.join("alembic.ini")
    }

    /// Writes `versions/<file>`.
    pub fn write_revision(&self, file: &str, text: &str) -> anyhow::Result<()> {
        std::fs::write(self.dir.join("versions").join(file), text)?;
        Ok(())
    }
}

/// SQLAlchemy's URL for a scratch database (psycopg2 for PostgreSQL).
pub fn sqlalchemy_url(scratch: &Scratch) -> anyhow::Result<String> {
    Ok(match scratch.server {
        Server::Postgres => scratch
            .url
            .replacen("postgres://", "postgresql+psycopg2://", 1),
        Server::Sqlite => format!("sqlite:///{}", scratch.sqlite_file().display()),
        Server::MariaDb => bail!("the Alembic peer is not set up for MariaDB"),
    })
}

/// A revision file: `revision`, `down_revision` (none, one, or a tuple for a merge), and the bodies.
pub fn revision_file(
    revision: &str,
    down: &[String],
    message: &str,
    imports: &str,
    upgrade: &str,
    downgrade: &str,
) -> String {
    let down_revision = match down {
        [] => "None".to_string(),
        [one] => format!("{one:?}"),
        many => format!(
            "({})",
            many.iter()
                .map(|d| format!("{d:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    format!(
        "\"\"\"{message}\"\"\"\n{imports}from alembic import op\n\n\
         revision = {revision:?}\ndown_revision = {down_revision}\nbranch_labels = None\ndepends_on = None\n\n\n\
         def upgrade():\n{upgrade}\n\n\ndef downgrade():\n{downgrade}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_files_name_one_parent_or_a_tuple_for_a_merge() {
        let merge = revision_file(
            "r100",
            &["r99".into(), "r98".into()],
            "revision 100",
            "",
            "    pass",
            "    pass",
        );
        assert!(
            merge.contains("down_revision = (\"r99\", \"r98\")\n"),
            "{merge}"
        );
        let base = revision_file("r1", &[], "revision 1", "", "    pass", "    pass");
        assert!(base.contains("down_revision = None\n"), "{base}");
    }
}
