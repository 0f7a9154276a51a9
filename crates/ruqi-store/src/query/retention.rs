//! Deleting old execution history.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use ruqi_core::FieldError;
use sea_orm::sea_query::Condition;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::Error;
use crate::entity::job_execution::{Column, Entity};

/// Which history to delete. A row goes when it is in scope (`job_id`,
/// `job_name`), older than `older_than_days` (if set) and not among the
/// newest `keep_last` of its job (if set). Rows still `running` always stay.
///
/// An `older_than_days` reaching back before the year 1000 (the earliest date
/// every backend stores: MySQL's `DATETIME` starts there, and PostgreSQL
/// refuses a comparison with an instant before 4713 BC) means "older than
/// anything": nothing is deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retention {
    /// Delete rows scheduled more than this many days ago.
    pub older_than_days: Option<u32>,
    /// Keep this many newest rows per job.
    pub keep_last: Option<u32>,
    /// Only this job's rows.
    pub job_id: Option<String>,
    /// Only rows of jobs in this group.
    pub job_name: Option<String>,
}

/// The earliest instant every backend stores; no row is scheduled before it.
fn earliest_stored() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(-30_610_224_000, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Ids deleted per statement.
const DELETE_CHUNK: usize = 500;

/// Deletes history as `retention` says and returns how many rows went.
pub async fn cleanup_executions(
    db: &DatabaseConnection,
    retention: &Retention,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    match doomed(db, retention, now).await? {
        Doomed::Nothing => Ok(0),
        Doomed::Matching(cond) => Ok(Entity::delete_many().filter(cond).exec(db).await?.rows_affected),
        Doomed::Among(cond, ids) => {
            let mut deleted = 0;
            for chunk in ids.chunks(DELETE_CHUNK) {
                let result = Entity::delete_many()
                    .filter(cond.clone())
                    .filter(Column::Id.is_in(chunk.iter().cloned()))
                    .exec(db)
                    .await?;
                deleted += result.rows_affected;
            }
            Ok(deleted)
        }
    }
}

/// How many rows [`cleanup_executions`] with the same arguments would delete
/// now; deletes nothing. What an operator is told before confirming.
pub async fn count_cleanup(db: &DatabaseConnection, retention: &Retention, now: DateTime<Utc>) -> Result<u64, Error> {
    match doomed(db, retention, now).await? {
        Doomed::Nothing => Ok(0),
        Doomed::Matching(cond) => Ok(Entity::find().filter(cond).count(db).await?),
        Doomed::Among(cond, ids) => {
            let mut matching = 0;
            for chunk in ids.chunks(DELETE_CHUNK) {
                matching += Entity::find()
                    .filter(cond.clone())
                    .filter(Column::Id.is_in(chunk.iter().cloned()))
                    .count(db)
                    .await?;
            }
            Ok(matching)
        }
    }
}

/// The rows a cleanup deletes.
enum Doomed {
    /// None: the cutoff reaches back before anything stored.
    Nothing,
    /// Every row matching the condition.
    Matching(Condition),
    /// The rows matching the condition among these ids (those beyond each
    /// job's newest `keep_last`).
    Among(Condition, Vec<String>),
}

async fn doomed(db: &DatabaseConnection, retention: &Retention, now: DateTime<Utc>) -> Result<Doomed, Error> {
    if retention.older_than_days.is_none() && retention.keep_last.is_none() {
        return Err(FieldError::new("older_than_days", "", "give older_than_days, keep_last or both").into());
    }
    let mut cond = Condition::all().add(Column::Status.ne("running"));
    if let Some(job_id) = &retention.job_id {
        cond = cond.add(Column::JobId.eq(job_id.as_str()));
    }
    if let Some(job_name) = &retention.job_name {
        cond = cond.add(Column::JobName.eq(job_name.as_str()));
    }
    if let Some(days) = retention.older_than_days {
        let cutoff = TimeDelta::try_days(i64::from(days))
            .and_then(|age| now.checked_sub_signed(age))
            .filter(|cutoff| *cutoff >= earliest_stored());
        let Some(cutoff) = cutoff else {
            return Ok(Doomed::Nothing);
        };
        cond = cond.add(Column::ScheduledFor.lt(cutoff));
    }
    let Some(keep) = retention.keep_last else {
        return Ok(Doomed::Matching(cond));
    };
    // The newest `keep` rows of each job are counted over all its rows, not
    // only the old ones, so "older than 30 days, keep the last 10" never
    // deletes one of a job's ten newest runs.
    let mut scope = Condition::all();
    if let Some(job_id) = &retention.job_id {
        scope = scope.add(Column::JobId.eq(job_id.as_str()));
    }
    if let Some(job_name) = &retention.job_name {
        scope = scope.add(Column::JobName.eq(job_name.as_str()));
    }
    let ranked: Vec<(String, String)> = Entity::find()
        .select_only()
        .column(Column::Id)
        .column(Column::JobId)
        .filter(scope)
        .order_by(Column::JobId, Order::Asc)
        .order_by(Column::ScheduledFor, Order::Desc)
        .order_by(Column::Id, Order::Desc)
        .into_tuple()
        .all(db)
        .await?;
    let mut seen: HashMap<&str, u32> = HashMap::new();
    let beyond: Vec<String> = ranked
        .iter()
        .filter(|(_, job_id)| {
            let n = seen.entry(job_id.as_str()).or_insert(0);
            *n = n.saturating_add(1);
            *n > keep
        })
        .map(|(id, _)| id.clone())
        .collect();
    Ok(Doomed::Among(cond, beyond))
}
