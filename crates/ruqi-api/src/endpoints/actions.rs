//! Actions on a job: pause, resume, run now, cancel; previews of fire times.

use std::sync::Arc;

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, OpenApi};

use super::{ApiTags, Ctx};
use crate::auth::{AdminAccess, ReadAccess};
use crate::error::ApiError;
use crate::model::{Cancelled, Job, NextRunTimes, RunStarted, RunWith, describe_rule};
use crate::optional_body::OptionalJson;

/// The action operations.
pub(crate) struct ActionsApi(pub(crate) Arc<Ctx>);

/// The answer to `POST /jobs/{job_id}/run`.
#[derive(ApiResponse)]
pub(crate) enum RunResponse {
    /// Taken: the run (if the overlap policy started one) goes on after this answer.
    #[oai(status = 202)]
    Accepted(Json<RunStarted>),
}

/// The answer to `POST /scheduler/wake-up`.
#[derive(ApiResponse)]
pub(crate) enum WakeUpResponse {
    /// The timer is re-checking its deadlines.
    #[oai(status = 204)]
    Woken,
}

fn default_preview_count() -> usize {
    5
}

#[OpenApi(tag = "ApiTags::Actions")]
impl ActionsApi {
    /// Pause a job
    ///
    /// No fire until it is resumed (`is_paused = true`, `next_run_time = null`).
    /// A run in progress goes on. While other writes of the job win, it tries
    /// again; 409 `conflict` only if the row never holds still (nothing changed).
    #[oai(path = "/jobs/:job_id/pause", method = "post", operation_id = "pauseJob")]
    async fn pause_job(&self, _auth: AdminAccess, job_id: Path<String>) -> Result<Json<Job>, ApiError> {
        self.0.ensure_scheduled(&job_id).await?;
        self.0.scheduler.pause(&job_id).await?;
        tracing::info!(job_id = %job_id.0, "job paused through the admin API");
        Ok(Json(self.0.job(&job_id).await?))
    }

    /// Resume a job
    ///
    /// It fires next at its first fire time after now. Concurrent writes: as
    /// for a pause.
    #[oai(path = "/jobs/:job_id/resume", method = "post", operation_id = "resumeJob")]
    async fn resume_job(&self, _auth: AdminAccess, job_id: Path<String>) -> Result<Json<Job>, ApiError> {
        self.0.ensure_scheduled(&job_id).await?;
        self.0.scheduler.resume(&job_id).await?;
        tracing::info!(job_id = %job_id.0, "job resumed through the admin API");
        Ok(Json(self.0.job(&job_id).await?))
    }

    /// Run a job now
    ///
    /// Starts one run (trigger source `manual`) whatever the schedule, and
    /// answers at once with its execution id, without waiting for the run to
    /// end; follow it at `GET /executions/{id}` (its row is written in the
    /// background, in a batch: for a few milliseconds that may answer 404,
    /// ask again). A body with `args` gives
    /// this run (and its retries) other arguments than the job's, checked
    /// against the function's schema first (422 naming the field under
    /// `args`, and nothing runs); the job keeps its own. The job's overlap
    /// policy applies: with a run in progress, `skip` records a `missed` row
    /// and `queue` starts it after the running one, and then no id is given.
    #[oai(path = "/jobs/:job_id/run", method = "post", operation_id = "runJob")]
    async fn run_job(
        &self,
        _auth: AdminAccess,
        job_id: Path<String>,
        body: OptionalJson<RunWith>,
    ) -> Result<RunResponse, ApiError> {
        self.0.ensure_scheduled(&job_id).await?;
        let args = body.0.and_then(|with| match with.args {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(serde_json::Value::Null),
            MaybeUndefined::Value(args) => Some(args),
        });
        let given = args.is_some();
        let execution_id = match args {
            Some(args) => self.0.scheduler.run_now_with_args(&job_id, args).await?,
            None => self.0.scheduler.run_now(&job_id).await?,
        };
        tracing::info!(job_id = %job_id.0, ?execution_id, other_args = given, "run requested through the admin API");
        let message = match &execution_id {
            Some(_) if given => "the run started with the arguments given".to_owned(),
            Some(_) => "the run started".to_owned(),
            None => "no run started now: a run is in progress and the overlap policy skipped this one \
                     (a missed execution records it) or queued it behind the running one"
                .to_owned(),
        };
        Ok(RunResponse::Accepted(Json(RunStarted {
            job_id: job_id.0,
            started: execution_id.is_some(),
            execution_id,
            message,
        })))
    }

