//! t
/// t
pub struct Target;
