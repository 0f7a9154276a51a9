//! Drops the index on `job_info.next_run_time`.
//!
//! No query of ruqi's reads through it: the scheduler loads every row at
//! start-up and follows changes by key, and the job list's order by
//! `next_run_time` puts the jobs without one last with an expression that
//! no plain index serves. Yet every claim of a fire moves `next_run_time`,
//! so every claim had to write a new entry in it; on PostgreSQL that also
//! kept the claim from being a heap-only update, which writes no index
//! entry at all. Without it, neither of a run's two `UPDATE`s of `job_info`
//! changes an indexed column.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum JobInfo {
    Table,
    NextRunTime,
}

const NEXT_RUN_TIME_INDEX: &str = "idx_job_info_next_run_time";

// async_trait expands the hidden `SchemaManager<'_>` lifetime itself.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !manager.has_index("job_info", NEXT_RUN_TIME_INDEX).await? {
            return Ok(());
        }
        manager
            .drop_index(Index::drop().name(NEXT_RUN_TIME_INDEX).table(JobInfo::Table).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name(NEXT_RUN_TIME_INDEX)
                    .table(JobInfo::Table)
                    .col(JobInfo::NextRunTime)
                    .to_owned(),
            )
            .await
    }
}
