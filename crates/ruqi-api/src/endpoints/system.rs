//! Registered functions, the scheduler's status and metrics, and health.

use std::sync::Arc;

use poem::Request;

use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, OpenApi};

use super::{ApiTags, Ctx};
use crate::auth::ReadAccess;
use crate::error::ApiError;
use crate::model::{FunctionInfo, Health, SchedulerStatus};

/// The scheduler operations.
pub(crate) struct SystemApi(pub(crate) Arc<Ctx>);

/// The answer to `GET /health`.
#[derive(ApiResponse)]
pub(crate) enum HealthResponse {
    /// The database answers and the scheduler runs.
    #[oai(status = 200)]
    Ok(Json<Health>),
    /// The database does not answer, or the scheduler is shutting down.
    #[oai(status = 503)]
    Unavailable(Json<Health>),
}

/// The answer to `GET /metrics`.
#[derive(ApiResponse)]
pub(crate) enum MetricsResponse {
    /// The metrics in the Prometheus text exposition format 0.0.4, under the
    /// content type Prometheus parses as that format.
    #[oai(status = 200, content_type = "text/plain; version=0.0.4; charset=utf-8")]
    Ok(PlainText<String>),
}

/// The answer to `GET <prefix>`.
#[derive(ApiResponse)]
pub(crate) enum IndexResponse {
    /// To Swagger UI.
    #[oai(status = 303)]
    SeeDocs(#[oai(header = "Location")] String),
}

#[OpenApi(tag = "ApiTags::Scheduler")]
impl SystemApi {
    /// The API's own root leads a browser to Swagger UI, wherever it is mounted.
    #[oai(path = "/", method = "get", hidden)]
    async fn index(&self, req: &Request) -> IndexResponse {
        IndexResponse::SeeDocs(format!("{}/docs", req.original_uri().path().trim_end_matches('/')))
    }

    /// List registered functions
    ///
    /// The names a job's `func` may take, with what each does and the JSON
    /// Schema its `args` must match.
    #[oai(path = "/functions", method = "get", operation_id = "listFunctions")]
    async fn list_functions(&self, _auth: ReadAccess) -> Result<Json<Vec<FunctionInfo>>, ApiError> {
        let functions = self.0.scheduler.registry().functions();
        Ok(Json(functions.map(|f| FunctionInfo::from(f.info())).collect()))
    }

    /// Scheduler status
    ///
    /// Node name, start time, job counts, runs in progress, and the next
    /// wake-up with the seconds until it.
    #[oai(path = "/scheduler/status", method = "get", operation_id = "schedulerStatus")]
    async fn status(&self, _auth: ReadAccess) -> Result<Json<SchedulerStatus>, ApiError> {
        SchedulerStatus::of(&self.0.scheduler)
            .map(Json)
            .map_err(|e| ApiError::internal(&e))
    }

    /// Prometheus metrics
    ///
    /// The scheduler's metrics in the Prometheus text exposition format 0.0.4
    /// (`text/plain; version=0.0.4; charset=utf-8`), for a scrape config with
    /// `metrics_path: <prefix>/metrics` and the read token as its
    /// `authorization.credentials`:
    ///
    /// - `ruqi_executions_total{status}`: executions by the status of their
    ///   row (`success` `failed` `timeout` `cancelled` `missed` `lost`);
    /// - `ruqi_runs_started_total{trigger_source}`: runs started, by
    ///   `schedule` `manual` `retry` `child`;
    /// - `ruqi_run_duration_seconds{status}`: histogram of run durations;
    /// - `ruqi_fire_lateness_seconds`: histogram of how late scheduled runs
    ///   started after their fire instant;
    /// - `ruqi_job_events_total{event}`: jobs added, modified, removed, found invalid;
    /// - `ruqi_jobs{state}` (`scheduled` `paused` `invalid`), `ruqi_jobs_held`,
    ///   `ruqi_runs_in_progress`, `ruqi_nodes`: gauges of the current status;
    /// - `ruqi_next_wakeup_seconds`: seconds until the earliest deadline, no
    ///   sample while nothing is scheduled;
    /// - `ruqi_change_feed_lag_seconds` and `ruqi_change_feed_lag_max_seconds`:
    ///   commit-to-applied delay of the last change read from the change feed,
    ///   and the longest since start.
    ///
    /// Counters and histograms count what this process's scheduler saw since
    /// it started; no series carries a job id.
    #[oai(path = "/metrics", method = "get", operation_id = "metrics")]
    async fn metrics(&self, _auth: ReadAccess) -> Result<MetricsResponse, ApiError> {
        Ok(MetricsResponse::Ok(PlainText(self.0.scheduler.metrics_text())))
    }

    /// Health
    ///
    /// Needs no token: for load balancers and readiness probes.
    #[oai(path = "/health", method = "get", operation_id = "health")]
    async fn health(&self) -> HealthResponse {
        let database = self.0.db.ping().await.is_ok();
        let status = self.0.scheduler.status();
        let ok = database && !status.shutting_down;
        let health = Health {
            status: if ok { "ok" } else { "unavailable" }.to_owned(),
            node: status.node,
            database,
            shutting_down: status.shutting_down,
        };
        if ok {
            HealthResponse::Ok(Json(health))
        } else {
            HealthResponse::Unavailable(Json(health))
        }
    }
}
