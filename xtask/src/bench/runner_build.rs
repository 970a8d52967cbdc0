//! Workload 6: the first `cargo dbmigrate upgrade` of a package with a Rust revision, right after
//! `cargo build` of the package, against the package's own incremental rebuild (the limit: what the
//! runner cannot avoid compiling is the revisions, the runtime's glue and a link).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, bail};

use super::measure::{Bound, Contender, Role, Sample, Table, Targets, alternate};

pub const DESCRIPTION: &str = "A package outside the workspace (dbmigrate-runtime with the `sqlite` \
feature, tokio, a build script embedding its revisions) with one SQL and one Rust revision: each round \
gives it a new name and runs `cargo build` (untimed), then times the first `cargo dbmigrate upgrade` \
against a new SQLite database, which writes and builds the runner for the Rust revision in the \
package's own target directory and runs it. The limit is `cargo build` of the package after its \
`main.rs` changed: compiling the package's own code and linking it, with every dependency already \
built. Target: at most 20 s on this 2-core machine (the issue's), about what the app's own \
rebuild costs.\n";

fn cargo(target: &Path) -> Command {
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_NET_OFFLINE", "true")
        .stdin(Stdio::null());
    // As in check.rs: the rustc beside this cargo, not rustup's proxy.
    let rustc = Path::new(env!("CARGO")).with_file_name("rustc");
    if std::env::var_os("RUSTC").is_none() && rustc.is_file() {
        cargo.env("RUSTC", rustc);
    }
    cargo
}

/// Writes the package named `name` in `dir`.
fn write_package(dir: &Path, name: &str) -> anyhow::Result<()> {
    let runtime = super::workspace_root().join("dbmigrate-runtime");
    let runtime = runtime.to_string_lossy();
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::create_dir_all(dir.join("migrations"))?;
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n\n\
             [dependencies]\ndbmigrate-runtime = {{ path = \"{runtime}\", features = [\"sqlite\"] }}\n\
             tokio = {{ version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }}\n\n\
             [build-dependencies]\ndbmigrate-runtime = {{ path = \"{runtime}\" }}\n"
        ),
    )?;
    std::fs::write(
        dir.join("build.rs"),
        "fn main() {\n    dbmigrate_runtime::build::embed();\n}\n",
    )?;
    std::fs::write(
        dir.join("src/main.rs"),
        "static MIGRATIONS: dbmigrate_runtime::Embedded = dbmigrate_runtime::include_migrations!();\n\n\
         #[tokio::main]\nasync fn main() {\n    \
         let pool = dbmigrate_runtime::BackendPool::connect_lazy(&std::env::var(\"DATABASE_URL\").unwrap(), 1).unwrap();\n    \
         println!(\"{}\", MIGRATIONS.upgrade(&pool).await.unwrap());\n}\n",
    )?;
    std::fs::write(
        dir.join("migrations/V1__create_items.sql"),
        "-- Revises:\nCREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT);\n",
    )?;
    std::fs::write(
        dir.join("migrations/V2__fill_items.rs"),
        "//! Revises: 1\n\nuse dbmigrate_runtime::BoxError;\nuse dbmigrate_runtime::data::{Context, Value};\n\n\
         pub async fn upgrade(cx: &mut Context<'_>) -> Result<(), BoxError> {\n    \
         let rows = (1..=100_i64).map(|id| [Value::from(id), Value::from(format!(\"item {id}\"))]);\n    \
         cx.bulk_insert(\"items\", &[\"id\", \"label\"], rows).await?;\n    Ok(())\n}\n",
    )?;
    std::fs::copy(
        super::workspace_root().join("Cargo.lock"),
        dir.join("Cargo.lock"),
    )?;
    Ok(())
}

fn build(dir: &Path, target: &Path) -> anyhow::Result<()> {
    let output = cargo(target)
        .args(["build", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .output()
        .context("cannot start cargo")?;
    if !output.status.success() {
        bail!(
            "the package does not build:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

pub fn run(cli: &Path, rounds: usize) -> anyhow::Result<Vec<Table>> {
    // Kept between runs: the dependencies are compiled once, as in a developer's target directory.
    let target: PathBuf = super::target_dir().join("bench/runner-target");
    let temp = tempfile::tempdir()?;
    let package = temp.path().join("app");
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let mut round = 0;
    let mut contenders = vec![
        Contender::new("first cargo dbmigrate upgrade", Role::Ours, || {
            round += 1;
            // A name never built before: its runner is new, the dependencies are not.
            write_package(&package, &format!("bench-app-{stamp}-{round}"))?;
            build(&package, &target)?;
            let database = temp.path().join(format!("round-{round}.db"));
            let started = Instant::now();
            let upgrade = cargo(&target);
            let output = upgrade.get_program().to_owned();
            let output = Command::new(cli)
                .args(["dbmigrate", "upgrade", "-q", "--manifest-path"])
                .arg(package.join("Cargo.toml"))
                .env(
                    "DATABASE_URL",
                    format!("sqlite://{}?mode=rwc", database.display()),
                )
                .env("CARGO", output)
                .envs(
                    upgrade
                        .get_envs()
                        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned())))
                        .collect::<Vec<_>>(),
                )
                .stdin(Stdio::null())
                .output();
            let output = output.context("cannot start cargo dbmigrate")?;
            let elapsed = started.elapsed();
            if !output.status.success() {
                bail!(
                    "cargo dbmigrate upgrade failed:\n{}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            Ok(Sample::of(elapsed))
        }),
        Contender::new(
            "cargo build of the package after a change",
            Role::Limit,
            || {
                let main = package.join("src/main.rs");
                let text = std::fs::read_to_string(&main)?;
                std::fs::write(&main, format!("{text}// changed\n"))?;
                Sample::time(|| build(&package, &target))
            },
        ),
    ];
    let results = alternate(&mut contenders, rounds)?;
    Ok(vec![Table::new(
        "first run of a Rust revision after `cargo build`",
        results,
        Targets {
            vs_best_peer: None,
            vs_limit: Some(Bound::AtMost(2.0)),
        },
    )])
}
