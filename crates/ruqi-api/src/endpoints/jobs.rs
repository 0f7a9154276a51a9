//! Jobs: list, create, read, replace, update, delete.

use std::sync::Arc;
use std::time::Instant;

use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, OpenApi};
use ruqi::FieldError;
use ruqi::entity::job_info;
use ruqi::query::{JobFilter, JobOrder, Page};
use sea_orm::ActiveValue::Unchanged;
use sea_orm::{ActiveModelTrait, DbErr};

use super::job_pages::{Marks, PageKey};
use super::{ApiTags, Ctx, requested_page};
use crate::auth::{AdminAccess, ReadAccess};
use crate::error::ApiError;
use crate::model::{DirectJson, Job, JobList, JobPatch, JobSpec};

/// The jobs operations.
pub(crate) struct JobsApi(pub(crate) Arc<Ctx>);

/// How a job list is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub(crate) enum JobOrderParam {
    /// By `job_id` (the default).
    JobId,
    /// Soonest `next_run_time` first; paused and finished jobs last.
    NextRunTime,
    /// Newest first.
    CreatedAt,
    /// Most recently changed first.
    UpdatedAt,
    /// By `job_name`, then `job_id`.
    JobName,
}

impl From<JobOrderParam> for JobOrder {
    fn from(order: JobOrderParam) -> Self {
        match order {
            JobOrderParam::JobId => JobOrder::JobId,
            JobOrderParam::NextRunTime => JobOrder::NextRunTime,
            JobOrderParam::CreatedAt => JobOrder::CreatedAt,
            JobOrderParam::UpdatedAt => JobOrder::UpdatedAt,
            JobOrderParam::JobName => JobOrder::JobName,
        }
    }
}

/// A job's last status, as a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub(crate) enum LastStatusParam {
    /// Its last run is in progress.
    Running,
    /// Its last run ended well.
    Success,
    /// Its last run ended with an error.
    Failed,
    /// Its last run ran past its `timeout_s`.
    Timeout,
    /// Its last run was cancelled.
    Cancelled,
    /// Its last fire did not run.
    Missed,
    /// Its last run's node died.
    Lost,
    /// It has not run yet (`last_status` is `null`).
    Never,
}

impl LastStatusParam {
    /// The value `job_info.last_status` holds (`""` for `null`).
    fn stored(self) -> String {
        match self {
            LastStatusParam::Running => "running",
            LastStatusParam::Success => "success",
            LastStatusParam::Failed => "failed",
            LastStatusParam::Timeout => "timeout",
            LastStatusParam::Cancelled => "cancelled",
            LastStatusParam::Missed => "missed",
            LastStatusParam::Lost => "lost",
            LastStatusParam::Never => "",
        }
        .to_owned()
    }
}

/// The answer to `POST /jobs`.
#[derive(ApiResponse)]
pub(crate) enum CreateJobResponse {
    /// The job was created and scheduled.
    #[oai(status = 201)]
    Created(Json<Job>, #[oai(header = "Location")] String),
}

/// The answer to `DELETE /jobs/{job_id}`.
#[derive(ApiResponse)]
pub(crate) enum DeleteJobResponse {
    /// The job is gone; a run in progress finishes and is recorded, and its history is kept.
    #[oai(status = 204)]
    Deleted,
}

#[OpenApi(tag = "ApiTags::Jobs")]
impl JobsApi {
    /// List jobs
    ///
    /// Jobs matching every filter given, one page at a time, with the live
    /// `next_run_time`, `is_running` and `running` of this process's scheduler.
    /// A read-only token sees secret arguments as `"***"`.
    #[oai(path = "/jobs", method = "get", operation_id = "listJobs")]
    #[allow(clippy::too_many_arguments)]
    async fn list_jobs(
        &self,
        auth: ReadAccess,
        /// Only jobs in this group.
        job_name: Query<Option<String>>,
        /// Only jobs running this function.
        func: Query<Option<String>>,
        /// Only paused (`true`) or only active (`false`) jobs.
        paused: Query<Option<bool>>,
        /// Only jobs whose `job_id`, `job_name`, `description` or `func` contains this text (any case).
        text: Query<Option<String>>,
        /// Jobs to skip (at most 9223372036854775807); past the last job: an empty page.
        #[oai(default)]
        offset: Query<u64>,
        /// Jobs to return (1 to 1000).
        #[oai(default = "default_limit", validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<u64>,
        /// The order.
        order: Query<Option<JobOrderParam>>,
        /// Only jobs whose last run ended so (`success`, `failed`, …), or
        /// `never` for jobs that have not run yet.
        last_status: Query<Option<LastStatusParam>>,
    ) -> Result<DirectJson<JobList>, ApiError> {
        let filter = JobFilter {
            job_name: job_name.0,
            func: func.0,
            paused: paused.0,
            text: text.0,
            last_status: last_status.0.map(LastStatusParam::stored),
        };
        let order = order.0.map_or(JobOrder::default(), JobOrder::from);
        let page = requested_page(offset.0, limit.0)?;
        let hide_secrets = self.0.hide_secrets_from(auth.0);
        let key = PageKey::new(filter, order, page, hide_secrets.is_some());
        let read_at = Instant::now();
        let marks = Marks::now(&self.0.db).await?;
        if let Some(body) = marks.and_then(|marks| self.0.job_pages.get(&key, marks)) {
            return Ok(DirectJson::written(body));
        }
        let jobs = ruqi::query::list_jobs(&self.0.db, &key.filter, order, page).await?;
        let answer = DirectJson::new(&JobList::new(jobs, self.0.default_timezone(), hide_secrets));
        if let Some(marks) = marks {
            self.0.job_pages.keep(key, marks, read_at, answer.body());
        }
        Ok(answer)
    }

