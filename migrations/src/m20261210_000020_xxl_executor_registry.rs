//! Creates `xxl_executor`: the XXL-JOB executors that registered with this
//! center, one row per (app name, address) with its first and last beat.
//! Every ruqi node reads and writes the same rows, so an executor that beats
//! to one node is known to all.
//!
//! The key is (`app`, `address`): 191 and 255 characters, which MySQL can
//! index in utf8mb4 (4 bytes a character, at most 3072 bytes a key).

use sea_orm_migration::prelude::*;

use crate::backend;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum XxlExecutor {
    Table,
    App,
    Address,
    FirstBeatAt,
    LastBeatAt,
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
                    .table(XxlExecutor::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(XxlExecutor::App).string_len(191).not_null())
                    .col(ColumnDef::new(XxlExecutor::Address).string_len(255).not_null())
                    .col(backend::timestamp(db, XxlExecutor::FirstBeatAt).not_null())
                    .col(backend::timestamp(db, XxlExecutor::LastBeatAt).not_null())
                    .primary_key(Index::create().col(XxlExecutor::App).col(XxlExecutor::Address))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(XxlExecutor::Table).if_exists().to_owned())
            .await
    }
}
