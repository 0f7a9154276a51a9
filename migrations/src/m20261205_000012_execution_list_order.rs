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

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum JobExecution {
    Table,
    JobId,
    ScheduledFor,
    Id,
}

const OLD_NEWEST: &str = "idx_job_execution_scheduled_for";
const NEW_NEWEST: &str = "idx_job_execution_newest";
const OLD_JOB_NEWEST: &str = "idx_job_execution_job_scheduled";
const NEW_JOB_NEWEST: &str = "idx_job_execution_job_newest";

fn create(name: &str, columns: &[JobExecution]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.if_not_exists().name(name).table(JobExecution::Table);
    for column in columns {
        index.col(*column);
    }
    index.to_owned()
}

async fn drop_if_present(manager: &SchemaManager<'_>, name: &str) -> Result<(), DbErr> {
    if manager.has_index("job_execution", name).await? {
        manager
            .drop_index(Index::drop().name(name).table(JobExecution::Table).to_owned())
            .await?;
    }
    Ok(())
}

// async_trait expands the hidden `SchemaManager<'_>` lifetime itself.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use JobExecution::{Id, JobId, ScheduledFor};
        manager.create_index(create(NEW_NEWEST, &[ScheduledFor, Id])).await?;
        drop_if_present(manager, OLD_NEWEST).await?;
        manager
            .create_index(create(NEW_JOB_NEWEST, &[JobId, ScheduledFor, Id]))
            .await?;
        drop_if_present(manager, OLD_JOB_NEWEST).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use JobExecution::{JobId, ScheduledFor};
        manager.create_index(create(OLD_NEWEST, &[ScheduledFor])).await?;
        drop_if_present(manager, NEW_NEWEST).await?;
        manager
            .create_index(create(OLD_JOB_NEWEST, &[JobId, ScheduledFor]))
            .await?;
        drop_if_present(manager, NEW_JOB_NEWEST).await
    }
}
