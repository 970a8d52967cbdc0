//! The `tracing` log of the CLI and of the runtime it runs: off unless RUST_LOG selects it (an
//! env-filter, `RUST_LOG=dbmigrate_runtime=debug`), or `-v` asks for the runtime's info level. It goes
//! to standard error, apart from the results; the runner gets the same RUST_LOG.

use tracing_subscriber::EnvFilter;

/// What `-v` selects when RUST_LOG is not set.
pub const VERBOSE: &str = "dbmigrate_runtime=info,cargo_dbmigrate=info";

/// Installs the subscriber once, for the whole process.
pub fn init(verbose: bool) {
    let filter = match EnvFilter::try_from_default_env() {
        Ok(filter) => filter,
        Err(_) if verbose => EnvFilter::new(VERBOSE),
        Err(_) => return,
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
