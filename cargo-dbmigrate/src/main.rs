//! The `cargo dbmigrate` binary; on this branch a placeholder until the CLI branch is merged.

fn main() {}
