//! A pool whose backend is chosen at run time from a URL: what the CLI connects with, where the
//! application would pass its own typed sqlx pool.

use std::time::Duration;

use super::Backend;
use super::session::{Pool, Session};

/// An sqlx pool for whichever backend a URL names.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum BackendPool {
    /// `postgres://...`
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    /// `mysql://...` or `mariadb://...`
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
    /// `sqlite:...`
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
}

/// Why a URL could not be turned into a pool.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// The scheme names no backend.
    #[error(
        "`{scheme}` is not a database URL scheme dbmigrate knows; use postgres://, mysql://, mariadb:// or sqlite:"
    )]
    UnknownScheme {
        /// What the URL starts with.
        scheme: String,
    },
    /// The backend is known but this build does not include it.
    #[error(
        "{backend} support is not compiled in; enable the `{feature}` feature of dbmigrate-runtime"
    )]
    NotCompiled {
        /// The backend.
        backend: Backend,
        /// The cargo feature that adds it.
        feature: &'static str,
    },
    /// sqlx rejected the URL.
    #[error("invalid database URL: {0}")]
    Url(sqlx::Error),
}

impl BackendPool {
    /// A lazily connecting pool of at most `max_connections` for `url`: nothing is connected until
    /// first use, so connection failures surface where they can be retried.
    pub fn connect_lazy(url: &str, max_connections: u32) -> Result<Self, PoolError> {
        let backend = Backend::from_url(url).ok_or_else(|| PoolError::UnknownScheme {
            scheme: url.split(':').next().unwrap_or("").to_string(),
        })?;
        // Each acquire attempt is short; the migrator retries with backoff up to its own deadline.
        let acquire_timeout = Duration::from_secs(5);
        match backend {
            #[cfg(feature = "postgres")]
            Backend::Postgres => Ok(Self::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(acquire_timeout)
                    .connect_lazy(url)
                    .map_err(PoolError::Url)?,
            )),
            #[cfg(feature = "mysql")]
            Backend::MySql => Ok(Self::MySql(
                sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(acquire_timeout)
                    .connect_lazy(&url.replacen("mariadb:", "mysql:", 1))
                    .map_err(PoolError::Url)?,
            )),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => Ok(Self::Sqlite(
                sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(acquire_timeout)
                    .connect_lazy(url)
                    .map_err(PoolError::Url)?,
            )),
            #[allow(unreachable_patterns)]
            other => Err(PoolError::NotCompiled {
                backend: other,
                feature: other.name(),
            }),
        }
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => Backend::Postgres,
            #[cfg(feature = "mysql")]
            Self::MySql(_) => Backend::MySql,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Closes every connection.
    pub async fn close(&self) {
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => p.close().await,
            #[cfg(feature = "mysql")]
            Self::MySql(p) => p.close().await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(p) => p.close().await,
        }
    }
}

impl super::session::sealed::Sealed for BackendPool {}

impl Pool for BackendPool {
    async fn acquire_session(&self) -> Result<Session, sqlx::Error> {
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => p.acquire_session().await,
            #[cfg(feature = "mysql")]
            Self::MySql(p) => p.acquire_session().await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(p) => p.acquire_session().await,
        }
    }

    async fn probe(&self) -> Option<sqlx::Error> {
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => p.probe().await,
            #[cfg(feature = "mysql")]
            Self::MySql(p) => p.probe().await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(p) => p.probe().await,
        }
    }
}
