//! Compare-and-set on `job_info`: the statement that decides which scheduler
//! runs a fire, and the bookkeeping writes that must not move `version`.

use ruqi_core::JobStateChange;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::entity::job_info::{Column, Entity};

/// `UPDATE job_info SET … , version = v + 1 WHERE job_id = ? AND version = v`.
/// Exactly one of several concurrent callers with the same `v` gets `true`.
pub(crate) async fn compare_and_set<C: ConnectionTrait>(
    db: &C,
    job_id: &str,
    expected_version: i64,
    change: &JobStateChange,
) -> Result<bool, DbErr> {
    let mut update = Entity::update_many()
        .col_expr(Column::Version, Expr::value(expected_version + 1))
        .filter(Column::JobId.eq(job_id))
        .filter(Column::Version.eq(expected_version));
    if let Some(next) = change.next_run_time {
        update = update.col_expr(Column::NextRunTime, Expr::value(next));
    }
    if let Some(paused) = change.is_paused {
        update = update.col_expr(Column::IsPaused, Expr::value(paused));
    }
    if let Some(flag) = change.run_right_now {
        update = update.col_expr(Column::RunRightNow, Expr::value(flag));
    }
    if let Some(running) = change.is_running {
        update = update.col_expr(Column::IsRunning, Expr::value(running));
    }
    Ok(update.exec(db).await?.rows_affected == 1)
}

/// Writes `last_error` alone; not a schedule change, so `version` stays.
pub(crate) async fn set_last_error<C: ConnectionTrait>(db: &C, job_id: &str, error: Option<&str>) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::LastError, Expr::value(error.map(str::to_owned)))
        .filter(Column::JobId.eq(job_id))
        .exec(db)
        .await?;
    Ok(())
}
