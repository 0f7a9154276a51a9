//! The node registry: joining it, heartbeats (by the database's clock, the
//! one clock all nodes share), and taking the runs of dead nodes as `lost`.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ruqi_core::{ExecutionStatus, Heartbeat, LostRun, NodeInfo, TriggerSource};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, LockType};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, SqlErr,
};

use super::claim::{self, Locking};
use super::history;
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
        let reason = format!(
            "lost: node {} stopped heartbeating (last heartbeat {})",
            node.node,
            node.heartbeat_at.to_rfc3339()
        );
        let removal = Removal::IfStale(dead_after);
        if let Some(runs) = mark_lost(db, &node.node, &reason, now, removal).await? {
            tracing::warn!(node = %node.node, last_heartbeat = %node.heartbeat_at, runs = runs.len(), "node stopped heartbeating; took its runs as lost");
            lost.extend(runs);
        }
    }
    if let Reaping::AllBut(me) = reaping {
        let orphaned = running_nodes_not_registered(db, me).await?;
        for node in orphaned {
            let reason = format!("lost: node {node} is no longer registered");
            lost.extend(
                mark_lost(db, &node, &reason, now, Removal::None)
                    .await?
                    .unwrap_or_default(),
            );
        }
    }
    Ok(lost)
}

/// The ids among `ids` that have a `job_execution` row, read with row
/// locks (SQLite's writing transaction needs none).
async fn recorded_ids<'a>(
    txn: &DatabaseTransaction,
    ids: impl Iterator<Item = &'a str>,
) -> Result<HashSet<String>, DbErr> {
    let ids: Vec<&str> = ids.collect();
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let mut query = job_execution::Entity::find()
        .select_only()
        .column(job_execution::Column::Id)
        .filter(job_execution::Column::Id.is_in(ids));
    if txn.get_database_backend() != DbBackend::Sqlite {
        query = query.lock(LockType::Update);
    }
    Ok(query.into_tuple::<String>().all(txn).await?.into_iter().collect())
}

/// Whether [`mark_lost`] removes the node from the registry too.
#[derive(Debug, Clone, Copy)]
enum Removal {
    /// Remove it if its heartbeat is still older than this; if it is not
    /// (it came back, or another reaper removed it), mark nothing.
    IfStale(Duration),
    /// It is not registered.
    None,
}

/// The nodes other than `me` that have `running` runs but are not in the
/// registry. A skip scan: each step asks the `(status, node, …)` index for
/// the next node after the last one, so the cost grows with the number of
/// nodes, not with the number of runs in progress (which can be tens of
/// thousands when many fires come due at once, and this runs twice a second).
async fn running_nodes_not_registered(db: &DatabaseConnection, me: &str) -> Result<Vec<String>, DbErr> {
    let backend = db.get_database_backend();
    let param = first_parameter(backend);
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

/// Marks the runs of `node` lost and writes their jobs' outcome columns,
/// in one transaction that also removes the node (as `removal` says): a
/// reader who sees a run lost also sees its job's `last_status`, and a node
/// is never gone from the registry with its runs still taken for its own.
/// Its runs are its `running` rows, and the runs its claims name (the
/// claim columns of `job_info`) that have no row yet: those get a `lost`
/// row of their own. The jobs' rows are locked first, in key order, as a
/// run's end locks them, so the two cannot deadlock. `None` when the node
/// was not removed after all.
async fn mark_lost(
    db: &DatabaseConnection,
    node: &str,
    reason: &str,
    now: DateTime<Utc>,
    removal: Removal,
) -> Result<Option<Vec<LostRun>>, DbErr> {
    let txn = claim::begin_writing(db).await?;
    if let Removal::IfStale(dead_after) = removal {
        let backend = txn.get_database_backend();
        let removed = scheduler_node::Entity::delete_many()
            .filter(scheduler_node::Column::Node.eq(node))
            .filter(Expr::col(scheduler_node::Column::HeartbeatAt).lt(db_time_ago(backend, dead_after)))
            .exec(&txn)
            .await?;
        if removed.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(None);
        }
    }
    let unrecorded = unrecorded_claims(&txn, node).await?;
    let running_rows = || {
        job_execution::Entity::find()
            .filter(job_execution::Column::Node.eq(node))
            .filter(job_execution::Column::Status.eq(ExecutionStatus::Running.as_str()))
    };
    let running = running_rows().all(&txn).await?;
    if running.is_empty() && unrecorded.is_empty() {
        txn.commit().await?;
        return Ok(Some(Vec::new()));
    }
    let jobs: BTreeSet<&str> = running
        .iter()
        .map(|run| run.job_id.as_str())
        .chain(unrecorded.iter().map(|run| run.job_id.as_str()))
        .collect();
    claim::lock_jobs(&txn, jobs.iter().copied(), Locking::Wait).await?;
    // With the jobs locked, which of those runs have a row by now: another
    // reaper may have written it before it let the jobs go, or a claim
    // elsewhere as `running` (see `claim::Claim`), which is marked below.
    // A locking read, so that MySQL reads past its snapshot; an insert that
    // kept an existing row cannot say so there (it counts the row found).
    let recorded = recorded_ids(&txn, unrecorded.iter().map(|run| run.execution_id.as_str())).await?;
    let mut lost = Vec::with_capacity(running.len() + unrecorded.len());
    let mut lost_jobs = BTreeSet::new();
    for run in unrecorded.iter().filter(|run| !recorded.contains(&run.execution_id)) {
        let inserted = job_execution::Entity::insert(lost_row(run, node, reason, now))
            .on_conflict(history::keep_existing())
            .exec_without_returning(&txn)
            .await?;
        if inserted == 1 {
            lost_jobs.insert(run.job_id.clone());
            lost.push(LostRun {
                execution_id: run.execution_id.clone(),
                job_id: run.job_id.clone(),
                scheduled_for: run.scheduled_for,
                attempt: 1,
                node: node.to_owned(),
                args: None,
            });
        }
    }
    // Read again: rows written since the first read are taken too.
    let running = running_rows().all(&txn).await?;
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
            lost_jobs.insert(run.job_id.clone());
            lost.push(LostRun {
                execution_id: run.id.clone(),
                job_id: run.job_id.clone(),
                scheduled_for: run.scheduled_for,
                attempt: u32::try_from(run.attempt).unwrap_or(1),
                node: node.to_owned(),
                args: run.args.as_deref().and_then(|text| serde_json::from_str(text).ok()),
            });
        }
    }
    for job_id in &lost_jobs {
        let still_running = job_execution::Entity::find()
            .filter(job_execution::Column::JobId.eq(job_id.as_str()))
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
            .filter(job_info::Column::JobId.eq(job_id.as_str()));
        if !still_running {
            update = update.col_expr(job_info::Column::IsRunning, Expr::value(false));
        }
        update.exec(&txn).await?;
    }
    txn.commit().await?;
    Ok(Some(lost))
}

