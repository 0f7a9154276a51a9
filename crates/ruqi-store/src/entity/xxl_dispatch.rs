//! `xxl_dispatch`: one row per run sent to an XXL-JOB executor (see
//! [`crate::query::record_dispatch`]).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// An `xxl_dispatch` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "xxl_dispatch")]
pub struct Model {
    /// The number sent as `logId`, given by the database.
    #[sea_orm(primary_key)]
    pub log_id: i64,
    /// The `job_execution.id` of the run.
    pub execution_id: String,
    /// The job's number (`xxl_job.id`, sent as `jobId`).
    pub job_number: i32,
    /// The executor the run went to, without a trailing `/`.
    pub address: String,
    /// When `/run` was sent.
    pub dispatched_at: DateTimeUtc,
    /// The result's code (200 success, 502 timeout, anything else a
    /// failure); `None` until the result is in.
    pub handle_code: Option<i32>,
    /// The result's message: the handler's output or error.
    pub handle_msg: Option<String>,
    /// When the result came in.
    pub handled_at: Option<DateTimeUtc>,
}

/// `xxl_dispatch` has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