    /// Create a job
    ///
    /// Validated exactly as a write through the ORM is, then scheduled. A
    /// refused job (422) or a taken `job_id` (409) writes nothing.
    #[oai(path = "/jobs", method = "post", operation_id = "createJob")]
    async fn create_job(
        &self,
        _auth: AdminAccess,
        req: &Request,
        job: Json<JobSpec>,
    ) -> Result<CreateJobResponse, ApiError> {
        if let Some(job_id) = job.job_id.as_deref().filter(|id| id.trim().is_empty()) {
            return Err(FieldError::new("job_id", job_id, "must not be blank: leave it out for a generated id").into());
        }
        job.check_limits()?;
        let txn = job_info::begin_write(&self.0.db).await?;
        let created = job.0.into_new().insert(&txn).await?;
        txn.commit().await?;
        tracing::info!(job_id = %created.job_id, func = %created.func, "job created through the admin API");
        self.0.apply_now(&created.job_id).await;
        let location = format!(
            "{}/{}",
            req.original_uri().path().trim_end_matches('/'),
            encode_path_segment(&created.job_id)
        );
        Ok(CreateJobResponse::Created(
            Json(self.0.job(&created.job_id).await?),
            location,
        ))
    }

    /// Get a job
    ///
    /// A read-only token sees secret arguments as `"***"`; the admin scope sees them in full.
    #[oai(path = "/jobs/:job_id", method = "get", operation_id = "getJob")]
    async fn get_job(&self, auth: ReadAccess, job_id: Path<String>) -> Result<Json<Job>, ApiError> {
        Ok(Json(self.0.job_for(&job_id, auth.0).await?))
    }

    /// Replace a job
    ///
    /// Every writable field takes the body's value, or its default when the
    /// body leaves it out. A changed schedule is planned again from now. A
    /// job deleted meanwhile, even while this request was under way, is 404.
    #[oai(path = "/jobs/:job_id", method = "put", operation_id = "replaceJob")]
    async fn replace_job(
        &self,
        _auth: AdminAccess,
        job_id: Path<String>,
        job: Json<JobSpec>,
    ) -> Result<Json<Job>, ApiError> {
        if let Some(body_id) = &job.job_id
            && *body_id != *job_id
        {
            return Err(FieldError::new(
                "job_id",
                body_id.as_str(),
                format!("differs from the path's {:?}: a job_id cannot be changed", job_id.0),
            )
            .into());
        }
        job.check_limits()?;
        let txn = job_info::begin_write(&self.0.db).await?;
        let replaced = job.0.into_replacement(job_id.0.clone()).update(&txn).await;
        written(replaced, &job_id)?;
        txn.commit().await?;
        tracing::info!(job_id = %job_id.0, "job replaced through the admin API");
        self.0.apply_now(&job_id).await;
        Ok(Json(self.0.job(&job_id).await?))
    }

    /// Update a job
    ///
    /// Changes only the fields the body names; `null` clears a field that may be empty.
    /// A job deleted meanwhile, even while this request was under way, is 404.
    /// Links in `child_jobs` that would close a cycle are refused (422) even
    /// when another request writes the rest of the cycle at the same time.
    #[oai(path = "/jobs/:job_id", method = "patch", operation_id = "updateJob")]
    async fn update_job(
        &self,
        _auth: AdminAccess,
        job_id: Path<String>,
        patch: Json<JobPatch>,
    ) -> Result<Json<Job>, ApiError> {
        patch.check_limits()?;
        let txn = job_info::begin_write(&self.0.db).await?;
        let updated = patch.0.into_update(job_id.0.clone()).update(&txn).await;
        written(updated, &job_id)?;
        txn.commit().await?;
        tracing::info!(job_id = %job_id.0, "job updated through the admin API");
        self.0.apply_now(&job_id).await;
        Ok(Json(self.0.job(&job_id).await?))
    }

    /// Delete a job
    ///
    /// The job stops firing. A run in progress finishes and is recorded; the history stays.
    #[oai(path = "/jobs/:job_id", method = "delete", operation_id = "deleteJob")]
    async fn delete_job(&self, _auth: AdminAccess, job_id: Path<String>) -> Result<DeleteJobResponse, ApiError> {
        let row = job_info::ActiveModel {
            job_id: Unchanged(job_id.0.clone()),
            ..Default::default()
        };
        let deleted = row.delete(&self.0.db).await?;
        if deleted.rows_affected == 0 {
            return Err(ApiError::job_not_found(&job_id));
        }
        tracing::info!(job_id = %job_id.0, "job deleted through the admin API");
        self.0.apply_now(&job_id).await;
        Ok(DeleteJobResponse::Deleted)
    }
}

/// The outcome of an update of `job_id`'s row: an update that found no row
/// to change (it was deleted after the hook read it) is a 404, as one that
/// found none to read.
fn written(outcome: Result<job_info::Model, DbErr>, job_id: &str) -> Result<(), ApiError> {
    match outcome {
        Ok(_) => Ok(()),
        Err(DbErr::RecordNotUpdated) => Err(ApiError::job_not_found(job_id)),
        Err(error) => Err(error.into()),
    }
}

fn default_limit() -> u64 {
    Page::default().limit
}

/// `text` as one path segment: everything but RFC 3986's unreserved characters is percent-encoded.
fn encode_path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::encode_path_segment;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(encode_path_segment("nightly-report_2.v~1"), "nightly-report_2.v~1");
        assert_eq!(encode_path_segment("a b/ä"), "a%20b%2F%C3%A4");
    }
}
