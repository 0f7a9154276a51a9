//! [`SeaOrmStore`]: the scheduler's [`JobStore`] on a sea-orm connection.
//! One file per kind of statement: `claim.rs` for the compare-and-set on
//! `job_info`, `history.rs` for `job_execution` rows.

mod batch;
mod bulk;
mod claim;
mod control;
mod history;
mod nodes;
mod retry;
pub(crate) mod sqlite_page;
mod writers;

#[cfg(feature = "sqlite")]
pub(crate) use control::sqlite_connection_beside;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ruqi_core::{
    CancelTarget, ChangeFeed, ExecutionEnd, ExecutionStart, ExecutionStatus, Heartbeat, JobRecord, JobStateChange,
    JobStore, LostRun, MissedFire, NodeInfo,
};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

pub use batch::GroupCommitStats;

use crate::entity::job_info;
use crate::feed::{FeedConfig, LogFeed};

/// Rows per `IN (…)` read; keeps every backend under its bind-parameter limit.
const READ_CHUNK: usize = 500;

/// The scheduler's store on a sea-orm connection (SQLite, PostgreSQL or MySQL).
#[derive(Debug, Clone)]
pub struct SeaOrmStore {
    db: DatabaseConnection,
    feed: FeedConfig,
    /// The node registry's connection (see `control.rs`), opened on first use.
    control: Arc<OnceLock<DatabaseConnection>>,
    /// Claims and history rows, written in batches (see `batch.rs`).
    writer: Arc<batch::GroupCommit>,
}

impl SeaOrmStore {
    /// A store on `db`; run [`crate::migrate`] on it first.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            feed: FeedConfig::default(),
            control: Arc::default(),
            writer: Arc::default(),
        }
    }

    /// How the change feed reads the `job_change` log (default: every second,
    /// rows kept ten minutes).
    ///
    /// ```
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// let db = sea_orm::Database::connect("sqlite::memory:").await?;
    /// let store = ruqi_store::SeaOrmStore::new(db).change_feed(ruqi_store::FeedConfig {
    ///     poll_interval: Duration::from_millis(250),
    ///     ..Default::default()
    /// });
    /// # drop(store); Ok(()) }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
    /// ```
    pub fn change_feed(mut self, config: FeedConfig) -> Self {
        self.feed = config;
        self
    }

    /// The connection it uses.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// How many batches the store's group commit has written and how many
    /// claims, run starts and run ends they held: the ratio is the average
    /// batch, 1 when every write went alone.
    pub fn group_commit_stats(&self) -> GroupCommitStats {
        self.writer.stats()
    }

    /// The connection heartbeats, cancellation requests and reaping use:
    /// apart from the pool the runs queue for, so a busy node is not taken for dead.
    fn control(&self) -> &DatabaseConnection {
        self.control.get_or_init(|| control::control_connection(&self.db))
    }
}

pub(crate) fn store_error(e: sea_orm::DbErr) -> ruqi_core::Error {
    ruqi_core::Error::Store(e.to_string())
}

#[async_trait]
impl JobStore for SeaOrmStore {
    async fn load_jobs(&self) -> ruqi_core::Result<Vec<JobRecord>> {
        match job_info::Entity::find().all(&self.db).await {
            Ok(rows) => Ok(rows.into_iter().map(JobRecord::from).collect()),
            Err(error) => load_row_by_row(&self.db, error).await,
        }
    }

    async fn load_jobs_after(&self, after: Option<&str>, limit: usize) -> ruqi_core::Result<Vec<JobRecord>> {
        if let Some(rows) = sqlite_page::load_page(&self.db, after, limit).await {
            return Ok(rows);
        }
        let page = || {
            let mut query = job_info::Entity::find().order_by_asc(job_info::Column::JobId);
            if let Some(after) = after {
                query = query.filter(job_info::Column::JobId.gt(after));
            }
            query.limit(u64::try_from(limit).unwrap_or(u64::MAX))
        };
        match page().all(&self.db).await {
            Ok(rows) => Ok(rows.into_iter().map(JobRecord::from).collect()),
            Err(error) => {
                // One unreadable row must not hide the rest of its page.
                let ids: Vec<String> = match page()
                    .select_only()
                    .column(job_info::Column::JobId)
                    .into_tuple()
                    .all(&self.db)
                    .await
                {
                    Ok(ids) => ids,
                    Err(_) => return Err(store_error(error)),
                };
                read_each(&self.db, ids).await
            }
        }
    }

