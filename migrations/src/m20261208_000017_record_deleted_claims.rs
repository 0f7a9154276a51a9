//! A trigger on `job_info` writes the row of a claimed run whose job is
//! deleted before that run has a row of its own.
//!
//! The claim columns of migration 14 stand for a claimed run until its node
//! writes the run's `job_execution` row; migration 15 keeps them from
//! vanishing when a later claim replaces them. A `DELETE` of the job took
//! them away as well: a node that died between claiming a fire and writing
//! its row then left a fire with no row at all, which no reaper could find.
//! The row is now written, as `running` with the claim's node and instant,
//! by the `DELETE` itself. A live node finishes it as it would have anyway
//! (`missed`: the job was deleted before the run could start); a reaper that
//! takes the node for dead marks it `lost`. A row the run already has is
//! left as it is.

use sea_orm_migration::prelude::*;

use crate::backend;
use crate::claim_rows::ClaimRowTrigger;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// The deleted row's claim columns name a run.
const CLAIMED: &str = "OLD.claim_id IS NOT NULL AND OLD.claim_for IS NOT NULL";

/// The trigger, on every backend.
const TRIGGER: ClaimRowTrigger = ClaimRowTrigger {
    name: "ruqi_job_info_deleted_claim",
    event: "DELETE",
    mysql_event: "DELETE",
    condition: CLAIMED,
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
