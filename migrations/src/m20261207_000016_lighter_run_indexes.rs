//! Fewer and narrower index entries per run:
//!
//! - `job_info (last_status, job_id)` (migration 13) is dropped, so that a
//!   run's end updates its job's row without touching any of the table's
//!   indexes. Every end writes the job's `last_status`; with that column in
//!   an index PostgreSQL could not update the row in place (a heap-only
//!   update), and each end wrote a new entry in every index of `job_info`.
//!   Measured on 100,000 jobs, ends written 800 per statement as the group
//!   commit writes them: 2.6 s with the index, 1.3 s without, a tenth of
//!   the time the whole scheduler took per run. The jobs list filtered by
//!   last status reads the table in key order instead.
//! - `job_execution (job_id, scheduled_for, status, duration_ms)` replaces
//!   `(job_id, scheduled_for, id, status, duration_ms)`: the 36 characters of
//!   `id` were most of each entry. One job's runs share a `scheduled_for`
//!   only with their own retries, so its history page sorts a handful of
//!   rows by `id` where the index leaves them; its statistics read the
//!   index alone as before. Inserting 100,000 runs took about 15 % less.
//!   The history's own `(scheduled_for, id, …)` keeps `id`: every job on
//!   one cron rule fires at the same instant.

use sea_orm_migration::prelude::*;

use crate::index;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// The index of `job_info` migration 13 created.
const LAST_STATUS_INDEX: &str = "idx_job_info_last_status";

/// The per-job index of `job_execution` migration 13 created, and its
/// replacement.
const OLD_JOB_INDEX: &str = "idx_job_execution_job_stats";
const NEW_JOB_INDEX: &str = "idx_job_execution_job_runs";

// async_trait expands the hidden `SchemaManager<'_>` lifetime itself.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        index::drop_if_present(manager, "job_info", LAST_STATUS_INDEX).await?;
        let columns: &[&str] = &["job_id", "scheduled_for", "status", "duration_ms"];
        index::replace(manager, "job_execution", (NEW_JOB_INDEX, columns), OLD_JOB_INDEX).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns: &[&str] = &["job_id", "scheduled_for", "id", "status", "duration_ms"];
        index::replace(manager, "job_execution", (OLD_JOB_INDEX, columns), NEW_JOB_INDEX).await?;
        manager
            .create_index(index::create("job_info", LAST_STATUS_INDEX, &["last_status", "job_id"]))
            .await
    }
}
