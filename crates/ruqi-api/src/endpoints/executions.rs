//! Run history: per job, all, one; and its cleanup.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Enum, OpenApi};
use ruqi::ExecutionStatus;
use ruqi::query::{Counting, ExecutionFilter, Page, Retention};

use super::{ApiTags, Ctx, requested_page};
use crate::auth::{AdminAccess, ReadAccess};
use crate::error::ApiError;
use crate::model::{Cleanup, CleanupResult, DirectJson, Execution, ExecutionCancelled, ExecutionList, ExecutionLog};

/// The history operations.
pub(crate) struct ExecutionsApi(pub(crate) Arc<Ctx>);

fn default_limit() -> u64 {
    Page::default().limit
}

/// An execution's status, as a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub(crate) enum StatusParam {
    /// In progress.
    Running,
    /// Ended well.
    Success,
    /// Ended with an error.
    Failed,
    /// Ran past its `timeout_s`.
    Timeout,
    /// Stopped by a cancel request.
    Cancelled,
    /// A fire that did not run.
    Missed,
    /// Its node died while it ran.
    Lost,
}

impl From<StatusParam> for ExecutionStatus {
    fn from(status: StatusParam) -> Self {
        match status {
            StatusParam::Running => ExecutionStatus::Running,
            StatusParam::Success => ExecutionStatus::Success,
            StatusParam::Failed => ExecutionStatus::Failed,
            StatusParam::Timeout => ExecutionStatus::Timeout,
            StatusParam::Cancelled => ExecutionStatus::Cancelled,
            StatusParam::Missed => ExecutionStatus::Missed,
            StatusParam::Lost => ExecutionStatus::Lost,
        }
    }
}

/// The `status` filter as the query layer takes it.
pub(super) fn status_filter(status: Option<StatusParam>) -> Option<String> {
    status.map(|s| ExecutionStatus::from(s).as_str().to_owned())
}

/// How a list of executions counts its total (see `exact_total`).
fn counting(exact_total: bool) -> Counting {
    if exact_total {
        Counting::Exact
    } else {
        Counting::DEFAULT
    }
}

#[OpenApi(tag = "ApiTags::Executions")]
impl ExecutionsApi {
    /// List a job's executions
    ///
    /// Newest scheduled instant first, without their output. The history of
    /// a deleted job is still listed.
    #[oai(
        path = "/jobs/:job_id/executions",
        method = "get",
        operation_id = "listJobExecutions"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn list_job_executions(
        &self,
        _auth: ReadAccess,
        job_id: Path<String>,
        /// Only executions with this status: `running`, `success`, `failed`,
        /// `timeout`, `cancelled`, `missed` or `lost`.
        status: Query<Option<StatusParam>>,
        /// Only executions scheduled at or after this instant (RFC 3339).
        from: Query<Option<DateTime<Utc>>>,
        /// Only executions scheduled before this instant (RFC 3339).
        to: Query<Option<DateTime<Utc>>>,
        /// Executions to skip (at most 9223372036854775807); past the last one: an empty page.
        #[oai(default)]
        offset: Query<u64>,
        /// Executions to return (1 to 1000).
        #[oai(default = "default_limit", validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<u64>,
        /// Count every matching execution for `total` (`false`, the default:
        /// the count stops past 10,000, and `total_exact` says whether it did).
        #[oai(default)]
        exact_total: Query<bool>,
    ) -> Result<DirectJson<ExecutionList>, ApiError> {
        let filter = ExecutionFilter {
            job_id: Some(job_id.0.clone()),
            job_name: None,
            status: status_filter(status.0),
            from: from.0,
            to: to.0,
            job_id_prefix: None,
            error: None,
            since_job_created: false,
        };
        let page = requested_page(offset.0, limit.0)?;
        let executions = ruqi::query::list_executions(&self.0.db, &filter, page, counting(exact_total.0)).await?;
        if executions.total == 0 {
            // No history: tell a job that never existed from one that never ran.
            self.0.job(&job_id).await?;
        }
        Ok(DirectJson::new(&ExecutionList::from(executions)))
    }

    /// List executions
    ///
    /// Of all jobs, newest scheduled instant first, without their output.
    #[oai(path = "/executions", method = "get", operation_id = "listExecutions")]
    #[allow(clippy::too_many_arguments)]
    async fn list_executions(
        &self,
        _auth: ReadAccess,
        /// Only this job's executions.
        job_id: Query<Option<String>>,
        /// Only executions of jobs in this group.
        job_name: Query<Option<String>>,
        /// Only executions with this status: `running`, `success`, `failed`,
        /// `timeout`, `cancelled`, `missed` or `lost`.
        status: Query<Option<StatusParam>>,
        /// Only executions scheduled at or after this instant (RFC 3339).
        from: Query<Option<DateTime<Utc>>>,
        /// Only executions scheduled before this instant (RFC 3339).
        to: Query<Option<DateTime<Utc>>>,
        /// Executions to skip (at most 9223372036854775807); past the last one: an empty page.
        #[oai(default)]
        offset: Query<u64>,
        /// Executions to return (1 to 1000).
        #[oai(default = "default_limit", validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<u64>,
        /// Only executions of jobs whose id starts with this text (any case).
        #[oai(validator(max_length = 191))]
        job_id_prefix: Query<Option<String>>,
        /// Only executions whose error contains this text (any case).
        #[oai(validator(max_length = 1000))]
        error: Query<Option<String>>,
        /// Count every matching execution for `total` (`false`, the default:
        /// the count stops past 10,000, and `total_exact` says whether it did).
        #[oai(default)]
        exact_total: Query<bool>,
    ) -> Result<DirectJson<ExecutionList>, ApiError> {
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
        let page = requested_page(offset.0, limit.0)?;
        let executions = ruqi::query::list_executions(&self.0.db, &filter, page, counting(exact_total.0)).await?;
        Ok(DirectJson::new(&ExecutionList::from(executions)))
    }

