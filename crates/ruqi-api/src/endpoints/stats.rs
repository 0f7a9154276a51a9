//! Statistics of the run history, counted by the database: per range (runs
//! by status per bucket, durations, success rate) and per job; and the
//! completions of the admin page's job and group filters.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, OpenApi};
use ruqi::query::{ExecutionFilter, StatsOptions, Suggest};

use super::executions::{StatusParam, status_filter};
use super::{ApiTags, Ctx};
use crate::auth::ReadAccess;
use crate::error::ApiError;
use crate::model::{BucketWidth, ExecutionStats, JobStatsList, Suggestions};

/// The statistics operations.
pub(crate) struct StatsApi(pub(crate) Arc<Ctx>);

/// Which values to complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub(crate) enum SuggestField {
    /// Job ids.
    JobId,
    /// Groups (`job_name`), each once.
    JobName,
}

fn default_suggestions() -> u64 {
    20
}

#[OpenApi(tag = "ApiTags::Executions")]
impl StatsApi {
    /// Execution statistics
    ///
    /// The executions matching every filter given (the filters of `GET
    /// /executions`), counted by the database however many there are: runs
    /// per status in buckets of a minute, an hour or a day (chosen from the
    /// range's span when `bucket` is left out: minutes up to 3 hours, hours
    /// up to 8 days, days beyond), their durations with nearest-rank
    /// percentiles, and the success rate. A range of more than 1500 buckets
    /// answers 422 naming `bucket` (or `from` when the bucket was chosen).
    #[oai(path = "/executions/stats", method = "get", operation_id = "executionStats")]
    #[allow(clippy::too_many_arguments)]
    async fn execution_stats(
        &self,
        _auth: ReadAccess,
        /// Only this job's executions.
        job_id: Query<Option<String>>,
        /// Only executions of jobs whose id starts with this text (any case).
        #[oai(validator(max_length = 191))]
        job_id_prefix: Query<Option<String>>,
        /// Only executions of jobs in this group.
        job_name: Query<Option<String>>,
        /// Only executions with this status.
        status: Query<Option<StatusParam>>,
        /// Only executions whose error contains this text (any case).
        #[oai(validator(max_length = 1000))]
        error: Query<Option<String>>,
        /// Only executions scheduled at or after this instant (RFC 3339);
        /// left out: from the first matching one.
        from: Query<Option<DateTime<Utc>>>,
        /// Only executions scheduled before this instant (RFC 3339); left
        /// out: up to the last matching one.
        to: Query<Option<DateTime<Utc>>>,
        /// The width of the buckets: `minute`, `hour` or `day`.
        bucket: Query<Option<BucketWidth>>,
        /// Buckets start at whole minutes, hours and days of this offset
        /// from UTC, in minutes (−840 to 840; 120 for UTC+2).
        #[oai(default, validator(minimum(value = "-840"), maximum(value = "840")))]
        utc_offset_minutes: Query<i32>,
    ) -> Result<Json<ExecutionStats>, ApiError> {
        let filter = ExecutionFilter {
            job_id: job_id.0,
            job_name: job_name.0,
            status: status_filter(status.0),
            from: from.0,
            to: to.0,
            job_id_prefix: job_id_prefix.0,
            error: error.0,
            since_job_created: false,
        };
        let options = StatsOptions {
            bucket: bucket.0.map(Into::into),
            utc_offset_minutes: utc_offset_minutes.0,
        };
        let stats = ruqi::query::execution_stats(&self.0.db, &filter, options).await?;
        Ok(Json(stats.into()))
    }

    /// Statistics per job
    ///
    /// For each job asked for: its runs by status, success rate and mean
    /// duration, over its whole history or the range given. One request
    /// for a page of jobs.
    #[oai(path = "/executions/stats/jobs", method = "get", operation_id = "jobStats")]
    async fn job_stats(
        &self,
        _auth: ReadAccess,
        /// The jobs (1 to 100 ids, the parameter repeated).
        #[oai(validator(min_items = 1, max_items = 100))]
        job_id: Query<Vec<String>>,
        /// Only executions scheduled at or after this instant (RFC 3339).
        from: Query<Option<DateTime<Utc>>>,
        /// Only executions scheduled before this instant (RFC 3339).
        to: Query<Option<DateTime<Utc>>>,
        /// Only each job's own runs: those scheduled at or after its
        /// `created_at`, leaving out the runs of an earlier job deleted
        /// under the same id (and counting none for a job that no longer
        /// exists).
        #[oai(default)]
        since_created: Query<bool>,
    ) -> Result<Json<JobStatsList>, ApiError> {
        let filter = ExecutionFilter {
            from: from.0,
            to: to.0,
            since_job_created: since_created.0,
            ..ExecutionFilter::default()
        };
        let stats = ruqi::query::job_stats(&self.0.db, &job_id.0, &filter).await?;
        Ok(Json(JobStatsList {
            items: stats.into_iter().map(Into::into).collect(),
        }))
    }

    /// Complete a job id or group
    ///
    /// Job ids or groups of the schedule starting with `prefix` (any case),
    /// in order: what a filter box offers as it is typed.
    #[oai(
        path = "/suggestions",
        method = "get",
        operation_id = "suggest",
        tag = "ApiTags::Jobs"
    )]
    async fn suggest(
        &self,
        _auth: ReadAccess,
        /// What to complete: `job_id` or `job_name`.
        field: Query<SuggestField>,
        /// The start typed so far (empty: the first values).
        #[oai(default, validator(max_length = 191))]
        prefix: Query<String>,
        /// Values to return (1 to 100).
        #[oai(
            default = "default_suggestions",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<u64>,
    ) -> Result<Json<Suggestions>, ApiError> {
        let field = match field.0 {
            SuggestField::JobId => Suggest::JobId,
            SuggestField::JobName => Suggest::JobName,
        };
        let items = ruqi::query::suggest(&self.0.db, field, &prefix.0, limit.0).await?;
        Ok(Json(Suggestions { items }))
    }
}
