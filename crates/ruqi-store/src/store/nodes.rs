//! The node registry: joining it, heartbeats (by the database's clock, the
//! one clock all nodes share), and taking the runs of dead nodes as `lost`.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ruqi_core::{ExecutionStatus, Heartbeat, LostRun, NodeInfo};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, SqlErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use super::claim::{self, Locking};
use crate::backend::{db_now, db_time_ago};
use crate::entity::{job_execution, job_info, scheduler_node};

/// Why the registry refused a node, or the database failed.
pub(crate) enum RegisterError {
    InUse { heartbeat_at: DateTime<Utc> },
    Db(DbErr),
}

impl From<DbErr> for RegisterError {
    fn from(e: DbErr) -> Self {
        Self::Db(e)
    }
}

/// Joins the registry. A dead node of the same name is taken over first and
/// its unfinished runs returned as lost; a live one refuses the name.
pub(crate) async fn register(
    db: &DatabaseConnection,
    node: &NodeInfo,
    dead_after: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<LostRun>, RegisterError> {
    let lost = reap(db, dead_after, Reaping::Only(&node.node), now).await?;
    if let Some(live) = scheduler_node::Entity::find_by_id(node.node.clone()).one(db).await? {
        return Err(RegisterError::InUse {
            heartbeat_at: live.heartbeat_at,
        });
    }
    match insert(db, node).await {
        Ok(()) => Ok(lost),
        Err(error) if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            Err(RegisterError::InUse { heartbeat_at: now })
        }
        Err(error) => Err(error.into()),
    }
}

async fn insert<C: ConnectionTrait>(db: &C, node: &NodeInfo) -> Result<(), DbErr> {
    let row = scheduler_node::ActiveModel {
        node: Set(node.node.clone()),
        host: Set(node.host.clone()),
        pid: Set(node.pid),
        started_at: Set(node.started_at),
        heartbeat_at: Set(node.heartbeat_at),
    };
    scheduler_node::Entity::insert(row).exec(db).await?;
    touch(db, &node.node).await?;
    Ok(())
}

/// Sets the node's heartbeat to the database's now; returns whether its row exists.
async fn touch<C: ConnectionTrait>(db: &C, node: &str) -> Result<bool, DbErr> {
    let done = scheduler_node::Entity::update_many()
        .col_expr(scheduler_node::Column::HeartbeatAt, db_now(db.get_database_backend()))
        .filter(scheduler_node::Column::Node.eq(node))
        .exec(db)
        .await?;
    Ok(done.rows_affected > 0)
}

/// Records the heartbeat (joining again if a peer took this node for dead
/// and removed it) and returns the registry.
pub(crate) async fn heartbeat<C: ConnectionTrait>(db: &C, node: &NodeInfo) -> Result<Heartbeat, DbErr> {
    let rejoined = !touch(db, &node.node).await?;
    if rejoined {
        tracing::warn!(node = %node.node, "this node had been taken for dead by a peer; joining the registry again");
        insert(db, node).await?;
    }
    let rows = scheduler_node::Entity::find()
        .order_by_asc(scheduler_node::Column::Node)
        .all(db)
        .await?;
    let nodes = rows
        .into_iter()
        .map(|r| NodeInfo {
            node: r.node,
            host: r.host,
            pid: r.pid,
            started_at: r.started_at,
            heartbeat_at: r.heartbeat_at,
        })
        .collect();
    Ok(Heartbeat { nodes, rejoined })
}

/// Leaves the registry.
pub(crate) async fn deregister<C: ConnectionTrait>(db: &C, node: &str) -> Result<(), DbErr> {
    scheduler_node::Entity::delete_by_id(node.to_owned()).exec(db).await?;
    Ok(())
}

