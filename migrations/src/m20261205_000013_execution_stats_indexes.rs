//! Indexes that let the execution statistics and the last-status filter read
//! indexes alone:
//!
//! - `(scheduled_for, id, status, duration_ms)` replaces `(scheduled_for,
//!   id)` (migration 12): the statistics of a time range group its rows by
//!   bucket and status and add up their durations, all from the index, and
//!   the history list reads its pages in order through it as through the
//!   old one.
//! - `(job_id, scheduled_for, id, status, duration_ms)` replaces `(job_id,
//!   scheduled_for, id)`: a page of jobs' success rates and mean durations,
//!   and one job's statistics, read only the index.
//! - `job_info (last_status, job_id)`: the jobs list filtered by last status,
//!   in its default order.

use sea_orm_migration::prelude::*;

use crate::index;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// An index of `job_execution`: its name, the one it replaces, and both's columns.
struct Replacement {
    name: &'static str,
    columns: &'static [&'static str],
    replaces: &'static str,
    old_columns: &'static [&'static str],
}

const REPLACEMENTS: [Replacement; 2] = [
    Replacement {
        name: "idx_job_execution_scheduled_stats",
        columns: &["scheduled_for", "id", "status", "duration_ms"],
        replaces: "idx_job_execution_newest",
        old_columns: &["scheduled_for", "id"],
    },
    Replacement {
        name: "idx_job_execution_job_stats",
        columns: &["job_id", "scheduled_for", "id", "status", "duration_ms"],
        replaces: "idx_job_execution_job_newest",
        old_columns: &["job_id", "scheduled_for", "id"],
    },
];

const LAST_STATUS_INDEX: &str = "idx_job_info_last_status";

// async_trait expands the hidden `SchemaManager<'_>` lifetime itself.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for r in &REPLACEMENTS {
            index::replace(manager, "job_execution", (r.name, r.columns), r.replaces).await?;
        }
        manager
            .create_index(index::create("job_info", LAST_STATUS_INDEX, &["last_status", "job_id"]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        index::drop_if_present(manager, "job_info", LAST_STATUS_INDEX).await?;
        for r in &REPLACEMENTS {
            index::replace(manager, "job_execution", (r.replaces, r.old_columns), r.name).await?;
        }
        Ok(())
    }
}
