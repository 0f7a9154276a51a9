//! The one error type of `ruqi-store`.

use ruqi_core::FieldError;

/// Everything that can go wrong in the store.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value was refused; nothing was written.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// The scheduler refused or failed.
    #[error(transparent)]
    Core(#[from] ruqi_core::Error),
}

/// The result type of `ruqi-store`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
