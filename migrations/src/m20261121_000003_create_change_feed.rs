//! Creates the change feed and the node registry.
//!
//! `job_change` is an append-only log with one row per schedule change of a
//! `job_info` row, written by triggers, so every writer — ORM, admin API,
//! psql, a bulk `UPDATE` — reaches every scheduler. Schedulers read it by
//! its ordered `seq` key (on PostgreSQL a `NOTIFY` at commit wakes them at
//! once) and prune it behind them.
//!
//! `scheduler_node` holds one row per running scheduler with its heartbeat,
//! so a node that stops heartbeating is seen as dead and its unfinished runs
//! are marked `lost`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::backend;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum JobChange {
    Table,
    Seq,
    JobId,
    Version,
    ChangedAt,
}

#[derive(DeriveIden)]
enum SchedulerNode {
    Table,
    Node,
    Host,
    Pid,
    StartedAt,
    HeartbeatAt,
}

// async_trait expands the hidden `SchemaManager<'_>` lifetime itself.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        let mut seq = ColumnDef::new(JobChange::Seq);
        seq.big_integer().not_null().auto_increment().primary_key();
        if db == DatabaseBackend::Sqlite {
            // AUTOINCREMENT (not a plain rowid) so a pruned log never hands out
            // a `seq` a reader has already passed.
            seq.integer();
        }
        manager
            .create_table(
                Table::create()
                    .table(JobChange::Table)
                    .if_not_exists()
                    .col(seq)
                    .col(ColumnDef::new(JobChange::JobId).string_len(191).not_null())
                    // The row's version after the change; NULL when it was deleted.
                    .col(ColumnDef::new(JobChange::Version).big_integer().null())
                    .col(
                        backend::timestamp(db, JobChange::ChangedAt)
                            .not_null()
                            .default(backend::now(db)),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SchedulerNode::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(SchedulerNode::Node)
                            .string_len(191)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(SchedulerNode::Host).string_len(255).null())
                    .col(ColumnDef::new(SchedulerNode::Pid).big_integer().null())
                    .col(backend::timestamp(db, SchedulerNode::StartedAt).not_null())
                    .col(backend::timestamp(db, SchedulerNode::HeartbeatAt).not_null())
                    .to_owned(),
            )
            .await?;
        let statements = match db {
            DatabaseBackend::Postgres => backend::postgres::create_change_triggers(),
            DatabaseBackend::MySql => backend::mysql::create_change_triggers(backend::mysql::NOW),
            _ => backend::sqlite::create_change_triggers(backend::VersionBump::WhenKept),
        };
        backend::run(manager, statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = match manager.get_database_backend() {
            DatabaseBackend::Postgres => backend::postgres::drop_change_triggers(),
            DatabaseBackend::MySql => backend::mysql::drop_change_triggers(),
            _ => backend::sqlite::drop_change_triggers(),
        };
        backend::run(manager, statements).await?;
        manager
            .drop_table(Table::drop().table(SchedulerNode::Table).if_exists().to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(JobChange::Table).if_exists().to_owned())
            .await
    }
}
