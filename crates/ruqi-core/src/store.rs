//! The scheduler's view of persistence. `ruqi-store` implements it on
//! sea-orm; the core's own tests implement it in memory.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::Result;
use crate::execution::{ExecutionEnd, ExecutionStart, ExecutionStatus, MissedFire};
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
    /// New `schedule_hash`: the [`JobRecord::plan_basis`](crate::JobRecord::plan_basis)
    /// a new `next_run_time` was planned from.
    pub schedule_hash: Option<i64>,
}

/// One `job_info` row that changed, as the change feed reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowChange {
    /// The row's key.
    pub job_id: String,
    /// Its `version` after the change; `None` when it was deleted (or the
    /// feed cannot tell), which always makes the scheduler read it again.
    pub version: Option<i64>,
    /// When the change was committed, by the database's clock, if the feed
    /// knows (the earliest of the changes folded into this one); the
    /// scheduler reports the delay until it applied it as the feed's lag.
    pub changed_at: Option<DateTime<Utc>>,
}

/// What a change feed delivers next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeBatch {
    /// These rows changed; each appears at most once.
    Rows(Vec<RowChange>),
    /// The feed lost track (it was cut off longer than its log is kept):
    /// compare the whole table with memory once.
    Resync,
    /// The whole table was emptied at once (`TRUNCATE`): every job held
    /// is gone, and whatever rows the table holds now are new jobs, whatever
    /// their `version`.
    Truncated,
}

/// A stream of the changes made to `job_info` by any writer in any process
/// (ORM, admin API, plain SQL, bulk statements).
#[async_trait]
pub trait ChangeFeed: Send + 'static {
    /// Waits for the next changes. An error is transient: the scheduler
    /// logs it and asks again after a pause.
    async fn next_batch(&mut self) -> Result<ChangeBatch>;
}

/// A scheduler process as the node registry shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeInfo {
    /// Its node name (`job_execution.node` of its runs).
    pub node: String,
    /// The host it runs on.
    pub host: Option<String>,
    /// Its process id.
    pub pid: Option<i64>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Its last heartbeat, by the database's clock.
    pub heartbeat_at: DateTime<Utc>,
}

/// A run whose node died before it finished; its row is now `lost`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostRun {
    /// The execution id.
    pub execution_id: String,
    /// The job it ran.
    pub job_id: String,
    /// The instant it ran for.
    pub scheduled_for: DateTime<Utc>,
    /// Its attempt number.
    pub attempt: u32,
    /// The node that died.
    pub node: String,
    /// The arguments its row records, when it ran with others than its
    /// job's (a run started with arguments, a part of a split fire).
    pub args: Option<serde_json::Value>,
}

/// What one heartbeat found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Heartbeat {
    /// Every node in the registry, this one included, with its last
    /// heartbeat by the database's clock (this node's is the one just written).
    pub nodes: Vec<NodeInfo>,
    /// This node's entry was gone: a peer had taken it for dead (and marked
    /// its runs `lost`), and the heartbeat joined the registry again.
    pub rejoined: bool,
}

