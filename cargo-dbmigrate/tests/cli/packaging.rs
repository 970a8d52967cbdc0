//! What `cargo publish` would upload: each crate's sources and README, the CLI's templates, and no
//! tests or fixtures (`cargo publish --dry-run -p dbmigrate-runtime -p cargo-dbmigrate` builds them).

use std::process::Command;

use crate::support::repository;

fn packaged(package: &str) -> Vec<String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "package",
            "--list",
            "--allow-dirty",
            "--offline",
            "-p",
            package,
        ])
        .current_dir(repository())
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_cli_package_holds_its_sources_templates_and_readme() {
    let files = packaged("cargo-dbmigrate");
    for needed in [
        "README.md",
        "askama.toml",
        "src/main.rs",
        "templates/revision.sql",
        "templates/revision.rs",
        "templates/merge.sql",
    ] {
        assert!(
            files.iter().any(|f| f == needed),
            "{needed} missing: {files:?}"
        );
    }
    assert!(!files.iter().any(|f| f.starts_with("tests/")), "{files:?}");
}

#[test]
fn the_runtime_package_holds_its_sources_and_readme() {
    let files = packaged("dbmigrate-runtime");
    for needed in ["README.md", "src/lib.rs", "src/build.rs"] {
        assert!(
            files.iter().any(|f| f == needed),
            "{needed} missing: {files:?}"
        );
    }
    assert!(
        !files
            .iter()
            .any(|f| f.starts_with("tests/") || f.starts_with("proptest-regressions/")),
        "{files:?}"
    );
}
