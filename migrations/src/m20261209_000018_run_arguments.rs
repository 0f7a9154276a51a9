//! Adds `job_execution.args`: the arguments a run was given instead of its
//! job's, as JSON text (a "run now" with other arguments, and that run's
//! retries). `NULL` means the run used its job's `args`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum JobExecution {
    Table,
    Args,
}

// async_trait expands the hidden `SchemaManager<'_>` lifetime itself.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.has_column("job_execution", "args").await? {
            return Ok(());
        }
        manager
            .alter_table(
                Table::alter()
                    .table(JobExecution::Table)
                    .add_column(ColumnDef::new(JobExecution::Args).text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(JobExecution::Table)
                    .drop_column(JobExecution::Args)
                    .to_owned(),
            )
            .await
    }
}
