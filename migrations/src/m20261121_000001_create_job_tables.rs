//! Creates `job_info` (the schedule) and `job_execution` (the history).
//!
//! Column types are chosen per backend where the defaults fall short:
//! timestamps keep microseconds everywhere (MySQL's plain `TIMESTAMP` would
//! round fire instants to whole seconds), and the execution output, capped at
//! 64 KiB plus a note, needs MySQL's `MEDIUMTEXT`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::backend;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum JobInfo {
    Table,
    JobId,
    JobName,
    Description,
    Func,
    Args,
    Trigger,
    Rule,
    Timezone,
    StartAt,
    EndAt,
    NextRunTime,
    IsPaused,
    IsRunning,
    RunRightNow,
    MisfireGraceS,
    MisfirePolicy,
    Overlap,
    MaxInstances,
    TimeoutS,
    MaxRetries,
    Version,
    CreatedAt,
    UpdatedAt,
    LastStatus,
    LastError,
}

#[derive(DeriveIden, Clone, Copy)]
enum JobExecution {
    Table,
    Id,
    JobId,
    JobName,
    ScheduledFor,
    StartedAt,
    FinishedAt,
    DurationMs,
    Status,
    Attempt,
    Output,
    Error,
    Node,
    TriggerSource,
}

// async_trait expands the hidden `SchemaManager<'_>` lifetime itself.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(JobInfo::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(JobInfo::JobId).string_len(191).not_null().primary_key())
                    .col(ColumnDef::new(JobInfo::JobName).string_len(191).null())
                    .col(ColumnDef::new(JobInfo::Description).text().null())
                    .col(ColumnDef::new(JobInfo::Func).string_len(191).not_null())
                    .col(ColumnDef::new(JobInfo::Args).text().null())
                    .col(ColumnDef::new(JobInfo::Trigger).string_len(16).not_null())
                    .col(ColumnDef::new(JobInfo::Rule).string_len(255).not_null())
                    .col(ColumnDef::new(JobInfo::Timezone).string_len(64).null())
                    .col(backend::timestamp(db, JobInfo::StartAt).null())
                    .col(backend::timestamp(db, JobInfo::EndAt).null())
                    .col(backend::timestamp(db, JobInfo::NextRunTime).null())
                    .col(ColumnDef::new(JobInfo::IsPaused).boolean().not_null().default(false))
                    .col(ColumnDef::new(JobInfo::IsRunning).boolean().not_null().default(false))
                    .col(ColumnDef::new(JobInfo::RunRightNow).boolean().not_null().default(false))
                    .col(ColumnDef::new(JobInfo::MisfireGraceS).integer().not_null().default(5))
                    .col(
                        ColumnDef::new(JobInfo::MisfirePolicy)
                            .string_len(16)
                            .not_null()
                            .default("skip"),
                    )
                    .col(
                        ColumnDef::new(JobInfo::Overlap)
                            .string_len(16)
                            .not_null()
                            .default("skip"),
                    )
                    .col(ColumnDef::new(JobInfo::MaxInstances).integer().not_null().default(1))
                    .col(ColumnDef::new(JobInfo::TimeoutS).integer().null())
                    .col(ColumnDef::new(JobInfo::MaxRetries).integer().not_null().default(0))
                    // 0 marks a row no scheduler has seen yet (a plain SQL insert):
                    // its next_run_time is computed and written when it is picked up.
                    .col(ColumnDef::new(JobInfo::Version).big_integer().not_null().default(0))
                    .col(
                        backend::timestamp(db, JobInfo::CreatedAt)
                            .not_null()
                            .default(backend::now(db)),
                    )
                    .col(
                        backend::timestamp(db, JobInfo::UpdatedAt)
                            .not_null()
                            .default(backend::now(db)),
                    )
                    .col(ColumnDef::new(JobInfo::LastStatus).string_len(16).null())
                    .col(ColumnDef::new(JobInfo::LastError).text().null())
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_job_info_next_run_time", JobInfo::NextRunTime),
            ("idx_job_info_job_name", JobInfo::JobName),
            ("idx_job_info_func", JobInfo::Func),
        ] {
            manager
                .create_index(
                    Index::create()
                        .if_not_exists()
                        .name(name)
                        .table(JobInfo::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }

        // No foreign key to job_info: history outlives the job it belongs to.
        manager
            .create_table(
                Table::create()
                    .table(JobExecution::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(JobExecution::Id).string_len(36).not_null().primary_key())
                    .col(ColumnDef::new(JobExecution::JobId).string_len(191).not_null())
                    .col(ColumnDef::new(JobExecution::JobName).string_len(191).null())
                    .col(backend::timestamp(db, JobExecution::ScheduledFor).not_null())
                    .col(backend::timestamp(db, JobExecution::StartedAt).null())
                    .col(backend::timestamp(db, JobExecution::FinishedAt).null())
                    .col(ColumnDef::new(JobExecution::DurationMs).big_integer().null())
                    .col(ColumnDef::new(JobExecution::Status).string_len(16).not_null())
                    .col(ColumnDef::new(JobExecution::Attempt).integer().not_null().default(1))
                    .col(long_text(db, JobExecution::Output).null())
                    .col(ColumnDef::new(JobExecution::Error).text().null())
                    .col(ColumnDef::new(JobExecution::Node).string_len(191).null())
                    .col(ColumnDef::new(JobExecution::TriggerSource).string_len(16).not_null())
                    .to_owned(),
            )
            .await?;
        let indexes: [(&str, &[JobExecution]); 4] = [
            (
                "idx_job_execution_job_scheduled",
                &[JobExecution::JobId, JobExecution::ScheduledFor],
            ),
            ("idx_job_execution_scheduled_for", &[JobExecution::ScheduledFor]),
            ("idx_job_execution_status", &[JobExecution::Status]),
            ("idx_job_execution_job_name", &[JobExecution::JobName]),
        ];
        for (name, cols) in indexes {
            let mut index = Index::create();
            index.if_not_exists().name(name).table(JobExecution::Table);
            for col in cols {
                index.col(*col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(JobExecution::Table).if_exists().to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(JobInfo::Table).if_exists().to_owned())
            .await
    }
}

/// Text that holds more than 64 KiB (MySQL's `TEXT` stops at 65,535 bytes).
fn long_text(db: DatabaseBackend, col: impl IntoIden) -> ColumnDef {
    let mut def = ColumnDef::new(col);
    match db {
        DatabaseBackend::MySql => def.custom(backend::mysql::LONG_TEXT_TYPE),
        _ => def.text(),
    };
    def
}
