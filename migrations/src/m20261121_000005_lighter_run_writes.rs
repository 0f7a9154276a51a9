//! Makes the writes of a run cheaper for the database.
//!
//! - `job_execution`: one index on `(status, node)` replaces the two on
//!   `status` and on `(node, status)`. Every query that used either filters
//!   on `status` (the runs still `running`, of one node or of nodes no
//!   longer listed), so one index serves them all, and each run's row costs
//!   one index entry less.
//! - PostgreSQL: the version trigger runs only `WHEN` a versioned column
//!   changed without a version bump, the change log is written once per
//!   statement (see `backend::postgres`), and `job_info` pages keep room for
//!   the new versions of their rows (`fillfactor`). Pages written before
//!   the migration keep none until the table is rewritten (`VACUUM FULL
//!   job_info`); pages written after it do.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::backend::{self, postgres};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum JobExecution {
    Table,
    Node,
    Status,
}

const STATUS_NODE_INDEX: &str = "idx_job_execution_status_node";
const STATUS_INDEX: &str = "idx_job_execution_status";
const NODE_STATUS_INDEX: &str = "idx_job_execution_node_status";

/// The statement creating `name` on `job_execution` over `columns`.
fn execution_index(name: &str, columns: &[JobExecution]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.if_not_exists().name(name).table(JobExecution::Table);
    for column in columns {
        index.col(*column);
    }
    index.to_owned()
}

/// The statement dropping `name` from `job_execution`.
fn drop_execution_index(name: &str) -> IndexDropStatement {
    Index::drop().name(name).table(JobExecution::Table).to_owned()
}

// async_trait expands the hidden `SchemaManager<'_>` lifetime itself.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(execution_index(
                STATUS_NODE_INDEX,
                &[JobExecution::Status, JobExecution::Node],
            ))
            .await?;
        for name in [STATUS_INDEX, NODE_STATUS_INDEX] {
            if manager.has_index("job_execution", name).await? {
                manager.drop_index(drop_execution_index(name)).await?;
            }
        }
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let mut statements =
            postgres::create_version_trigger(&backend::versioned_columns(), backend::VersionBump::WhenKept);
        statements.extend(postgres::create_statement_change_triggers());
        statements.push(format!(
            "ALTER TABLE job_info SET (fillfactor = {})",
            postgres::JOB_INFO_FILLFACTOR
        ));
        backend::run(manager, statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            // The guarded version trigger does what the unguarded one did,
            // only cheaper, so it stays.
            let mut statements = postgres::drop_statement_change_triggers();
            statements.extend(postgres::create_change_triggers());
            statements.push("ALTER TABLE job_info RESET (fillfactor)".to_owned());
            backend::run(manager, statements).await?;
        }
        manager
            .create_index(execution_index(STATUS_INDEX, &[JobExecution::Status]))
            .await?;
        manager
            .create_index(execution_index(
                NODE_STATUS_INDEX,
                &[JobExecution::Node, JobExecution::Status],
            ))
            .await?;
        manager.drop_index(drop_execution_index(STATUS_NODE_INDEX)).await
    }
}
