//! Adds `job_info.schedule_hash`: a hash of the schedule columns and
//! `is_paused` as they were when `next_run_time` was last planned.
//!
//! A scheduler tells that a row's rule changed by comparing it with what it
//! holds in memory; a row edited in plain SQL while no scheduler ran has
//! nothing to be compared with, and its `next_run_time` still follows the
//! old rule. The scheduler and the ORM hooks write this hash with every
//! `next_run_time` they plan; a starting scheduler that finds it no longer
//! matching the row plans again. Writing it alone is not a change of the
//! schedule: it is not one of the columns that move `version`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum JobInfo {
    Table,
    ScheduleHash,
}

// async_trait expands the hidden `SchemaManager<'_>` lifetime itself.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.has_column("job_info", "schedule_hash").await? {
            return Ok(());
        }
        manager
            .alter_table(
                Table::alter()
                    .table(JobInfo::Table)
                    .add_column(ColumnDef::new(JobInfo::ScheduleHash).big_integer().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(JobInfo::Table)
                    .drop_column(JobInfo::ScheduleHash)
                    .to_owned(),
            )
            .await
    }
}
