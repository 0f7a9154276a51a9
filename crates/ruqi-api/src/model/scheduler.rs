//! The scheduler, its functions and its health as the API shows them.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use serde::Deserialize;
use serde_json::Value;

/// A registered function: a name `func` may take.
#[derive(Debug, Clone, PartialEq, Object)]
pub(crate) struct FunctionInfo {
    /// The name jobs refer to in `func`.
    pub(crate) name: String,
    /// What it does.
    #[oai(nullable)]
    pub(crate) description: Option<String>,
    /// The JSON Schema its `args` must match; `null` when it takes any JSON.
    #[oai(nullable)]
    pub(crate) args_schema: Option<Value>,
    /// Whether it runs on the blocking thread pool.
    pub(crate) blocking: bool,
}

impl From<ruqi::FunctionInfo> for FunctionInfo {
    fn from(info: ruqi::FunctionInfo) -> Self {
        Self {
            name: info.name,
            description: info.description,
            args_schema: info.args_schema,
            blocking: info.blocking,
        }
    }
}

/// What the scheduler of the serving process is doing (RuQi's `scheduler_status`).
///
/// Read from [`ruqi::SchedulerStatus`] by field name, so a field the
/// scheduler adds is served by adding it here.
#[derive(Debug, Clone, PartialEq, Object, Deserialize)]
pub(crate) struct SchedulerStatus {
    /// This process's node name (`job_execution.node`).
    pub(crate) node: String,
    /// When the scheduler started.
    pub(crate) started_at: DateTime<Utc>,
    /// Valid jobs held in memory.
    pub(crate) jobs: u64,
    /// Jobs waiting on the timer.
    pub(crate) scheduled: u64,
    /// Paused jobs.
    pub(crate) paused: u64,
    /// Rows that cannot be scheduled (see their `last_error`).
    pub(crate) invalid: u64,
    /// Runs in progress in this process.
    pub(crate) running: u64,
    /// The earliest deadline; `null` when nothing is scheduled.
    #[oai(nullable)]
    pub(crate) next_wakeup: Option<DateTime<Utc>>,
    /// Seconds from now (the scheduler's clock) until `next_wakeup`; 0 when it is due.
    #[serde(default)]
    #[oai(nullable)]
    pub(crate) seconds_until_next_wakeup: Option<f64>,
    /// The IANA zone of jobs whose `timezone` is `null`.
    #[serde(default)]
    pub(crate) default_timezone: String,
    /// Whether shutdown has begun.
    pub(crate) shutting_down: bool,
    /// The live scheduler nodes on this database, this one included (as of its last heartbeat).
    pub(crate) nodes: Vec<NodeInfo>,
}

/// A scheduler process sharing the database, from the node registry.
#[derive(Debug, Clone, PartialEq, Object, Deserialize)]
pub(crate) struct NodeInfo {
    /// Its node name (`job_execution.node` of its runs).
    pub(crate) node: String,
    /// The host it runs on.
    #[oai(nullable)]
    pub(crate) host: Option<String>,
    /// Its process id.
    #[oai(nullable)]
    pub(crate) pid: Option<i64>,
    /// When it started.
    pub(crate) started_at: DateTime<Utc>,
    /// Its last heartbeat, by the database's clock.
    pub(crate) heartbeat_at: DateTime<Utc>,
}

impl SchedulerStatus {
    /// The status of `scheduler`, with the time until its next wake-up by its own clock.
    pub(crate) fn of(scheduler: &ruqi::Scheduler) -> Result<Self, serde_json::Error> {
        let mut status: Self = serde_json::from_value(serde_json::to_value(scheduler.status())?)?;
        status.default_timezone = scheduler.config().default_timezone.name().to_owned();
        let now = scheduler.clock().now();
        status.seconds_until_next_wakeup = status
            .next_wakeup
            .map(|at| ((at - now).num_milliseconds().max(0) as f64) / 1000.0);
        Ok(status)
    }
}

/// Whether the service can serve.
#[derive(Debug, Clone, PartialEq, Object)]
pub(crate) struct Health {
    /// `ok`, or `unavailable` (the database does not answer, or the scheduler is shutting down).
    pub(crate) status: String,
    /// The node name of the serving process.
    pub(crate) node: String,
    /// Whether the database answered.
    pub(crate) database: bool,
    /// Whether the scheduler is shutting down.
    pub(crate) shutting_down: bool,
}
