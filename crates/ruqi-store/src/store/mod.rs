//! [`SeaOrmStore`]: the scheduler's [`JobStore`] on a sea-orm connection.
//! One file per kind of statement: `claim.rs` for the compare-and-set on
//! `job_info`, `history.rs` for `job_execution` rows.

mod claim;
mod history;

use async_trait::async_trait;
use ruqi_core::{ExecutionEnd, ExecutionStart, JobRecord, JobStateChange, JobStore, MissedFire};
use sea_orm::{DatabaseConnection, EntityTrait};

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
        let rows = job_info::Entity::find().all(&self.db).await.map_err(store_error)?;
        Ok(rows.into_iter().map(JobRecord::from).collect())
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
