//! The revision graph: revisions linked by `Revises:`, with heads, bases, merges and upgrade order.
pub mod target;
pub use target::Target;
/// placeholder
pub struct RevisionGraph;