/// The `lost` row of a run that a claim of `node` names and no row records.
fn lost_row(run: &UnrecordedClaim, node: &str, reason: &str, now: DateTime<Utc>) -> job_execution::ActiveModel {
    job_execution::ActiveModel {
        id: Set(run.execution_id.clone()),
        job_id: Set(run.job_id.clone()),
        job_name: Set(run.job_name.clone()),
        scheduled_for: Set(run.scheduled_for),
        started_at: Set(Some(run.scheduled_for)),
        finished_at: Set(Some(now)),
        duration_ms: Set(None),
        status: Set(ExecutionStatus::Lost.as_str().to_owned()),
        attempt: Set(1),
        output: Set(None),
        error: Set(Some(reason.to_owned())),
        node: Set(Some(node.to_owned())),
        trigger_source: Set(TriggerSource::Schedule.as_str().to_owned()),
        cancel_requested_at: Set(None),
        args: Set(None),
    }
}

/// A run that a node's claim names and no `job_execution` row records.
struct UnrecordedClaim {
    execution_id: String,
    job_id: String,
    job_name: Option<String>,
    scheduled_for: DateTime<Utc>,
}

/// How the first bind parameter of a raw statement is written on `backend`.
fn first_parameter(backend: sea_orm::DbBackend) -> &'static str {
    if backend == sea_orm::DbBackend::Postgres {
        "$1"
    } else {
        "?"
    }
}

/// The runs the claims of `node` name that have no row. Reads every job
/// row's claim columns (they have no index: they are written by every
/// claim, and this runs only when a node is taken for dead).
async fn unrecorded_claims<C: ConnectionTrait>(db: &C, node: &str) -> Result<Vec<UnrecordedClaim>, DbErr> {
    let backend = db.get_database_backend();
    let param = first_parameter(backend);
    let sql = format!(
        "SELECT j.claim_id, j.job_id, j.job_name, j.claim_for FROM job_info j \
         WHERE j.claim_node = {param} AND j.claim_id IS NOT NULL AND j.claim_for IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM job_execution e WHERE e.id = j.claim_id)"
    );
    let rows = db
        .query_all_raw(sea_orm::Statement::from_sql_and_values(backend, sql, [node.into()]))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(UnrecordedClaim {
                execution_id: row.try_get_by_index(0)?,
                job_id: row.try_get_by_index(1)?,
                job_name: row.try_get_by_index(2)?,
                scheduled_for: row.try_get_by_index(3)?,
            })
        })
        .collect()
}
