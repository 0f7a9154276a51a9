//! Creates the triggers that bump `job_info.version` for writers that do not.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::backend;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

// async_trait expands the hidden `SchemaManager<'_>` lifetime itself.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements =
            backend::create_version_trigger(manager.get_database_backend(), backend::FIRST_VERSIONED_COLUMNS);
        backend::run(manager, statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = match manager.get_database_backend() {
            DatabaseBackend::Postgres => backend::postgres::drop_version_trigger(),
            DatabaseBackend::MySql => backend::mysql::drop_version_trigger(),
            _ => backend::sqlite::drop_version_trigger(),
        };
        backend::run(manager, statements).await
    }
}
