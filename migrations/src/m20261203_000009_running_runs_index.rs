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

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum JobExecution {
    Table,
    Status,
    Node,
    CancelRequestedAt,
}

const OLD_INDEX: &str = "idx_job_execution_status_node";
const NEW_INDEX: &str = "idx_job_execution_running";

fn create(name: &str, columns: &[JobExecution]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.if_not_exists().name(name).table(JobExecution::Table);
    for column in columns {
        index.col(*column);
    }
    index.to_owned()
}

async fn drop_if_present(manager: &SchemaManager<'_>, name: &str) -> Result<(), DbErr> {
    if manager.has_index("job_execution", name).await? {
        manager
            .drop_index(Index::drop().name(name).table(JobExecution::Table).to_owned())
            .await?;
    }
    Ok(())
}

// async_trait expands the hidden `SchemaManager<'_>` lifetime itself.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            JobExecution::Status,
            JobExecution::Node,
            JobExecution::CancelRequestedAt,
        ];
        manager.create_index(create(NEW_INDEX, &columns)).await?;
        drop_if_present(manager, OLD_INDEX).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(create(OLD_INDEX, &[JobExecution::Status, JobExecution::Node]))
            .await?;
        drop_if_present(manager, NEW_INDEX).await
    }
}