/// Which nodes a [`reap`] looks at.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reaping<'a> {
    /// Only this one: a node joining under the name of a dead one.
    Only(&'a str),
    /// Every node but this one (the reaper itself), and the `running`
    /// rows of nodes that are not registered at all.
    AllBut(&'a str),
}

/// Removes the nodes `reaping` names whose heartbeat is older than
/// `dead_after` and marks their `running` executions `lost`; also runs left
/// `running` by a node that is not in the registry at all. Each removal and
/// each mark is a conditional write, so of several reapers exactly one
/// returns a given lost run.
pub(crate) async fn reap(
    db: &DatabaseConnection,
    dead_after: Duration,
    reaping: Reaping<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<LostRun>, DbErr> {
    let backend = db.get_database_backend();
    let stale = || Expr::col(scheduler_node::Column::HeartbeatAt).lt(db_time_ago(backend, dead_after));
    let dead = scheduler_node::Entity::find().filter(stale());
    let dead = match reaping {
        Reaping::Only(node) => dead.filter(scheduler_node::Column::Node.eq(node)),
        Reaping::AllBut(me) => dead.filter(scheduler_node::Column::Node.ne(me)),
    };
    let mut lost = Vec::new();
    for node in dead.all(db).await? {
        let removed = scheduler_node::Entity::delete_many()
            .filter(scheduler_node::Column::Node.eq(node.node.as_str()))
            .filter(stale())
            .exec(db)
            .await?;
        if removed.rows_affected == 1 {
            tracing::warn!(node = %node.node, last_heartbeat = %node.heartbeat_at, "node stopped heartbeating; taking its runs as lost");
            let reason = format!(
                "lost: node {} stopped heartbeating (last heartbeat {})",
                node.node,
                node.heartbeat_at.to_rfc3339()
            );
            lost.extend(mark_lost(db, &node.node, &reason, now).await?);
        }
    }
    if let Reaping::AllBut(me) = reaping {
        let orphaned = running_nodes_not_registered(db, me).await?;
        for node in orphaned {
            let reason = format!("lost: node {node} is no longer registered");
            lost.extend(mark_lost(db, &node, &reason, now).await?);
        }
    }
    Ok(lost)
}

/// The nodes other than `me` that have `running` runs but are not in the
/// registry. A skip scan: each step asks the `(status, node, …)` index for
/// the next node after the last one, so the cost grows with the number of
/// nodes, not with the number of runs in progress (which can be tens of
/// thousands when many fires come due at once, and this runs twice a second).
async fn running_nodes_not_registered(db: &DatabaseConnection, me: &str) -> Result<Vec<String>, DbErr> {
    let backend = db.get_database_backend();
    let param = if backend == sea_orm::DbBackend::Postgres {
        "$1"
    } else {
        "?"
    };
    let sql = format!(
        "WITH RECURSIVE n(node) AS ( \
           SELECT MIN(node) FROM job_execution WHERE status = 'running' \
           UNION ALL \
           SELECT (SELECT MIN(e.node) FROM job_execution e WHERE e.status = 'running' AND e.node > n.node) \
           FROM n WHERE n.node IS NOT NULL) \
         SELECT node FROM n WHERE node IS NOT NULL AND node <> {param} \
           AND node NOT IN (SELECT node FROM scheduler_node)"
    );
    let rows = db
        .query_all_raw(sea_orm::Statement::from_sql_and_values(backend, sql, [me.into()]))
        .await?;
    rows.iter().map(|row| row.try_get_by_index::<String>(0)).collect()
}

/// Marks the `running` executions of `node` lost and writes their jobs'
/// outcome columns, in one transaction: a reader who sees a run lost also
/// sees its job's `last_status`. The jobs' rows are locked first, in key
/// order, as a run's end locks them, so the two cannot deadlock.
async fn mark_lost(
    db: &DatabaseConnection,
    node: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Vec<LostRun>, DbErr> {
    // Immediate on SQLite: a transaction that reads first and writes later
    // would fail at its first write if another connection wrote meanwhile.
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    let txn = db.begin_with_options(options).await?;
    let running = job_execution::Entity::find()
        .filter(job_execution::Column::Node.eq(node))
        .filter(job_execution::Column::Status.eq(ExecutionStatus::Running.as_str()))
        .all(&txn)
        .await?;
    if running.is_empty() {
        return Ok(Vec::new());
    }
    let jobs: BTreeSet<&str> = running.iter().map(|run| run.job_id.as_str()).collect();
    claim::lock_jobs(&txn, jobs.iter().copied(), Locking::Wait).await?;
    let mut lost = Vec::with_capacity(running.len());
    let mut lost_jobs = BTreeSet::new();
    for run in &running {
        let marked = job_execution::Entity::update_many()
            .col_expr(
                job_execution::Column::Status,
                Expr::value(ExecutionStatus::Lost.as_str()),
            )
            .col_expr(job_execution::Column::FinishedAt, Expr::value(now))
            .col_expr(job_execution::Column::Error, Expr::value(reason))
            .filter(job_execution::Column::Id.eq(run.id.as_str()))
            .filter(job_execution::Column::Status.eq(ExecutionStatus::Running.as_str()))
            .exec(&txn)
            .await?;
        if marked.rows_affected == 1 {
            lost_jobs.insert(run.job_id.as_str());
            lost.push(LostRun {
                execution_id: run.id.clone(),
                job_id: run.job_id.clone(),
                scheduled_for: run.scheduled_for,
                attempt: u32::try_from(run.attempt).unwrap_or(1),
                node: node.to_owned(),
            });
        }
    }
    for job_id in lost_jobs {
        let still_running = job_execution::Entity::find()
            .filter(job_execution::Column::JobId.eq(job_id))
            .filter(job_execution::Column::Status.eq(ExecutionStatus::Running.as_str()))
            .one(&txn)
            .await?
            .is_some();
        let mut update = job_info::Entity::update_many()
            .col_expr(
                job_info::Column::LastStatus,
                Expr::value(ExecutionStatus::Lost.as_str()),
            )
            .col_expr(job_info::Column::LastError, Expr::value(reason))
            .filter(job_info::Column::JobId.eq(job_id));
        if !still_running {
            update = update.col_expr(job_info::Column::IsRunning, Expr::value(false));
        }
        update.exec(&txn).await?;
    }
    txn.commit().await?;
    Ok(lost)
}