    async fn load_job(&self, job_id: &str) -> ruqi_core::Result<Option<JobRecord>> {
        let row = job_info::Entity::find_by_id(job_id.to_owned())
            .one(&self.db)
            .await
            .map_err(store_error)?;
        Ok(row.map(JobRecord::from))
    }

    async fn load_jobs_by_id(&self, job_ids: &[String]) -> ruqi_core::Result<Vec<JobRecord>> {
        let mut rows = Vec::with_capacity(job_ids.len());
        for chunk in job_ids.chunks(READ_CHUNK) {
            let found = job_info::Entity::find()
                .filter(job_info::Column::JobId.is_in(chunk.iter().cloned()))
                .all(&self.db)
                .await;
            match found {
                Ok(found) => rows.extend(found.into_iter().map(JobRecord::from)),
                // One unreadable row (a plain SQL edit the column type cannot
                // hold) must not hide the others: read them one by one.
                Err(_) => {
                    for job_id in chunk {
                        match self.load_job(job_id).await {
                            Ok(Some(row)) => rows.push(row),
                            Ok(None) => {}
                            Err(error) => mark_unreadable(&self.db, job_id, &error.to_string()).await?,
                        }
                    }
                }
            }
        }
        Ok(rows)
    }

    async fn open_change_feed(&self) -> ruqi_core::Result<Option<Box<dyn ChangeFeed>>> {
        let feed = LogFeed::open(self.db.clone(), self.feed).await.map_err(store_error)?;
        Ok(Some(Box::new(feed)))
    }

    async fn register_node(&self, node: &NodeInfo, dead_after: Duration) -> ruqi_core::Result<Vec<LostRun>> {
        nodes::register(self.control(), node, dead_after, node.heartbeat_at)
            .await
            .map_err(|e| match e {
                nodes::RegisterError::InUse { heartbeat_at } => ruqi_core::Error::NodeNameInUse {
                    node: node.node.clone(),
                    heartbeat_at: heartbeat_at.to_rfc3339(),
                },
                nodes::RegisterError::Db(e) => store_error(e),
            })
    }

    async fn heartbeat(&self, node: &NodeInfo) -> ruqi_core::Result<Heartbeat> {
        nodes::heartbeat(self.control(), node).await.map_err(store_error)
    }

    async fn reap_dead_nodes(
        &self,
        me: &str,
        dead_after: Duration,
        now: DateTime<Utc>,
    ) -> ruqi_core::Result<Vec<LostRun>> {
        nodes::reap(self.control(), dead_after, nodes::Reaping::AllBut(me), now)
            .await
            .map_err(store_error)
    }

    async fn deregister_node(&self, node: &str) -> ruqi_core::Result<()> {
        nodes::deregister(self.control(), node).await.map_err(store_error)
    }

    async fn update_job_state(
        &self,
        job_id: &str,
        expected_version: i64,
        change: &JobStateChange,
    ) -> ruqi_core::Result<bool> {
        self.writer
            .claim(&self.db, job_id, expected_version, change, None, &[])
            .await
            .map_err(store_error)
    }

    async fn claim_fire(
        &self,
        job_id: &str,
        expected_version: i64,
        change: &JobStateChange,
        start: Option<&ExecutionStart>,
        missed: &[MissedFire],
    ) -> ruqi_core::Result<bool> {
        self.writer
            .claim(&self.db, job_id, expected_version, change, start, missed)
            .await
            .map_err(store_error)
    }

    async fn execution_status(&self, id: &str) -> ruqi_core::Result<Option<ExecutionStatus>> {
        let status = history::execution_status(&self.db, id).await.map_err(store_error)?;
        Ok(status.map(|status| status.parse().unwrap_or(ExecutionStatus::Running)))
    }

