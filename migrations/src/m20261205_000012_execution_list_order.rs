//! The indexes the history lists read their pages through end with `id`:
//! `(scheduled_for, id)` replaces `(scheduled_for)`, and `(job_id,
//! scheduled_for, id)` replaces `(job_id, scheduled_for)`.
//!
//! Lists of executions are ordered newest `scheduled_for` first, then by
//! `id`. Runs share a `scheduled_for` whenever their jobs fire at the same
//! instant (every job on `0 * * * *`, a job's retries of one fire), and on
//! an index without `id` SQLite and PostgreSQL sorted every run of the
//! newest instants before they could return the first 50; with `id` in the
//! index a page reads its rows in order and stops. Each index replaces one
//! that its leading columns already served, so a run's row costs no more
//! index entries than before.

use sea_orm_migration::prelude::*;

use crate::index;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const TABLE: &str = "job_execution";
const OLD_NEWEST: &str = "idx_job_execution_scheduled_for";
const NEW_NEWEST: &str = "idx_job_execution_newest";
const OLD_JOB_NEWEST: &str = "idx_job_execution_job_scheduled";
const NEW_JOB_NEWEST: &str = "idx_job_execution_job_newest";

// async_trait expands the hidden `SchemaManager<'_>` lifetime itself.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        index::replace(manager, TABLE, (NEW_NEWEST, &["scheduled_for", "id"]), OLD_NEWEST).await?;
        let columns: &[&str] = &["job_id", "scheduled_for", "id"];
        index::replace(manager, TABLE, (NEW_JOB_NEWEST, columns), OLD_JOB_NEWEST).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        index::replace(manager, TABLE, (OLD_NEWEST, &["scheduled_for"]), NEW_NEWEST).await?;
        let columns: &[&str] = &["job_id", "scheduled_for"];
        index::replace(manager, TABLE, (OLD_JOB_NEWEST, columns), NEW_JOB_NEWEST).await
    }
}
