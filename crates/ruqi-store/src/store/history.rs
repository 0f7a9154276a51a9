//! `job_execution` rows, and the outcome columns of `job_info` that go with them.

use ruqi_core::{CancelTarget, ExecutionEnd, ExecutionStart, ExecutionStatus, MissedFire, TriggerSource};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::entity::{job_execution, job_info};

/// Rows per multi-row insert; keeps every backend under its bind-parameter limit.
const INSERT_CHUNK: usize = 500;

pub(crate) async fn record_missed<C: ConnectionTrait>(db: &C, fires: &[MissedFire]) -> Result<(), DbErr> {
    for chunk in fires.chunks(INSERT_CHUNK) {
        let rows = chunk.iter().map(|f| job_execution::ActiveModel {
            id: Set(f.id.clone()),
            job_id: Set(f.job_id.clone()),
            job_name: Set(f.job_name.clone()),
            scheduled_for: Set(f.scheduled_for),
            started_at: Set(None),
            finished_at: Set(Some(f.noticed_at)),
            duration_ms: Set(None),
            status: Set(ExecutionStatus::Missed.as_str().to_owned()),
            attempt: Set(1),
            output: Set(None),
            error: Set(Some(f.reason.clone())),
            node: Set(Some(f.node.clone())),
            trigger_source: Set("schedule".to_owned()),
            cancel_requested_at: Set(None),
        });
        job_execution::Entity::insert_many(rows).exec(db).await?;
    }
    if let Some(last) = fires.iter().max_by_key(|f| f.scheduled_for) {
        job_info::Entity::update_many()
            .col_expr(
                job_info::Column::LastStatus,
                Expr::value(ExecutionStatus::Missed.as_str()),
            )
            .col_expr(job_info::Column::LastError, Expr::value(last.reason.clone()))
            .filter(job_info::Column::JobId.eq(last.job_id.as_str()))
            .exec(db)
            .await?;
    }
    Ok(())
}

pub(crate) async fn record_start<C: ConnectionTrait>(db: &C, start: &ExecutionStart) -> Result<(), DbErr> {
    let row = job_execution::ActiveModel {
        id: Set(start.id.clone()),
        job_id: Set(start.job_id.clone()),
        job_name: Set(start.job_name.clone()),
        scheduled_for: Set(start.scheduled_for),
        started_at: Set(Some(start.started_at)),
        finished_at: Set(None),
        duration_ms: Set(None),
        status: Set(ExecutionStatus::Running.as_str().to_owned()),
        attempt: Set(i32::try_from(start.attempt).unwrap_or(i32::MAX)),
        output: Set(None),
        error: Set(None),
        node: Set(Some(start.node.clone())),
        trigger_source: Set(start.trigger_source.as_str().to_owned()),
        cancel_requested_at: Set(None),
    };
    job_execution::Entity::insert(row).exec_without_returning(db).await?;
    if start.trigger_source != TriggerSource::Schedule {
        // Scheduled fires set is_running in their claim; other runs set it here.
        job_info::Entity::update_many()
            .col_expr(job_info::Column::IsRunning, Expr::value(true))
            .filter(job_info::Column::JobId.eq(start.job_id.as_str()))
            .exec(db)
            .await?;
    }
    Ok(())
}

pub(crate) async fn record_end<C: ConnectionTrait>(
    db: &C,
    end: &ExecutionEnd,
    still_running: bool,
) -> Result<(), DbErr> {
    job_execution::Entity::update_many()
        .col_expr(job_execution::Column::Status, Expr::value(end.status.as_str()))
        .col_expr(job_execution::Column::FinishedAt, Expr::value(Some(end.finished_at)))
        .col_expr(job_execution::Column::DurationMs, Expr::value(Some(end.duration_ms)))
        .col_expr(job_execution::Column::Output, Expr::value(end.output.clone()))
        .col_expr(job_execution::Column::Error, Expr::value(end.error.clone()))
        .filter(job_execution::Column::Id.eq(end.id.as_str()))
        .exec(db)
        .await?;
    job_info::Entity::update_many()
        .col_expr(job_info::Column::LastStatus, Expr::value(end.status.as_str()))
        .col_expr(job_info::Column::LastError, Expr::value(end.error.clone()))
        .col_expr(job_info::Column::IsRunning, Expr::value(still_running))
        .filter(job_info::Column::JobId.eq(end.job_id.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

/// Writes the log of a run in progress, so a reader on any node can tail it.
pub(crate) async fn record_progress<C: ConnectionTrait>(db: &C, execution_id: &str, output: &str) -> Result<(), DbErr> {
    job_execution::Entity::update_many()
        .col_expr(job_execution::Column::Output, Expr::value(Some(output.to_owned())))
        .filter(job_execution::Column::Id.eq(execution_id))
        .filter(job_execution::Column::Status.eq(ExecutionStatus::Running.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

/// Marks the running executions of a job, or one execution, as asked to stop,
/// leaving out those of `except_node` (which cancels its own at once).
/// Returns how many were marked.
pub(crate) async fn request_cancel<C: ConnectionTrait>(
    db: &C,
    target: &CancelTarget,
    except_node: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64, DbErr> {
    let mut update = job_execution::Entity::update_many()
        .col_expr(job_execution::Column::CancelRequestedAt, Expr::value(Some(now)))
        .filter(job_execution::Column::Status.eq(ExecutionStatus::Running.as_str()))
        .filter(job_execution::Column::Node.ne(except_node));
    update = match target {
        CancelTarget::Job(job_id) => update.filter(job_execution::Column::JobId.eq(job_id.as_str())),
        CancelTarget::Execution(id) => update.filter(job_execution::Column::Id.eq(id.as_str())),
    };
    Ok(update.exec(db).await?.rows_affected)
}

/// The running executions of `node` that somebody asked to stop.
pub(crate) async fn cancel_requests<C: ConnectionTrait>(db: &C, node: &str) -> Result<Vec<String>, DbErr> {
    use sea_orm::QuerySelect;
    job_execution::Entity::find()
        .select_only()
        .column(job_execution::Column::Id)
        .filter(job_execution::Column::Node.eq(node))
        .filter(job_execution::Column::Status.eq(ExecutionStatus::Running.as_str()))
        .filter(job_execution::Column::CancelRequestedAt.is_not_null())
        .into_tuple::<String>()
        .all(db)
        .await
}
