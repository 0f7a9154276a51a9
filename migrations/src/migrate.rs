//! [`migrate`]: the migrations run under a lock held by the database, so
//! that processes starting at the same instant on one database take turns.
//! The first applies what is pending; each of the others gets the lock after
//! it, finds everything applied and does nothing.
//!
//! The lock is per backend (one file each under `backend/`): a session
//! advisory lock on PostgreSQL, a named user lock (`GET_LOCK`) on
//! MySQL/MariaDB, and on SQLite the file's write lock, held by one
//! `BEGIN IMMEDIATE` transaction around the whole run.

use std::time::Duration;

use sea_orm_migration::MigratorTrait;
#[cfg(any(feature = "postgres", feature = "mysql"))]
use sea_orm_migration::sea_orm::DatabaseConnectionType;
use sea_orm_migration::sea_orm::{DatabaseBackend, DatabaseConnection, DbErr};

use crate::Migrator;
use crate::backend;

/// How long [`migrate`] waits for another process's migration run to end
/// before it gives up.
pub const MIGRATION_LOCK_WAIT: Duration = Duration::from_secs(300);

/// Brings the schema up to date: creates what is missing, leaves the rest.
///
/// Safe to call from every process at its start, all at once: the run holds
/// a lock in the database (see [`POSTGRES_MIGRATION_LOCK_KEY`](crate::POSTGRES_MIGRATION_LOCK_KEY),
/// [`MYSQL_MIGRATION_LOCK_PREFIX`](crate::MYSQL_MIGRATION_LOCK_PREFIX); on
/// SQLite the file's write lock), so one process migrates and the others
/// wait for it, then find the schema complete. It waits at most
/// [`MIGRATION_LOCK_WAIT`]; [`migrate_waiting`] takes another bound.
///
/// On PostgreSQL and MySQL the lock is held on a connection of `db`'s pool
/// while the migrations use the others, so the pool needs at least two
/// connections (sea-orm's default has ten).
///
/// ```
/// # async fn run() -> Result<(), sea_orm_migration::DbErr> {
/// let db = sea_orm_migration::sea_orm::Database::connect("sqlite::memory:").await?;
/// ruqi_migration::migrate(&db).await?;
/// ruqi_migration::migrate(&db).await?; // finds everything applied
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
/// ```
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    migrate_waiting(db, MIGRATION_LOCK_WAIT).await
}

/// [`migrate`], waiting at most `max_wait` for another process's migration
/// run to end. Past it, nothing is migrated and the error
/// ([`DbErr::Migration`]) names the lock that was held. On SQLite each try
/// at the lock waits up to the connection's `busy_timeout` (five seconds
/// unless configured otherwise), so the wait may run over by that much.
pub async fn migrate_waiting(db: &DatabaseConnection, max_wait: Duration) -> Result<(), DbErr> {
    match &db.inner {
        #[cfg(feature = "postgres")]
        DatabaseConnectionType::SqlxPostgresPoolConnection(_) => {
            backend::postgres::migrate_holding_lock(db, max_wait).await
        }
        #[cfg(feature = "mysql")]
        DatabaseConnectionType::SqlxMySqlPoolConnection(_) => backend::mysql::migrate_holding_lock(db, max_wait).await,
        _ if db.get_database_backend() == DatabaseBackend::Sqlite => {
            backend::sqlite::migrate_in_write_transaction(db, max_wait).await
        }
        // A mock or proxy connection, which no other process shares (or a
        // server whose feature this crate was built without).
        _ => Migrator::up(db, None).await,
    }
}

/// The error of a run that waited `max_wait` for `lock` in vain.
pub(crate) fn lock_wait_timed_out(lock: &str, max_wait: Duration) -> DbErr {
    DbErr::Migration(format!(
        "gave up on migrating after waiting {:.1} s for the migration lock ({lock}): \
         another process is migrating this database, or holds the lock and hangs",
        max_wait.as_secs_f64()
    ))
}
