//! Each backend's error mapping, for the backends compiled in: what kind of cause a database error
//! is, how to show it, and where in a statement it points.

use sqlx::error::DatabaseError;

use crate::migrator::Diagnosis;

/// One backend's reading of its own errors; each function answers `None` for another backend's.
pub(crate) struct ErrorMapping {
    /// The kind of cause.
    pub diagnose: fn(&dyn DatabaseError) -> Option<Diagnosis>,
    /// The code, message and whatever else the database says (PostgreSQL's DETAIL and HINT), without
    /// sqlx's wording or the server's own source line.
    pub render: fn(&dyn DatabaseError) -> Option<String>,
    /// Where in a statement the error points, as a 0-based character offset into the statement,
    /// given the statement's character offset in the text sent.
    pub position: fn(&dyn DatabaseError, &str, usize) -> Option<usize>,
}

/// The mappings of the backends compiled in.
pub(crate) const ALL: &[ErrorMapping] = &[
    #[cfg(feature = "postgres")]
    super::postgres::ERRORS,
    #[cfg(feature = "mysql")]
    super::mysql::ERRORS,
    #[cfg(feature = "sqlite")]
    super::sqlite::ERRORS,
];