    /// Cancel a job's running instances
    ///
    /// Tells every run of the job in progress to stop: at once in this
    /// process, and on the other nodes sharing the database at their next
    /// heartbeat. Each is recorded as `cancelled` once it has stopped. An
    /// async function stops at its next await; a blocking one when it checks
    /// its cancellation token.
    #[oai(path = "/jobs/:job_id/cancel", method = "post", operation_id = "cancelJobRuns")]
    async fn cancel_runs(&self, _auth: AdminAccess, job_id: Path<String>) -> Result<Json<Cancelled>, ApiError> {
        let outcome = self.0.scheduler.cancel_job(&job_id).await?;
        if outcome.here == 0 && outcome.elsewhere == 0 {
            // Nothing running: still tell a typo from a quiet job.
            self.0.job(&job_id).await?;
        }
        tracing::info!(job_id = %job_id.0, here = outcome.here, elsewhere = outcome.elsewhere, "runs cancelled through the admin API");
        Ok(Json(Cancelled {
            job_id: job_id.0,
            cancelled: u64::try_from(outcome.here).unwrap_or(u64::MAX),
            requested_elsewhere: outcome.elsewhere,
        }))
    }

    /// Preview a job's next fire times
    ///
    /// Its pending `next_run_time` first, then what its schedule gives after
    /// it. Empty for a paused or finished job.
    #[oai(path = "/jobs/:job_id/next-run-times", method = "get", operation_id = "previewJob")]
    async fn preview_job(
        &self,
        _auth: ReadAccess,
        job_id: Path<String>,
        /// How many (0 to 100).
        #[oai(
            default = "default_preview_count",
            validator(minimum(value = "0"), maximum(value = "100"))
        )]
        n: Query<usize>,
    ) -> Result<Json<NextRunTimes>, ApiError> {
        self.0.ensure_scheduled(&job_id).await?;
        let next_run_times = self.0.scheduler.preview(&job_id, n.0)?;
        let description = self.0.job(&job_id).await?.rule_description;
        Ok(Json(NextRunTimes {
            next_run_times,
            description,
        }))
    }

    /// Preview a rule
    ///
    /// The next fire times of a rule that is not saved anywhere, counted from
    /// now, and the rule in words: what a form shows while somebody types. A
    /// rule, trigger or time zone that a job would be refused for is refused
    /// here the same way (422).
    #[oai(path = "/preview", method = "get", operation_id = "previewRule")]
    async fn preview_rule(
        &self,
        _auth: ReadAccess,
        /// `cron`, `interval` or `date`.
        trigger: Query<String>,
        /// The rule, as in a job's `rule`.
        rule: Query<String>,
        /// IANA time zone; left out: the scheduler's default. A blank name is refused.
        timezone: Query<Option<String>>,
        /// How many (0 to 100).
        #[oai(
            default = "default_preview_count",
            validator(minimum(value = "0"), maximum(value = "100"))
        )]
        n: Query<usize>,
    ) -> Result<Json<NextRunTimes>, ApiError> {
        let default_zone = self.0.scheduler.config().default_timezone;
        let timezone = timezone.0.unwrap_or_else(|| default_zone.name().to_owned());
        let now = self.0.scheduler.clock().now();
        let next_run_times = ruqi::job::preview_rule(&trigger, &rule, Some(&timezone), n.0, now)?;
        Ok(Json(NextRunTimes {
            next_run_times,
            description: describe_rule(&trigger, &rule, &timezone, now),
        }))
    }

    /// Wake the scheduler up
    ///
    /// Makes the timer re-check its deadlines now, for instance after the
    /// system clock was changed.
    #[oai(
        path = "/scheduler/wake-up",
        method = "post",
        operation_id = "wakeUpScheduler",
        tag = "ApiTags::Scheduler"
    )]
    async fn wake_up(&self, _auth: AdminAccess) -> Result<WakeUpResponse, ApiError> {
        self.0.scheduler.wake_up();
        Ok(WakeUpResponse::Woken)
    }
}
