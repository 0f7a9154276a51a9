//! [`SeaOrmStore`]: the scheduler's [`JobStore`] on a sea-orm connection.
//! One file per kind of statement: `claim.rs` for the compare-and-set on
//! `job_info`, `history.rs` for `job_execution` rows.

mod claim;
mod history;

use async_trait::async_trait;
use ruqi_core::{ExecutionEnd, ExecutionStart, JobRecord, JobStateChange, JobStore, MissedFire};
use sea_orm::{DatabaseConnection, EntityTrait, QuerySelect};

use crate::entity::job_info;

/// The scheduler's store on a sea-orm connection (SQLite, PostgreSQL or MySQL).
#[derive(Debug, Clone)]
pub struct SeaOrmStore {
    db: DatabaseConnection,
}

impl SeaOrmStore {
    /// A store on `db`; run [`crate::migrate`] on it first.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// The connection it uses.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
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

    async fn load_job(&self, job_id: &str) -> ruqi_core::Result<Option<JobRecord>> {
        let row = job_info::Entity::find_by_id(job_id.to_owned())
            .one(&self.db)
            .await
            .map_err(store_error)?;
        Ok(row.map(JobRecord::from))
    }

    async fn update_job_state(
        &self,
        job_id: &str,
        expected_version: i64,
        change: &JobStateChange,
    ) -> ruqi_core::Result<bool> {
        claim::compare_and_set(&self.db, job_id, expected_version, change)
            .await
            .map_err(store_error)
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
        history::record_start(&self.db, start).await.map_err(store_error)
    }

    async fn record_end(&self, end: &ExecutionEnd, still_running: bool) -> ruqi_core::Result<()> {
        history::record_end(&self.db, end, still_running)
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
    let mut rows = Vec::with_capacity(ids.len());
    for job_id in ids {
        match job_info::Entity::find_by_id(job_id.clone()).one(db).await {
            Ok(Some(row)) => rows.push(JobRecord::from(row)),
            Ok(None) => {}
            Err(error) => {
                let message = format!("{}the row cannot be read: {error}", ruqi_core::UNSCHEDULABLE_PREFIX);
                tracing::warn!(job_id, error = %message, "unreadable job row kept and skipped");
                claim::set_last_error(db, &job_id, Some(&message))
                    .await
                    .map_err(store_error)?;
            }
        }
    }
    Ok(rows)
}