    /// Get an execution
    ///
    /// One execution with its output.
    #[oai(path = "/executions/:id", method = "get", operation_id = "getExecution")]
    async fn get_execution(&self, _auth: ReadAccess, id: Path<String>) -> Result<Json<Execution>, ApiError> {
        ruqi::query::get_execution(&self.0.db, &id)
            .await?
            .map(|row| Json(Execution::full(row)))
            .ok_or_else(|| ApiError::not_found(format!("no execution with id {:?}", id.0)))
    }

    /// Tail an execution's log
    ///
    /// The lines of its log from `from_line` on (numbered from 0), and where
    /// to continue: poll with `from_line = next_line` until `finished` to
    /// follow a run as it goes. Lines come from the function's
    /// `JobContext::log` and from `tracing` events inside the run (when the
    /// application installs `ruqi::run_log_layer()`); a successful run's
    /// returned output follows them.
    #[oai(path = "/executions/:id/log", method = "get", operation_id = "tailExecutionLog")]
    async fn tail_log(
        &self,
        _auth: ReadAccess,
        id: Path<String>,
        /// The first line wanted (0: from the start; at most 9223372036854775807).
        #[oai(default)]
        from_line: Query<u64>,
    ) -> Result<Json<ExecutionLog>, ApiError> {
        if i64::try_from(from_line.0).is_err() {
            return Err(ApiError::bad_parameter(
                "from_line",
                format!("from_line {} is too large: at most {}", from_line.0, i64::MAX),
            ));
        }
        let from = usize::try_from(from_line.0).unwrap_or(usize::MAX);
        // Live first: a run of this process has the freshest log in memory.
        let live = self.0.scheduler.run_log(&id).map(|log| log.tail(from));
        let (status, tail, finished) = match live {
            Some(tail) => (ExecutionStatus::Running.as_str().to_owned(), tail, false),
            None => {
                let row = ruqi::query::get_execution(&self.0.db, &id)
                    .await?
                    .ok_or_else(|| ApiError::not_found(format!("no execution with id {:?}", id.0)))?;
                let running = row.status == ExecutionStatus::Running.as_str();
                let text = row.output.unwrap_or_default();
                let mut tail = ruqi::tail_text(&text, from);
                if running && !text.ends_with('\n') && !tail.lines.is_empty() {
                    // A line still being written on another node: leave it for later.
                    tail.lines.pop();
                    tail.next_line -= 1;
                }
                (row.status, tail, !running)
            }
        };
        Ok(Json(ExecutionLog {
            execution_id: id.0,
            status,
            from_line: from_line.0,
            lines: tail.lines,
            next_line: u64::try_from(tail.next_line).unwrap_or(u64::MAX),
            finished,
            truncated: tail.truncated,
        }))
    }

    /// Cancel an execution
    ///
    /// Tells the run to stop, on whichever node runs it: at once in this
    /// process, at the next heartbeat on another node. It is recorded as
    /// `cancelled` once it has stopped. 409 when it is not running.
    #[oai(path = "/executions/:id/cancel", method = "post", operation_id = "cancelExecution")]
    async fn cancel_execution(
        &self,
        _auth: AdminAccess,
        id: Path<String>,
    ) -> Result<Json<ExecutionCancelled>, ApiError> {
        let outcome = self.0.scheduler.cancel_execution(&id).await?;
        if outcome.here == 0 && outcome.elsewhere == 0 {
            let row = ruqi::query::get_execution(&self.0.db, &id)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("no execution with id {:?}", id.0)))?;
            return Err(ApiError::conflict(format!(
                "execution {:?} is not running (status {})",
                id.0, row.status
            )));
        }
        tracing::info!(execution_id = %id.0, here = outcome.here, elsewhere = outcome.elsewhere, "execution cancelled through the admin API");
        Ok(Json(ExecutionCancelled {
            execution_id: id.0,
            cancelled_here: outcome.here > 0,
            requested_elsewhere: outcome.elsewhere > 0,
        }))
    }

    /// Clean up history
    ///
    /// Deletes old executions and answers how many went; with `dry_run`,
    /// deletes nothing and answers how many would go (`would_delete`), for
    /// a confirmation. An `older_than_days` reaching back before the year
    /// 1000, the earliest date every backend stores, means "older than
    /// anything": nothing is deleted.
    #[oai(path = "/executions/cleanup", method = "post", operation_id = "cleanupExecutions")]
    async fn cleanup(&self, _auth: AdminAccess, cleanup: Json<Cleanup>) -> Result<Json<CleanupResult>, ApiError> {
        let dry_run = cleanup.dry_run.unwrap_or(false);
        let retention = Retention::from(cleanup.0);
        let now = self.0.scheduler.clock().now();
        if dry_run {
            let would_delete = ruqi::query::count_cleanup(&self.0.db, &retention, now).await?;
            return Ok(Json(CleanupResult {
                deleted: 0,
                would_delete: Some(would_delete),
            }));
        }
        let deleted = ruqi::query::cleanup_executions(&self.0.db, &retention, now).await?;
        tracing::info!(
            deleted,
            ?retention,
            "execution history cleaned up through the admin API"
        );
        Ok(Json(CleanupResult {
            deleted,
            would_delete: None,
        }))
    }
}