    async fn claim_status(&self, job_id: &str, execution_id: &str) -> ruqi_core::Result<Option<ExecutionStatus>> {
        if let Some(status) = self.execution_status(execution_id).await? {
            return Ok(Some(status));
        }
        // No row yet: the claim columns name the run until its row is written.
        let named = job_info::Entity::find_by_id(job_id.to_owned())
            .select_only()
            .column(job_info::Column::ClaimId)
            .into_tuple::<Option<String>>()
            .one(&self.db)
            .await
            .map_err(store_error)?
            .flatten();
        if named.as_deref() == Some(execution_id) {
            return Ok(Some(ExecutionStatus::Running));
        }
        // Its row may have been written between the two reads.
        self.execution_status(execution_id).await
    }

    async fn set_last_error(&self, job_id: &str, error: Option<&str>) -> ruqi_core::Result<()> {
        claim::set_last_error(&self.db, job_id, error)
            .await
            .map_err(store_error)
    }

    async fn record_missed(&self, fires: &[MissedFire]) -> ruqi_core::Result<()> {
        history::record_missed(&self.db, fires).await.map_err(store_error)
    }

    async fn record_start(&self, start: &ExecutionStart) -> ruqi_core::Result<()> {
        self.writer.start(&self.db, start);
        Ok(())
    }

    async fn record_end(&self, end: &ExecutionEnd, still_running: bool) -> ruqi_core::Result<()> {
        self.writer.end(&self.db, end, still_running).await.map_err(store_error)
    }

    async fn record_progress(&self, execution_id: &str, output: &str) -> ruqi_core::Result<()> {
        history::record_progress(&self.db, execution_id, output)
            .await
            .map_err(store_error)
    }

    async fn request_cancel(&self, target: &CancelTarget, except_node: &str) -> ruqi_core::Result<u64> {
        history::request_cancel(&self.db, target, except_node, Utc::now())
            .await
            .map_err(store_error)
    }

    async fn cancel_requests(&self, node: &str) -> ruqi_core::Result<Vec<String>> {
        history::cancel_requests(self.control(), node)
            .await
            .map_err(store_error)
    }
}

/// The slow path of a full load: one row could not be read (a plain SQL edit
/// put text the column type cannot hold, such as `next_run_time = 'soon'` in
/// SQLite). Read the rows one by one, keep the readable ones, and mark each
/// unreadable row with `last_error` instead of failing the whole load.
async fn load_row_by_row(db: &DatabaseConnection, first_error: sea_orm::DbErr) -> ruqi_core::Result<Vec<JobRecord>> {
    let ids: Vec<String> = match job_info::Entity::find()
        .select_only()
        .column(job_info::Column::JobId)
        .into_tuple()
        .all(db)
        .await
    {
        Ok(ids) => ids,
        // Not a bad row: the database itself failed.
        Err(_) => return Err(store_error(first_error)),
    };
    read_each(db, ids).await
}

/// Reads the rows of `ids` one at a time, marking each one that cannot be read.
async fn read_each(db: &DatabaseConnection, ids: Vec<String>) -> ruqi_core::Result<Vec<JobRecord>> {
    let mut rows = Vec::with_capacity(ids.len());
    for job_id in ids {
        match job_info::Entity::find_by_id(job_id.clone()).one(db).await {
            Ok(Some(row)) => rows.push(JobRecord::from(row)),
            Ok(None) => {}
            Err(error) => mark_unreadable(db, &job_id, &error.to_string()).await?,
        }
    }
    Ok(rows)
}

/// Keeps a row that cannot be read and says why in its `last_error`.
async fn mark_unreadable(db: &DatabaseConnection, job_id: &str, error: &str) -> ruqi_core::Result<()> {
    let message = format!("{}the row cannot be read: {error}", ruqi_core::UNSCHEDULABLE_PREFIX);
    tracing::warn!(job_id, error = %message, "unreadable job row kept and skipped");
    claim::set_last_error(db, job_id, Some(&message))
        .await
        .map_err(store_error)
}
