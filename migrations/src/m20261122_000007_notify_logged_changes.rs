//! PostgreSQL: the change log's statement-level trigger functions (from
//! migration 5) notify again when they log a change.
//!
//! They asked `FOUND` whether their `INSERT` logged anything, but the
//! `INSERT` runs with `EXECUTE`, which leaves `FOUND` unset: no `NOTIFY` was
//! sent, and schedulers saw a plain SQL edit only at their next poll of the
//! log (`poll_interval`, a second by default) instead of within
//! milliseconds. The functions now read the row count with
//! `GET DIAGNOSTICS`. Nothing to undo: `down` keeps them. (They are
//! created in their latest form, the one migration 8 brings.)

use sea_orm_migration::prelude::*;

use crate::backend::postgres;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

// async_trait expands the hidden `SchemaManager<'_>` lifetime itself.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        postgres::run_if_postgres(
            manager,
            postgres::statement_change_functions(postgres::Notify::UnlessSkipped),
        )
        .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
