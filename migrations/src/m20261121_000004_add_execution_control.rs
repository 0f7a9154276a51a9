//! Adds the execution-control columns: retry backoff, child jobs and the
//! alert webhook on `job_info`, and cancellation requests on `job_execution`.
//!
//! The new `job_info` columns change how a job runs, so the version triggers
//! are created again with them in the list of versioned columns.

use sea_orm_migration::prelude::*;

use crate::backend;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum JobInfo {
    Table,
    RetryBackoff,
    RetryDelay,
    ChildJobs,
    AlertUrl,
}

#[derive(DeriveIden, Clone, Copy)]
enum JobExecution {
    Table,
    CancelRequestedAt,
    Node,
    Status,
}

// async_trait expands the hidden `SchemaManager<'_>` lifetime itself.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        // One column per statement: SQLite adds columns one at a time.
        let columns = [
            ColumnDef::new(JobInfo::RetryBackoff)
                .string_len(16)
                .not_null()
                .default("exponential")
                .to_owned(),
            ColumnDef::new(JobInfo::RetryDelay)
                .string_len(32)
                .not_null()
                .default("10s")
                .to_owned(),
            ColumnDef::new(JobInfo::ChildJobs).text().null().to_owned(),
            ColumnDef::new(JobInfo::AlertUrl).text().null().to_owned(),
        ];
        for mut column in columns {
            if !manager.has_column("job_info", &column.get_column_name()).await? {
                manager
                    .alter_table(Table::alter().table(JobInfo::Table).add_column(&mut column).to_owned())
                    .await?;
            }
        }
        if !manager.has_column("job_execution", "cancel_requested_at").await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(JobExecution::Table)
                        .add_column(
                            backend::timestamp(db, JobExecution::CancelRequestedAt)
                                .null()
                                .to_owned(),
                        )
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_job_execution_node_status")
                    .table(JobExecution::Table)
                    .col(JobExecution::Node)
                    .col(JobExecution::Status)
                    .to_owned(),
            )
            .await?;
        backend::run(
            manager,
            backend::create_version_trigger(db, &backend::versioned_columns()),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        backend::run(
            manager,
            backend::create_version_trigger(db, backend::FIRST_VERSIONED_COLUMNS),
        )
        .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_job_execution_node_status")
                    .table(JobExecution::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(JobExecution::Table)
                    .drop_column(JobExecution::CancelRequestedAt)
                    .to_owned(),
            )
            .await?;
        for column in [
            JobInfo::RetryBackoff,
            JobInfo::RetryDelay,
            JobInfo::ChildJobs,
            JobInfo::AlertUrl,
        ] {
            manager
                .alter_table(Table::alter().table(JobInfo::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
