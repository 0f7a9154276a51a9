//! A trigger on `job_info` writes the row of a claimed run whose claim is
//! being replaced before that run has a row of its own.
//!
//! The claim columns of migration 14 stand for a claimed run until its
//! node writes the run's `job_execution` row. When a later claim of the
//! same job names a new run in their place, the run they named must not
//! vanish: if its row does not exist yet (its node died before writing it,
//! or has not written it yet), the row is written as `running`, with the
//! claim's node and instant. Its node writes the same row again (a start is
//! written only where there is no row) and finishes it; a reaper that takes
//! the node for dead marks it `lost`.
//!
//! Until this migration each claim transaction read the claim columns of
//! the rows it was about to claim and wrote the missing rows itself: one
//! more statement, and a look-up per row, in every batch of claims, though
//! the columns are almost always empty when a job is claimed again (a run's
//! end clears them). The trigger does the same work in the statement that
//! replaces the columns, and only for the rows whose columns name a run:
//! its condition reads the old and new claim alone.

use sea_orm_migration::prelude::*;

use crate::backend;
use crate::claim_rows::ClaimRowTrigger;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// The claim columns name a run (all of them set) and the write replaces
/// them with another run; in the SQL of every backend.
const REPLACED: &str = "OLD.claim_id IS NOT NULL AND OLD.claim_for IS NOT NULL \
                        AND NEW.claim_id IS NOT NULL AND NEW.claim_id <> OLD.claim_id";

/// The trigger, on every backend.
const TRIGGER: ClaimRowTrigger = ClaimRowTrigger {
    name: "ruqi_job_info_replaced_claim",
    event: "UPDATE OF claim_id",
    mysql_event: "UPDATE",
    condition: REPLACED,
};

// async_trait expands the hidden `SchemaManager<'_>` lifetime itself.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        backend::run(manager, TRIGGER.create(manager.get_database_backend())).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        backend::run(manager, TRIGGER.drop(manager.get_database_backend())).await
    }
}
