//! The operations, one file per group; each group is a poem-openapi `OpenApi`
//! over the same [`Ctx`].

mod access;
mod actions;
mod events;
mod executions;
mod executors;
mod job_pages;
mod jobs;
mod stats;
mod system;

pub(crate) use access::AccessApi;
pub(crate) use actions::ActionsApi;
pub(crate) use events::EventsApi;
pub(crate) use executions::ExecutionsApi;
pub(crate) use executors::ExecutorsApi;
pub(crate) use jobs::JobsApi;
pub(crate) use stats::StatsApi;
pub(crate) use system::SystemApi;

use std::sync::Arc;

use poem_openapi::Tags;
use ruqi::query::Page;
use ruqi::{Registry, Scheduler};
use sea_orm::DatabaseConnection;

pub(crate) use job_pages::JobPages;

use crate::auth::Scope;
use crate::error::ApiError;
use crate::model::Job;

/// The groups of operations in the OpenAPI document.
#[derive(Tags)]
pub(crate) enum ApiTags {
    /// The schedule: one job per `job_info` row.
    Jobs,
    /// Pause, resume, run now, cancel, and previews of fire times.
    Actions,
    /// Run history and its cleanup.
    Executions,
    /// Registered functions, the scheduler's status and health.
    Scheduler,
    /// What the caller's token may do.
    Access,
    /// XXL-JOB executors registered with this center.
    Executors,
}

/// What every operation works on.
pub(crate) struct Ctx {
    pub(crate) db: DatabaseConnection,
    pub(crate) scheduler: Scheduler,
    /// Pages of the job list kept while nothing they show has changed.
    pub(crate) job_pages: JobPages,
}

/// Every operation group of the admin API, as one `OpenApi`.
pub(crate) type Apis = (
    JobsApi,
    ActionsApi,
    ExecutionsApi,
    StatsApi,
    SystemApi,
    EventsApi,
    AccessApi,
    ExecutorsApi,
);

/// The operation groups over `ctx`.
pub(crate) fn apis(ctx: Arc<Ctx>) -> Apis {
    (
        JobsApi(ctx.clone()),
        ActionsApi(ctx.clone()),
        ExecutionsApi(ctx.clone()),
        StatsApi(ctx.clone()),
        SystemApi(ctx.clone()),
        EventsApi(ctx.clone()),
        AccessApi,
        ExecutorsApi(ctx),
    )
}

/// The page a list operation was asked for: an `offset` beyond the largest
/// signed 64-bit integer is refused, naming `offset` (databases count rows in
/// signed 64 bits); one past the end of the data gives an empty page.
pub(crate) fn requested_page(offset: u64, limit: u64) -> Result<Page, ApiError> {
    if i64::try_from(offset).is_err() {
        return Err(ApiError::bad_parameter(
            "offset",
            format!("offset {offset} is too large: at most {}", i64::MAX),
        ));
    }
    Ok(Page { offset, limit })
}

impl Ctx {
    /// The job as stored, with the live state of the scheduler laid over it.
    pub(crate) async fn job(&self, job_id: &str) -> Result<Job, ApiError> {
        self.job_for(job_id, Scope::Admin).await
    }

    /// [`Ctx::job`] as a caller with `scope` may see it: its secret arguments
    /// redacted below the admin scope.
    pub(crate) async fn job_for(&self, job_id: &str, scope: Scope) -> Result<Job, ApiError> {
        ruqi::query::get_job(&self.db, job_id)
            .await?
            .map(|view| Job::new(view, self.default_timezone(), self.hide_secrets_from(scope)))
            .ok_or_else(|| ApiError::job_not_found(job_id))
    }

    /// The registry whose secret arguments `scope` may not see, if any: only
    /// the admin scope reads (and writes back) secrets in full.
    pub(crate) fn hide_secrets_from(&self, scope: Scope) -> Option<&Registry> {
        (scope < Scope::Admin).then(|| self.scheduler.registry())
    }

    /// The zone of jobs whose `timezone` is `null`.
    pub(crate) fn default_timezone(&self) -> &'static str {
        self.scheduler.config().default_timezone.name()
    }

    /// Applies the row `job_id` to the scheduler now, so the answer to a
    /// write (and the next action on the job) sees it scheduled. The hook has
    /// already announced it; this only saves the wait.
    pub(crate) async fn apply_now(&self, job_id: &str) {
        if let Err(error) = self.scheduler.sync_job(job_id).await {
            tracing::warn!(job_id, %error, "applying a written job to the scheduler failed; the hook's notification will");
        }
    }

    /// Makes sure the scheduler holds `job_id`: a row it has not applied yet
    /// is applied; a missing row is 404 and a row that cannot be scheduled 409.
    pub(crate) async fn ensure_scheduled(&self, job_id: &str) -> Result<(), ApiError> {
        if self.holds(job_id) {
            return Ok(());
        }
        self.scheduler.sync_job(job_id).await?;
        if self.holds(job_id) {
            return Ok(());
        }
        match self.scheduler.live(job_id).and_then(|live| live.error) {
            Some(why) => Err(ApiError::not_schedulable(job_id, &why)),
            None => Err(ApiError::job_not_found(job_id)),
        }
    }

    fn holds(&self, job_id: &str) -> bool {
        self.scheduler.live(job_id).is_some_and(|live| live.error.is_none())
    }
}
