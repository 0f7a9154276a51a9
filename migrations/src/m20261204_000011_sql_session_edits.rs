//! Plain SQL edits of `job_info` mean what the person typed.
//!
//! - Versions never go down. An `UPDATE` that lowers `version` (`SET
//!   version = version - 1`, `SET version = 0`) or keeps it while changing a
//!   versioned column gets `OLD.version + 1` from the version trigger, on
//!   every backend. A lowered version went through before, and the running
//!   schedulers took the row for a stale read and kept the old schedule.
//!   The schedulers' own compare-and-set writes raise it themselves and are
//!   left alone.
//! - PostgreSQL: `TRUNCATE job_info` fires no row trigger; a statement
//!   trigger now logs it to `job_change` as one marker row
//!   ([`TRUNCATED_JOB_ID`](crate::TRUNCATED_JOB_ID),
//!   [`TRUNCATED_VERSION`](crate::TRUNCATED_VERSION)) and notifies, and the
//!   schedulers compare the whole table with memory. (MySQL has no
//!   `TRUNCATE` trigger: the change feed watches the table's InnoDB id
//!   instead. SQLite has no `TRUNCATE`: its `DELETE FROM job_info` fires
//!   the row triggers.)
//! - MySQL / MariaDB: `DATETIME(6)` columns hold no zone, and a session with
//!   another `time_zone` wrote its local time into them (`NOW()`, the
//!   `CURRENT_TIMESTAMP(6)` defaults of `created_at` and `updated_at`,
//!   literals): hours off for the schedulers, which read them as UTC. The
//!   `BEFORE INSERT` and `BEFORE UPDATE` triggers now convert what such a
//!   session writes to `job_info`'s time columns to UTC, and the change log
//!   is stamped in UTC. ruqi's own sessions are UTC and convert nothing.
//!
//! `down` brings back the triggers of migrations 3 to 9.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::backend::{self, VersionBump, mysql, postgres, sqlite};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

// async_trait expands the hidden `SchemaManager<'_>` lifetime itself.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = backend::versioned_columns();
        let statements = match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                let mut statements = postgres::create_version_trigger(&columns, VersionBump::Monotonic);
                statements.extend(postgres::create_truncate_trigger());
                statements
            }
            DatabaseBackend::MySql => {
                let mut statements = mysql::create_session_triggers(&columns);
                statements.extend(mysql::create_change_triggers(mysql::UTC_NOW));
                statements
            }
            _ => {
                let mut statements = sqlite::create_version_trigger(&columns, VersionBump::Monotonic);
                statements.extend(sqlite::create_change_triggers(VersionBump::Monotonic));
                statements
            }
        };
        backend::run(manager, statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = backend::versioned_columns();
        let statements = match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                let mut statements = postgres::drop_truncate_trigger();
                statements.extend(postgres::create_version_trigger(&columns, VersionBump::WhenKept));
                statements
            }
            DatabaseBackend::MySql => {
                let mut statements = mysql::drop_session_triggers();
                statements.extend(mysql::create_version_trigger(&columns));
                statements.extend(mysql::create_change_triggers(mysql::NOW));
                statements
            }
            _ => {
                let mut statements = sqlite::create_version_trigger(&columns, VersionBump::WhenKept);
                statements.extend(sqlite::create_change_triggers(VersionBump::WhenKept));
                statements
            }
        };
        backend::run(manager, statements).await
    }
}
