//! Compare-and-set on `job_info`: the statement that decides which scheduler
//! runs a fire, and the bookkeeping writes that must not move `version`.

use std::collections::HashSet;

use ruqi_core::JobStateChange;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait, Value,
};

use super::bulk::BulkUpdate;
use crate::entity::job_info::{Column, Entity};

/// One compare-and-set of a batch: the row, the version it must still have, the change.
pub(crate) struct Claim<'a> {
    pub(crate) job_id: &'a str,
    pub(crate) expected_version: i64,
    pub(crate) change: &'a JobStateChange,
}

/// Every column of [`JobStateChange`] as a flag (whether to set it) and a value.
const CLAIM: BulkUpdate = BulkUpdate {
    table: "job_info",
    key: "job_id",
    values: &[
        "v_id",
        "v_version",
        "v_set_next",
        "v_next",
        "v_set_paused",
        "v_paused",
        "v_set_now",
        "v_now",
        "v_set_running",
        "v_running",
    ],
    set: &[
        (
            "next_run_time",
            "CASE WHEN v.v_set_next THEN v.v_next ELSE t.next_run_time END",
        ),
        (
            "is_paused",
            "CASE WHEN v.v_set_paused THEN v.v_paused ELSE t.is_paused END",
        ),
        (
            "run_right_now",
            "CASE WHEN v.v_set_now THEN v.v_now ELSE t.run_right_now END",
        ),
        (
            "is_running",
            "CASE WHEN v.v_set_running THEN v.v_running ELSE t.is_running END",
        ),
        ("version", "t.version + 1"),
    ],
    filter: Some("t.version = v.v_version"),
};

impl Claim<'_> {
    fn values(&self) -> Vec<Value> {
        let change = self.change;
        vec![
            self.job_id.into(),
            self.expected_version.into(),
            change.next_run_time.is_some().into(),
            change.next_run_time.flatten().into(),
            change.is_paused.is_some().into(),
            change.is_paused.unwrap_or_default().into(),
            change.run_right_now.is_some().into(),
            change.run_right_now.unwrap_or_default().into(),
            change.is_running.is_some().into(),
            change.is_running.unwrap_or_default().into(),
        ]
    }
}

/// Several compare-and-sets in one statement (MySQL: one transaction that
/// locks the rows, then one statement). `claims` name distinct rows; the
/// answer says, claim by claim, whether it won. Rows are locked in key order,
/// so two schedulers claiming overlapping batches do not deadlock each other.
pub(crate) async fn compare_and_set_many(db: &DatabaseConnection, claims: &[Claim<'_>]) -> Result<Vec<bool>, DbErr> {
    let mut order: Vec<usize> = (0..claims.len()).collect();
    order.sort_by(|a, b| claims[*a].job_id.cmp(claims[*b].job_id));
    let won: HashSet<String> = if db.get_database_backend() == DbBackend::MySql {
        let txn = db.begin().await?;
        let current: Vec<(String, i64)> = Entity::find()
            .select_only()
            .column(Column::JobId)
            .column(Column::Version)
            .filter(Column::JobId.is_in(order.iter().map(|i| claims[*i].job_id)))
            .order_by_asc(Column::JobId)
            .lock_exclusive()
            .into_tuple()
            .all(&txn)
            .await?;
        let current: std::collections::HashMap<String, i64> = current.into_iter().collect();
        let winners: Vec<usize> = order
            .iter()
            .copied()
            .filter(|i| current.get(claims[*i].job_id) == Some(&claims[*i].expected_version))
            .collect();
        CLAIM
            .run(&txn, winners.iter().map(|i| claims[*i].values()).collect(), false)
            .await?;
        txn.commit().await?;
        winners.iter().map(|i| claims[*i].job_id.to_owned()).collect()
    } else {
        CLAIM
            .run(db, order.iter().map(|i| claims[*i].values()).collect(), true)
            .await?
            .unwrap_or_default()
            .into_iter()
            .collect()
    };
    Ok(claims.iter().map(|c| won.contains(c.job_id)).collect())
}

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
