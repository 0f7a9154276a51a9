//! `job_execution`: one row per run attempt (or missed fire).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A `job_execution` row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "job_execution")]
pub struct Model {
    /// Execution id (UUID v7: sorts by creation).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The job it belongs to (the job may since have been deleted).
    pub job_id: String,
    /// The job's `job_name` when it ran.
    pub job_name: Option<String>,
    /// The instant the run was scheduled for.
    pub scheduled_for: DateTimeUtc,
    /// When it started; NULL for a missed fire.
    pub started_at: Option<DateTimeUtc>,
    /// When it finished (or, for a missed fire, when that was noticed).
    pub finished_at: Option<DateTimeUtc>,
    /// Milliseconds from start to finish.
    pub duration_ms: Option<i64>,
    /// `running`, `success`, `failed`, `timeout`, `cancelled`, `missed` or `lost`.
    pub status: String,
    /// 1 for the first attempt.
    pub attempt: i32,
    /// Captured output (capped at 64 KiB).
    #[sea_orm(column_type = "Text", nullable)]
    pub output: Option<String>,
    /// Error message, or why a fire was missed.
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    /// The node (process) that ran it.
    pub node: Option<String>,
    /// `schedule`, `manual`, `retry` or `child`.
    pub trigger_source: String,
    /// When somebody asked for this run to be cancelled; the node running it
    /// picks the request up at its next heartbeat.
    pub cancel_requested_at: Option<DateTimeUtc>,
    /// The arguments the run was given instead of its job's `args`, as JSON
    /// text (a run started by hand with other arguments, and its retries);
    /// NULL when it ran with its job's.
    #[sea_orm(column_type = "Text", nullable)]
    pub args: Option<String>,
}

/// `job_execution` has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
