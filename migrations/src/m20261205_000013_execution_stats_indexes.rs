//! Indexes that let the execution statistics and the last-status filter read
//! indexes alone:
//!
//! - `(scheduled_for, id, status, duration_ms)` replaces `(scheduled_for,
//!   id)` (migration 12): the statistics of a time range group its rows by
//!   bucket and status and add up their durations, all from the index, and
//!   the history list reads its pages in order through it as through the
//!   old one.
//! - `(job_id, scheduled_for, id, status, duration_ms)` replaces `(job_id,
//!   scheduled_for, id)`: a page of jobs' success rates and mean durations,
//!   and one job's statistics, read only the index.
//! - `job_info (last_status, job_id)`: the jobs list filtered by last status,
//!   in its default order.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum JobExecution {
    Table,
    JobId,
    ScheduledFor,
    Id,
    Status,
    DurationMs,
}

#[derive(DeriveIden, Clone, Copy)]
enum JobInfo {
    Table,
    JobId,
    LastStatus,
}

/// An index of `job_execution`: its name, the one it replaces, and both's columns.
struct Replacement {
    name: &'static str,
    columns: &'static [JobExecution],
    replaces: &'static str,
    old_columns: &'static [JobExecution],
}

const REPLACEMENTS: [Replacement; 2] = [
    Replacement {
        name: "idx_job_execution_scheduled_stats",
        columns: &[
            JobExecution::ScheduledFor,
            JobExecution::Id,
            JobExecution::Status,
            JobExecution::DurationMs,
        ],
        replaces: "idx_job_execution_newest",
        old_columns: &[JobExecution::ScheduledFor, JobExecution::Id],
    },
    Replacement {
        name: "idx_job_execution_job_stats",
        columns: &[
            JobExecution::JobId,
            JobExecution::ScheduledFor,
            JobExecution::Id,
            JobExecution::Status,
            JobExecution::DurationMs,
        ],
        replaces: "idx_job_execution_job_newest",
        old_columns: &[JobExecution::JobId, JobExecution::ScheduledFor, JobExecution::Id],
    },
];

const LAST_STATUS_INDEX: &str = "idx_job_info_last_status";

fn create(name: &str, columns: &[JobExecution]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.if_not_exists().name(name).table(JobExecution::Table);
    for column in columns {
        index.col(*column);
    }
    index.to_owned()
}

async fn drop_if_present(manager: &SchemaManager<'_>, table: JobExecutionOrInfo, name: &str) -> Result<(), DbErr> {
    let (table_name, iden): (&str, DynIden) = match table {
        JobExecutionOrInfo::Execution => ("job_execution", JobExecution::Table.into_iden()),
        JobExecutionOrInfo::Info => ("job_info", JobInfo::Table.into_iden()),
    };
    if manager.has_index(table_name, name).await? {
        manager
            .drop_index(Index::drop().name(name).table(iden).to_owned())
            .await?;
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum JobExecutionOrInfo {
    Execution,
    Info,
}

// async_trait expands the hidden `SchemaManager<'_>` lifetime itself.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for index in &REPLACEMENTS {
            manager.create_index(create(index.name, index.columns)).await?;
            drop_if_present(manager, JobExecutionOrInfo::Execution, index.replaces).await?;
        }
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name(LAST_STATUS_INDEX)
                    .table(JobInfo::Table)
                    .col(JobInfo::LastStatus)
                    .col(JobInfo::JobId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_if_present(manager, JobExecutionOrInfo::Info, LAST_STATUS_INDEX).await?;
        for index in &REPLACEMENTS {
            manager.create_index(create(index.replaces, index.old_columns)).await?;
            drop_if_present(manager, JobExecutionOrInfo::Execution, index.name).await?;
        }
        Ok(())
    }
}
