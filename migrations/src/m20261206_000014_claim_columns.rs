//! Adds the claim columns to `job_info`: `claim_id`, `claim_node` and
//! `claim_for` name the run that the row's last winning claim started (its
//! `job_execution` id), the node that claimed it, and the instant it fires
//! for.
//!
//! A claim used to insert its run's `running` row in its own transaction,
//! so that a fire that was claimed always had a row; that doubled the
//! history writes of every run (an `INSERT` at the claim, an `UPDATE` at
//! the end). The claim now writes these columns of the row it updates
//! anyway, and the run's row is written once, whole, when the run ends (or
//! as `running` when the run takes longer than a batch). Until it is
//! written, the columns stand in for it:
//! - a claim of the same job writes the row of the run the columns name
//!   before it replaces them, if that row does not exist yet;
//! - a reaper that takes a node for dead writes a `lost` row for each run
//!   its claims name and no row records, in the transaction that removes
//!   the node;
//! - a claim whose answer was lost is known to have committed when the
//!   columns name its run.
//!
//! The columns are not schedule columns: writing them moves no `version`.

use sea_orm_migration::prelude::*;

use crate::backend;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum JobInfo {
    Table,
    ClaimId,
    ClaimNode,
    ClaimFor,
}

// async_trait expands the hidden `SchemaManager<'_>` lifetime itself.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        // One column per statement: SQLite alters one thing at a time.
        for (name, column) in [
            (
                "claim_id",
                ColumnDef::new(JobInfo::ClaimId).string_len(36).null().to_owned(),
            ),
            (
                "claim_node",
                ColumnDef::new(JobInfo::ClaimNode).string_len(191).null().to_owned(),
            ),
            ("claim_for", backend::timestamp(db, JobInfo::ClaimFor).null().to_owned()),
        ] {
            if manager.has_column("job_info", name).await? {
                continue;
            }
            manager
                .alter_table(Table::alter().table(JobInfo::Table).add_column(column).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [JobInfo::ClaimId, JobInfo::ClaimNode, JobInfo::ClaimFor] {
            manager
                .alter_table(Table::alter().table(JobInfo::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
