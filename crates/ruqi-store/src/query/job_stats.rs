//! Per-job summaries of the history (runs by status, success rate, mean
//! duration) for the jobs of a page, counted by the same SQL as
//! [`execution_stats`](super::execution_stats).

use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr};
use serde::Serialize;

use super::ExecutionFilter;
use super::stats::{DurationTotals, StatusCounts, aggregated, aggregates};
use crate::entity::job_execution::{Column, Entity};

/// One job's runs within a filter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobStats {
    /// The job.
    pub job_id: String,
    /// Its runs by status.
    pub counts: StatusCounts,
    /// Their durations.
    pub durations: DurationTotals,
}

/// The [`JobStats`] of each of `job_ids` (in their order, duplicates once;
/// zeros for a job without runs), over the executions `filter` also
/// matches (its `job_id` is ignored). One grouped statement for them all.
///
/// ```
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use ruqi_store::query::{ExecutionFilter, job_stats};
///
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// ruqi_store::migrate(&db).await?;
/// let stats = job_stats(&db, &["nightly".to_owned()], &ExecutionFilter::default()).await?;
/// assert_eq!(stats[0].counts.total(), 0);
/// assert_eq!(stats[0].counts.success_rate(), None);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
/// ```
pub async fn job_stats(
    db: &DatabaseConnection,
    job_ids: &[String],
    filter: &ExecutionFilter,
) -> Result<Vec<JobStats>, DbErr> {
    let mut stats: Vec<JobStats> = Vec::with_capacity(job_ids.len());
    for job_id in job_ids {
        if !stats.iter().any(|s| &s.job_id == job_id) {
            stats.push(JobStats {
                job_id: job_id.clone(),
                counts: StatusCounts::default(),
                durations: DurationTotals::default(),
            });
        }
    }
    if stats.is_empty() {
        return Ok(stats);
    }
    let filter = ExecutionFilter {
        job_id: None,
        ..filter.clone()
    };
    let mut select = Query::select();
    select
        .column(Column::JobId)
        .from(Entity)
        .cond_where(filter.condition())
        .and_where(Column::JobId.is_in(stats.iter().map(|s| s.job_id.clone())))
        .add_group_by([Expr::col(Column::JobId)]);
    let backend = db.get_database_backend();
    for row in db.query_all_raw(aggregated(select, backend)).await? {
        let job_id: String = row.try_get("", "job_id")?;
        let (status, runs, durations) = aggregates(&row)?;
        // MySQL's collation may match ids that differ in case: such a row
        // belongs to no id asked for.
        for slot in stats.iter_mut().filter(|s| s.job_id == job_id) {
            slot.counts.add(&status, runs);
            slot.durations.merge(&durations);
        }
    }
    Ok(stats)
}
