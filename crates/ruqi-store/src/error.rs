//! The one error type of `ruqi-store`, and the one place where a write the
//! `job_info` hooks refused is told apart from any other database error.

use std::sync::Arc;

use ruqi_core::FieldError;
use sea_orm::DbErr;

/// Everything that can go wrong in the store.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value was refused; nothing was written.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// The database failed.
    #[error("database: {0}")]
    Db(sea_orm::DbErr),
    /// The scheduler refused or failed.
    #[error(transparent)]
    Core(#[from] ruqi_core::Error),
}

impl From<DbErr> for Error {
    /// Recovers the [`FieldError`] of a write the `job_info` hooks refused
    /// ([`Error::Invalid`]); every other database error stays [`Error::Db`].
    ///
    /// ```
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use ruqi_store::entity::job_info;
    /// use sea_orm::{ActiveModelTrait, Database};
    ///
    /// let db = Database::connect("sqlite::memory:").await?;
    /// ruqi_store::migrate(&db).await?;
    /// let refused = job_info::ActiveModel::new_job("j", "f", "cron", "0 25 * * *").insert(&db).await.unwrap_err();
    /// match ruqi_store::Error::from(refused) {
    ///     ruqi_store::Error::Invalid(field_error) => assert_eq!(field_error.field, "rule"),
    ///     other => panic!("{other}"),
    /// }
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
    /// ```
    fn from(err: DbErr) -> Self {
        if let DbErr::TryIntoErr { source, .. } = &err
            && let Some(field_error) = source.downcast_ref::<FieldError>()
        {
            return Error::Invalid(field_error.clone());
        }
        Error::Db(err)
    }
}

/// The `DbErr` a `job_info` hook fails a write with. It carries the
/// [`FieldError`] itself, so [`Error::from`] can give it back, and displays as
/// `` Error converting `job_info::ActiveModel` into `ruqi_core::CompiledJob`: invalid <field> "<value>": <reason> ``.
pub(crate) fn refused_write(error: FieldError) -> DbErr {
    DbErr::TryIntoErr {
        from: "job_info::ActiveModel",
        into: "ruqi_core::CompiledJob",
        source: Arc::new(error),
    }
}

/// The result type of `ruqi-store`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_write_gives_back_its_field_error() {
        let field_error = FieldError::new("timezone", "Mars/Olympus", "unknown time zone");
        let db_err = refused_write(field_error.clone());
        assert!(db_err.to_string().ends_with(&field_error.to_string()), "{db_err}");
        match Error::from(db_err) {
            Error::Invalid(recovered) => assert_eq!(recovered, field_error),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn other_database_errors_stay_database_errors() {
        assert!(matches!(
            Error::from(DbErr::RecordNotFound("gone".into())),
            Error::Db(DbErr::RecordNotFound(_))
        ));
        assert!(matches!(Error::from(DbErr::Custom("x".into())), Error::Db(_)));
    }
}