/// Which runs a cancellation is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelTarget {
    /// Every run of this job in progress.
    Job(String),
    /// This one execution.
    Execution(String),
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

    /// At most `limit` rows in `job_id` order, starting after `after` (from
    /// the first row when `None`): the whole table read a page at a time, so
    /// start-up over a million rows never holds them all at once. An empty
    /// page means the end. The default pages through [`JobStore::load_jobs`].
    async fn load_jobs_after(&self, after: Option<&str>, limit: usize) -> Result<Vec<JobRecord>> {
        let mut rows = self.load_jobs().await?;
        rows.sort_by(|a, b| a.job_id.cmp(&b.job_id));
        Ok(rows
            .into_iter()
            .filter(|row| after.is_none_or(|after| row.job_id.as_str() > after))
            .take(limit)
            .collect())
    }

    /// One row, or `None` when it does not exist (or is not committed yet).
    async fn load_job(&self, job_id: &str) -> Result<Option<JobRecord>>;

    /// Applies `change` and sets `version = expected_version + 1`, but only
    /// if the row's version is still `expected_version`. Returns whether it did.
    async fn update_job_state(&self, job_id: &str, expected_version: i64, change: &JobStateChange) -> Result<bool>;

    /// Claims a scheduled fire: [`update_job_state`](Self::update_job_state)
    /// and, when it wins, what records the run it starts (`start`) and the
    /// `missed` rows of the instants that will not run, in one transaction.
    /// A fire that was claimed is therefore always on record — the store may
    /// name the run on the job's row until the run's own row is written
    /// ([`record_start`](Self::record_start) is still called for it) — and a
    /// claim whose answer was lost can be told from one that never happened
    /// by looking it up ([`claim_status`](Self::claim_status)). The default
    /// writes the claim, then the rows.
    async fn claim_fire(
        &self,
        job_id: &str,
        expected_version: i64,
        change: &JobStateChange,
        start: Option<&ExecutionStart>,
        missed: &[MissedFire],
    ) -> Result<bool> {
        let won = self.update_job_state(job_id, expected_version, change).await?;
        if won {
            if let Some(start) = start {
                self.record_start(start).await?;
            }
            if !missed.is_empty() {
                self.record_missed(missed).await?;
            }
        }
        Ok(won)
    }

    /// The status of the execution row `id`, or `None` when there is no such
    /// row. The default knows no rows.
    async fn execution_status(&self, _id: &str) -> Result<Option<ExecutionStatus>> {
        Ok(None)
    }

    /// Whether the claim of the run `execution_id` of `job_id` was written
    /// ([`claim_fire`](Self::claim_fire)): the status of its row, or
    /// `running` while the job's row names it; `None` when the store has no
    /// record of it. The default asks [`execution_status`](Self::execution_status).
    async fn claim_status(&self, _job_id: &str, execution_id: &str) -> Result<Option<ExecutionStatus>> {
        self.execution_status(execution_id).await
    }

    /// Writes `last_error` (why a row cannot be scheduled, or NULL once it can)
    /// without touching `version`.
    async fn set_last_error(&self, job_id: &str, error: Option<&str>) -> Result<()>;

    /// Inserts `missed` execution rows and sets the jobs' `last_status`.
    /// Idempotent: a row whose id exists already is left as it is, so a
    /// write whose answer was lost can be made again.
    async fn record_missed(&self, fires: &[MissedFire]) -> Result<()>;

    /// Inserts a `running` execution row (and, for runs whose claim did not
    /// already do it, sets the job's `is_running`). It may be written while
    /// the run is already going, and a store may answer before the row is
    /// written; [`JobStore::record_end`] is called after this returns, and
    /// the store writes the end after the start (or both as one row). Also
    /// called for every claimed fire, whatever its claim wrote: a row that
    /// exists already is kept as it is.
    async fn record_start(&self, start: &ExecutionStart) -> Result<()>;

    /// Finishes an execution row and writes the job's `last_status`,
    /// `last_error` and `is_running` (`still_running`: other runs of the job
    /// go on). The row is written whole when it does not exist yet. Only a
    /// `running` row is finished: one that a peer marked `lost` meanwhile
    /// keeps that status. Idempotent, so a write whose outcome is unknown can
    /// be made again; the store retries one that failed for a passing reason
    /// (connection lost, database restarting) until it lands.
    async fn record_end(&self, end: &ExecutionEnd, still_running: bool) -> Result<()>;

    /// Reads several rows at once; ids without a row are left out.
    async fn load_jobs_by_id(&self, job_ids: &[String]) -> Result<Vec<JobRecord>> {
        let mut rows = Vec::with_capacity(job_ids.len());
        for job_id in job_ids {
            if let Some(row) = self.load_job(job_id).await? {
                rows.push(row);
            }
        }
        Ok(rows)
    }

    /// Opens a feed of changes made from now on, or `None` when the store has
    /// none (then only hooks and [`reconcile`](crate::Scheduler::reconcile) bring changes).
    /// Called before the start-up load, so nothing written in between is missed.
    async fn open_change_feed(&self) -> Result<Option<Box<dyn ChangeFeed>>> {
        Ok(None)
    }

    /// Registers this process in the node registry. Fails with
    /// [`Error::NodeNameInUse`](crate::Error::NodeNameInUse) while another live
    /// node has the name; a dead node's entry is taken over (and its runs marked lost).
    async fn register_node(&self, _node: &NodeInfo, _dead_after: Duration) -> Result<Vec<LostRun>> {
        Ok(Vec::new())
    }

    /// Records that the node is alive (re-registering it if a peer took it
    /// for dead), and returns the registry.
    async fn heartbeat(&self, _node: &NodeInfo) -> Result<Heartbeat> {
        Ok(Heartbeat::default())
    }

    /// Finds the nodes other than `me` whose last heartbeat is older than
    /// `dead_after` by the database's clock, removes them and marks their
    /// unfinished runs `lost` (finished at `now`); also `running` rows of
    /// nodes that are not registered at all, except `me`'s. Of several
    /// schedulers doing this at once, each lost run is returned to exactly
    /// one. The caller asks only while its own heartbeats have gone through
    /// for at least `dead_after` (see the scheduler's `cluster` module).
    async fn reap_dead_nodes(&self, _me: &str, _dead_after: Duration, _now: DateTime<Utc>) -> Result<Vec<LostRun>> {
        Ok(Vec::new())
    }

    /// Stores the output of a run in progress (its log so far), so readers
    /// on other nodes can tail it. Does nothing once the run has ended.
    async fn record_progress(&self, _execution_id: &str, _output: &str) -> Result<()> {
        Ok(())
    }

    /// Asks the nodes other than `except_node` to cancel their runs matching
    /// `target`; each picks the request up at its next heartbeat. Returns how
    /// many runs were asked.
    async fn request_cancel(&self, _target: &CancelTarget, _except_node: &str) -> Result<u64> {
        Ok(0)
    }

    /// The execution ids of `node`'s runs that somebody asked to cancel.
    async fn cancel_requests(&self, _node: &str) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    /// Removes the node from the registry at shutdown.
    async fn deregister_node(&self, _node: &str) -> Result<()> {
        Ok(())
    }
}
