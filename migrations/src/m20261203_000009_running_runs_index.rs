//! The index the node registry reads `running` runs through also holds
//! `cancel_requested_at`: `(status, node, cancel_requested_at)` replaces
//! `(status, node)`.
//!
//! Every heartbeat round asks for this node's runs that a peer asked to
//! cancel (`status = 'running' AND node = ? AND cancel_requested_at IS NOT
//! NULL`). Since a run's `running` row is written with its claim, thousands
//! of rows can be `running` at once when many fires come due together, and
//! on `(status, node)` alone that question read every one of them, twice a
//! second. With the third column it reads only the rows it returns.

use sea_orm_migration::prelude::*;

use crate::index;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const TABLE: &str = "job_execution";
const OLD_INDEX: &str = "idx_job_execution_status_node";
const NEW_INDEX: &str = "idx_job_execution_running";

// async_trait expands the hidden `SchemaManager<'_>` lifetime itself.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns: &[&str] = &["status", "node", "cancel_requested_at"];
        index::replace(manager, TABLE, (NEW_INDEX, columns), OLD_INDEX).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        index::replace(manager, TABLE, (OLD_INDEX, &["status", "node"]), NEW_INDEX).await
    }
}
