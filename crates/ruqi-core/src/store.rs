//! The scheduler's view of persistence. `ruqi-store` implements it on
//! sea-orm; the core's own tests implement it in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::Result;
use crate::execution::{ExecutionEnd, ExecutionStart, MissedFire};
use crate::job::JobRecord;

/// A compare-and-set change to the scheduler-owned columns of one job row.
/// `None` leaves a column as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobStateChange {
    /// New `next_run_time`.
    pub next_run_time: Option<Option<DateTime<Utc>>>,
    /// New `is_paused`.
    pub is_paused: Option<bool>,
    /// New `run_right_now`.
    pub run_right_now: Option<bool>,
    /// New `is_running`.
    pub is_running: Option<bool>,
}

/// What the scheduler reads and writes.
///
/// Every write that decides whether a fire runs is a compare-and-set on the
/// row's `version` ([`JobStore::update_job_state`]): of several schedulers
/// sharing a database exactly one wins each fire, and a scheduler working
/// from a stale copy of a row loses instead of overwriting a newer edit.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Every row of `job_info`.
    async fn load_jobs(&self) -> Result<Vec<JobRecord>>;

    /// One row, or `None` when it does not exist (or is not committed yet).
    async fn load_job(&self, job_id: &str) -> Result<Option<JobRecord>>;

    /// Applies `change` and sets `version = expected_version + 1`, but only
    /// if the row's version is still `expected_version`. Returns whether it did.
    async fn update_job_state(&self, job_id: &str, expected_version: i64, change: &JobStateChange) -> Result<bool>;

    /// Writes `last_error` (why a row cannot be scheduled, or NULL once it can)
    /// without touching `version`.
    async fn set_last_error(&self, job_id: &str, error: Option<&str>) -> Result<()>;

    /// Inserts `missed` execution rows and sets the jobs' `last_status`.
    async fn record_missed(&self, fires: &[MissedFire]) -> Result<()>;

    /// Inserts a `running` execution row (and, for runs whose claim did not
    /// already do it, sets the job's `is_running`). It may be written while
    /// the run is already going; [`JobStore::record_end`] always comes after it.
    async fn record_start(&self, start: &ExecutionStart) -> Result<()>;

    /// Finishes an execution row and writes the job's `last_status`,
    /// `last_error` and `is_running` (`still_running`: other runs of the job go on).
    async fn record_end(&self, end: &ExecutionEnd, still_running: bool) -> Result<()>;
}
