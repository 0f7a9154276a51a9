//! Execution history as the API shows it, and its cleanup.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use ruqi::entity::job_execution;
use ruqi::query::{Paged, Retention};
use serde::Serialize;
use serde_json::Value;

/// One run of a job (or one fire that did not run).
#[derive(Debug, Clone, PartialEq, Object, Serialize)]
pub(crate) struct Execution {
    /// The execution id (UUID v7).
    pub(crate) id: String,
    /// The job it belongs to (the job may since have been deleted).
    pub(crate) job_id: String,
    /// The job's group when it ran.
    #[oai(nullable)]
    pub(crate) job_name: Option<String>,
    /// The instant the run was scheduled for.
    #[serde(serialize_with = "super::direct_json::rfc3339")]
    pub(crate) scheduled_for: DateTime<Utc>,
    /// When it started; `null` for a missed fire.
    #[oai(nullable)]
    #[serde(serialize_with = "super::direct_json::rfc3339_or_null")]
    pub(crate) started_at: Option<DateTime<Utc>>,
    /// When it finished.
    #[oai(nullable)]
    #[serde(serialize_with = "super::direct_json::rfc3339_or_null")]
    pub(crate) finished_at: Option<DateTime<Utc>>,
    /// Milliseconds from start to finish.
    #[oai(nullable)]
    pub(crate) duration_ms: Option<i64>,
    /// `running`, `success`, `failed`, `timeout`, `cancelled`, `missed` or `lost`.
    pub(crate) status: String,
    /// 1 for the first attempt.
    pub(crate) attempt: i32,
    /// What the function wrote (capped at 64 KiB). Left out of lists; read
    /// one execution for it.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) output: Option<String>,
    /// The error message, or why a fire was missed.
    #[oai(nullable)]
    pub(crate) error: Option<String>,
    /// The node (process) that ran it.
    #[oai(nullable)]
    pub(crate) node: Option<String>,
    /// `schedule`, `manual`, `retry` or `child`.
    pub(crate) trigger_source: String,
    /// The arguments this run was given instead of its job's (a run started
    /// by hand with other arguments, one part of a fire its function split,
    /// such as one shard of an XXL-JOB broadcast, and their retries), with
    /// the values its function marks secret shown as `***`. Left out when it
    /// ran with its job's.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) args: Option<Value>,
}

impl Execution {
    /// The execution with its output.
    pub(crate) fn full(row: job_execution::Model) -> Self {
        Self {
            id: row.id,
            job_id: row.job_id,
            job_name: row.job_name,
            scheduled_for: row.scheduled_for,
            started_at: row.started_at,
            finished_at: row.finished_at,
            duration_ms: row.duration_ms,
            status: row.status,
            attempt: row.attempt,
            output: row.output,
            error: row.error,
            node: row.node,
            trigger_source: row.trigger_source,
            // A value typed in by hand that is not JSON is shown as its text.
            args: row
                .args
                .map(|text| serde_json::from_str(&text).unwrap_or(Value::String(text))),
        }
    }

    /// The execution as a list shows it: without its output.
    pub(crate) fn summary(row: job_execution::Model) -> Self {
        Self {
            output: None,
            ..Self::full(row)
        }
    }
}

/// One page of executions, newest scheduled instant first.
#[derive(Debug, Clone, PartialEq, Object, Serialize)]
pub(crate) struct ExecutionList {
    /// The executions of this page (without their output).
    pub(crate) items: Vec<Execution>,
    /// All executions matching the filters, or, with `total_exact` false,
    /// how many at least: the count stops past 10,000 unless `exact_total`
    /// asks for every row (the last page always knows its total).
    pub(crate) total: u64,
    /// Whether `total` is the exact number of matching executions.
    pub(crate) total_exact: bool,
    /// The page's offset.
    pub(crate) offset: u64,
    /// The page's size limit.
    pub(crate) limit: u64,
}

impl From<Paged<job_execution::Model>> for ExecutionList {
    fn from(page: Paged<job_execution::Model>) -> Self {
        Self {
            items: page.items.into_iter().map(Execution::summary).collect(),
            total: page.total,
            total_exact: page.total_exact,
            offset: page.offset,
            limit: page.limit,
        }
    }
}

/// Which history to delete. A row goes when it is in scope (`job_id`,
/// `job_name`), older than `older_than_days` (if given) and not among the
/// newest `keep_last` of its job (if given). Give at least one of
/// `older_than_days` and `keep_last`. Runs in progress always stay. With
/// `dry_run`, nothing is deleted: the answer counts what would be.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct Cleanup {
    /// Delete rows scheduled more than this many days ago; a count reaching
    /// back before the year 1000 (the earliest date every backend stores) deletes nothing.
    #[oai(nullable, validator(minimum(value = "0"), maximum(value = "4294967295")))]
    pub(crate) older_than_days: Option<u32>,
    /// Keep this many newest rows per job.
    #[oai(nullable, validator(minimum(value = "0"), maximum(value = "4294967295")))]
    pub(crate) keep_last: Option<u32>,
    /// Only this job's rows.
    #[oai(nullable, deserialize_with = "super::strict::optional_string")]
    pub(crate) job_id: Option<String>,
    /// Only rows of jobs in this group.
    #[oai(nullable, deserialize_with = "super::strict::optional_string")]
    pub(crate) job_name: Option<String>,
    /// Only count the rows that would go (`would_delete`); delete nothing.
    /// Left out: `false`. Not `null`.
    #[oai(deserialize_with = "super::strict::optional_flag")]
    pub(crate) dry_run: Option<bool>,
}

impl From<Cleanup> for Retention {
    fn from(c: Cleanup) -> Self {
        Retention {
            older_than_days: c.older_than_days,
            keep_last: c.keep_last,
            job_id: c.job_id,
            job_name: c.job_name,
        }
    }
}

/// How much history went (or, for a dry run, would go).
#[derive(Debug, Clone, PartialEq, Object)]
pub(crate) struct CleanupResult {
    /// Rows deleted (0 for a dry run).
    pub(crate) deleted: u64,
    /// Only for a dry run: the rows that would be deleted now.
    #[oai(skip_serializing_if_is_none)]
    pub(crate) would_delete: Option<u64>,
}

/// The lines of an execution's log from a given line on: xxl-job's rolling
/// log. Ask again with `from_line = next_line` until `finished`.
#[derive(Debug, Clone, PartialEq, Object)]
pub(crate) struct ExecutionLog {
    /// The execution.
    pub(crate) execution_id: String,
    /// Its status now.
    pub(crate) status: String,
    /// The line number of the first line returned (numbered from 0).
    pub(crate) from_line: u64,
    /// The lines from `from_line` on. While the run goes on only complete
    /// lines are given; a run on another node shows its log as of up to a second ago.
    pub(crate) lines: Vec<String>,
    /// Where to continue: `from_line` for the next request.
    pub(crate) next_line: u64,
    /// The run has ended, and `lines` reach the end of its log.
    pub(crate) finished: bool,
    /// The log hit its 64 KiB cap and the rest was dropped (its last line says so).
    pub(crate) truncated: bool,
}

/// What `POST /executions/{id}/cancel` did.
#[derive(Debug, Clone, PartialEq, Object)]
pub(crate) struct ExecutionCancelled {
    /// The execution.
    pub(crate) execution_id: String,
    /// It runs in this process and was told to stop.
    pub(crate) cancelled_here: bool,
    /// It runs on another node, which was asked to stop it (at its next heartbeat).
    pub(crate) requested_elsewhere: bool,
}
