//! ruqi's schema as sea-orm migrations: the `job_info` and `job_execution`
//! tables, their indexes, and the triggers that keep `job_info.version`
//! honest for every writer (ORM, admin API or plain SQL), the `job_change`
//! log its change-feed triggers write, the `scheduler_node` registry, and
//! the `xxl_executor` registry of XXL-JOB executors with the `xxl_job` and
//! `xxl_dispatch` tables the center dispatches runs to them with.
//!
//! The migrations record themselves in their own table, `ruqi_migrations`,
//! so they never mix with an application's own `seaql_migrations`.
//!
//! Run them with [`migrate`], which is safe to call from every process at
//! its start, all at once: it holds a lock in the database for the run, so
//! one process migrates and the others wait, then find nothing left to do.
//! [`Migrator`]'s own `up` takes no lock.
//!
//! ```
//! # async fn run() -> Result<(), sea_orm_migration::DbErr> {
//! let db = sea_orm_migration::sea_orm::Database::connect("sqlite::memory:").await?;
//! ruqi_migration::migrate(&db).await?;
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
//! ```

mod backend;
mod claim_rows;
mod index;
mod m20261121_000001_create_job_tables;
mod m20261121_000002_create_version_triggers;
mod m20261121_000003_create_change_feed;
mod m20261121_000004_add_execution_control;
mod m20261121_000005_lighter_run_writes;
mod m20261121_000006_unindexed_next_run_time;
mod m20261122_000007_notify_logged_changes;
mod m20261122_000008_claims_without_notify;
mod m20261203_000009_running_runs_index;
mod m20261204_000010_schedule_hash;
mod m20261204_000011_sql_session_edits;
mod m20261205_000012_execution_list_order;
mod m20261205_000013_execution_stats_indexes;
mod m20261206_000014_claim_columns;
mod m20261207_000015_record_replaced_claims;
mod m20261207_000016_lighter_run_indexes;
mod m20261208_000017_record_deleted_claims;
mod m20261209_000018_run_arguments;
mod m20261210_000020_xxl_executor_registry;
mod m20261211_000021_xxl_dispatch;
mod migrate;

pub use backend::mysql::MYSQL_MIGRATION_LOCK_PREFIX;
pub use backend::postgres::POSTGRES_MIGRATION_LOCK_KEY;
pub use migrate::{MIGRATION_LOCK_WAIT, migrate, migrate_waiting};
pub use sea_orm_migration::MigratorTrait;
use sea_orm_migration::prelude::*;

/// The PostgreSQL `NOTIFY` channel the change-feed trigger signals on when
/// `job_info` changes.
pub const CHANGE_CHANNEL: &str = "ruqi_job_change";

/// The PostgreSQL setting with which a transaction asks the change-log
/// triggers to log its `job_info` changes without a `NOTIFY`
/// (`SET LOCAL ruqi.skip_notify = on`): the schedulers then see them at
/// their next poll of the log instead of at once. ruqi's own batches of
/// claims set it; see migration 8.
pub const SKIP_NOTIFY_SETTING: &str = "ruqi.skip_notify";

/// The `job_id` of the row a PostgreSQL `TRUNCATE job_info` logs to
/// `job_change` (with [`TRUNCATED_VERSION`]): the table was emptied at once,
/// and the schedulers compare all of it with memory. No change of a real row
/// logs this pair: a row's version starts at 0 and never goes down (see
/// migration 11), and should a row be typed in with both, reading its
/// change as a truncation costs one comparison of the table and is still
/// right.
pub const TRUNCATED_JOB_ID: &str = "";

/// The `version` of the row a PostgreSQL `TRUNCATE job_info` logs to
/// `job_change` (see [`TRUNCATED_JOB_ID`]).
pub const TRUNCATED_VERSION: i64 = -1;

/// Runs ruqi's migrations in order; idempotent. Its `up` takes no lock:
/// several processes running it at once on a fresh database fail, which
/// [`migrate`] prevents.
#[derive(Debug, Clone, Copy, Default)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_create_job_tables::Migration),
            Box::new(m20261121_000002_create_version_triggers::Migration),
            Box::new(m20261121_000003_create_change_feed::Migration),
            Box::new(m20261121_000004_add_execution_control::Migration),
            Box::new(m20261121_000005_lighter_run_writes::Migration),
            Box::new(m20261121_000006_unindexed_next_run_time::Migration),
            Box::new(m20261122_000007_notify_logged_changes::Migration),
            Box::new(m20261122_000008_claims_without_notify::Migration),
            Box::new(m20261203_000009_running_runs_index::Migration),
            Box::new(m20261204_000010_schedule_hash::Migration),
            Box::new(m20261204_000011_sql_session_edits::Migration),
            Box::new(m20261205_000012_execution_list_order::Migration),
            Box::new(m20261205_000013_execution_stats_indexes::Migration),
            Box::new(m20261206_000014_claim_columns::Migration),
            Box::new(m20261207_000015_record_replaced_claims::Migration),
            Box::new(m20261207_000016_lighter_run_indexes::Migration),
            Box::new(m20261208_000017_record_deleted_claims::Migration),
            Box::new(m20261209_000018_run_arguments::Migration),
            Box::new(m20261210_000020_xxl_executor_registry::Migration),
            Box::new(m20261211_000021_xxl_dispatch::Migration),
        ]
    }

    fn migration_table_name() -> sea_orm_migration::sea_orm::DynIden {
        "ruqi_migrations".into_iden()
    }
}
