//! Integration tests of dbmigrate-runtime: one binary, one module per behaviour.

mod embed;
mod hostile;
