//! Creates the three tables the XXL-JOB center dispatches with.
//!
//! - `xxl_job`: the number each ruqi job is known by to executors
//!   (XXL-JOB's 32-bit `jobId`), given once per `job_id` and kept, so an
//!   executor keys its queue, kill and busy check by the same number on
//!   every node and across restarts.
//! - `xxl_dispatch`: one row per `/run` sent, numbered by the database
//!   (XXL-JOB's 64-bit `logId`, unique across nodes): the run it belongs
//!   to, the executor it went to, and the result its callback brought.
//!   A callback arriving on any node fills the row in; the node waiting
//!   for it reads it there.
//! - `xxl_app`: the addresses given by hand for an app whose executors do
//!   not register (xxl-job's manual registration), one per line; runs of
//!   such an app go to them instead of the registry's.
//!
//! And it adds `xxl_executor.registered_as`: an address as the executor
//! sent it (the Java executor ends it with `/`, pyxxl does not), which
//! xxl-job's consistent-hash ring is built from.

use sea_orm_migration::prelude::*;

use crate::{backend, index};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum XxlJob {
    Table,
    Id,
    JobId,
}

#[derive(DeriveIden, Clone, Copy)]
enum XxlExecutor {
    Table,
    RegisteredAs,
}

#[derive(DeriveIden, Clone, Copy)]
enum XxlApp {
    Table,
    App,
    Addresses,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum XxlDispatch {
    Table,
    LogId,
    ExecutionId,
    JobNumber,
    Address,
    DispatchedAt,
    HandleCode,
    HandleMsg,
    HandledAt,
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
                    .table(XxlJob::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(XxlJob::Id)
                            .integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(XxlJob::JobId).string_len(191).not_null().unique_key())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(XxlDispatch::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(XxlDispatch::LogId)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(XxlDispatch::ExecutionId).string_len(36).not_null())
                    .col(ColumnDef::new(XxlDispatch::JobNumber).integer().not_null())
                    .col(ColumnDef::new(XxlDispatch::Address).string_len(255).not_null())
                    .col(backend::timestamp(db, XxlDispatch::DispatchedAt).not_null())
                    .col(ColumnDef::new(XxlDispatch::HandleCode).integer().null())
                    .col(ColumnDef::new(XxlDispatch::HandleMsg).text().null())
                    .col(backend::timestamp(db, XxlDispatch::HandledAt).null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(XxlApp::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(XxlApp::App).string_len(191).not_null().primary_key())
                    .col(ColumnDef::new(XxlApp::Addresses).text().not_null())
                    .col(backend::timestamp(db, XxlApp::UpdatedAt).not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(XxlExecutor::Table)
                    .add_column_if_not_exists(ColumnDef::new(XxlExecutor::RegisteredAs).string_len(256).null())
                    .to_owned(),
            )
            .await?;
        // Closing the runs an executor dropped when its job was killed
        // looks them up by job and address.
        manager
            .create_index(index::create(
                "xxl_dispatch",
                "ix_xxl_dispatch_job_address",
                &["job_number", "address"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.has_column("xxl_executor", "registered_as").await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(XxlExecutor::Table)
                        .drop_column(XxlExecutor::RegisteredAs)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(XxlApp::Table).if_exists().to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(XxlDispatch::Table).if_exists().to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(XxlJob::Table).if_exists().to_owned())
            .await
    }
}
