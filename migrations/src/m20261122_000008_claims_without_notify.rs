//! PostgreSQL: a transaction can log its `job_info` changes without waking
//! the listening schedulers, and ruqi's batches of claims do.
//!
//! A transaction that sends a `NOTIFY` takes the server-wide lock of the
//! notification queue at its commit and holds it until its commit record is
//! on disk, so notifying commits run one at a time. With several schedulers
//! on one database, every batch of claims notified and they queued behind
//! each other for that lock; three processes ran 30,000 due jobs at about
//! 1,200/s together. The change-log functions now skip the `NOTIFY` when the
//! transaction has set [`SKIP_NOTIFY_SETTING`](crate::SKIP_NOTIFY_SETTING)
//! to `on`. The change is still logged, and the other schedulers read it at
//! their next poll (a second by default), before they would take the fire
//! over; the claim itself stays a compare-and-set, so a node that has not
//! seen it yet loses its own claim of the row and re-reads it. Every other
//! writer (sea-orm, the admin API, plain SQL) notifies as before. `down`
//! brings back the functions that always notify.

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

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        postgres::run_if_postgres(manager, postgres::statement_change_functions(postgres::Notify::Always)).await
    }
}
