//! What the XXL-JOB center writes while it dispatches runs to executors:
//! each job's `jobId` (`xxl_job`), and each `/run` sent with the result
//! its callback brought (`xxl_dispatch`). Every write is one statement,
//! so any node may write at any time; the numbers come from the database,
//! so they are unique across nodes.

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{CaseStatement, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
};

use crate::Error;
use crate::entity::{job_execution, xxl_dispatch, xxl_job};

/// The longest `handle_msg` kept, in characters (XXL-JOB keeps 15,000).
pub const HANDLE_MSG_MAX_CHARS: usize = 15_000;

/// The number `job_id` is known by to executors (its `jobId`): given the
/// first time it is asked for, the same ever after on every node.
///
/// ```
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use ruqi_store::query::xxl_job_number;
///
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// ruqi_store::migrate(&db).await?;
/// let first = xxl_job_number(&db, "billing").await?;
/// assert_eq!(xxl_job_number(&db, "billing").await?, first);
/// assert_ne!(xxl_job_number(&db, "reports").await?, first);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
/// ```
pub async fn xxl_job_number<C: ConnectionTrait>(db: &C, job_id: &str) -> Result<i32, Error> {
    if let Some(id) = find_job_number(db, job_id).await? {
        return Ok(id);
    }
    let row = xxl_job::ActiveModel {
        id: NotSet,
        job_id: Set(job_id.to_owned()),
    };
    // Two nodes may ask at once: the second insert changes nothing and
    // both read the one number. (An update of the key to itself, because
    // MySQL has no `DO NOTHING`.)
    xxl_job::Entity::insert(row)
        .on_conflict(
            OnConflict::column(xxl_job::Column::JobId)
                .update_column(xxl_job::Column::JobId)
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    find_job_number(db, job_id)
        .await?
        .ok_or_else(|| Error::Invalid(ruqi_core::FieldError::new("job_id", job_id, "has no XXL-JOB number")))
}

async fn find_job_number<C: ConnectionTrait>(db: &C, job_id: &str) -> Result<Option<i32>, Error> {
    Ok(xxl_job::Entity::find()
        .select_only()
        .column(xxl_job::Column::Id)
        .filter(xxl_job::Column::JobId.eq(job_id))
        .into_tuple::<i32>()
        .one(db)
        .await?)
}

/// Records a `/run` about to be sent for run `execution_id` of job
/// `job_number` to `address`; returns its `logId`.
pub async fn record_dispatch<C: ConnectionTrait>(
    db: &C,
    execution_id: &str,
    job_number: i32,
    address: &str,
    now: DateTime<Utc>,
) -> Result<i64, Error> {
    let row = xxl_dispatch::ActiveModel {
        log_id: NotSet,
        execution_id: Set(execution_id.to_owned()),
        job_number: Set(job_number),
        address: Set(address.to_owned()),
        dispatched_at: Set(now),
        handle_code: Set(None),
        handle_msg: Set(None),
        handled_at: Set(None),
    };
    Ok(xxl_dispatch::Entity::insert(row).exec(db).await?.last_insert_id)
}

/// A dispatched run's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchResult {
    /// 200 success, 502 timeout, anything else a failure.
    pub code: i32,
    /// The handler's output or error, at most [`HANDLE_MSG_MAX_CHARS`].
    pub message: Option<String>,
}

/// Writes the result of dispatch `log_id`, unless it already has one;
/// returns whether it was written (false: an unknown `logId`, or a result
/// already in, such as a repeated callback or one for a run the center
/// closed itself).
pub async fn complete_dispatch<C: ConnectionTrait>(
    db: &C,
    log_id: i64,
    result: &DispatchResult,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let message = capped(result.message.as_deref());
    let done = xxl_dispatch::Entity::update_many()
        .col_expr(xxl_dispatch::Column::HandleCode, Expr::value(result.code))
        .col_expr(xxl_dispatch::Column::HandleMsg, Expr::value(message))
        .col_expr(xxl_dispatch::Column::HandledAt, Expr::value(now))
        .filter(xxl_dispatch::Column::LogId.eq(log_id))
        .filter(xxl_dispatch::Column::HandleCode.is_null())
        .exec(db)
        .await?;
    Ok(done.rows_affected > 0)
}

/// Writes the results of several dispatches at once, each unless it already has one: per 200
/// `logId`s, one transaction that reads which of them are still open (locking them on
/// PostgreSQL and MySQL) and writes those with one `UPDATE`. Returns the `logId`s written; a
/// `logId` given twice takes its first result.
pub async fn complete_dispatches(
    db: &DatabaseConnection,
    results: &[(i64, DispatchResult)],
    now: DateTime<Utc>,
) -> Result<Vec<i64>, Error> {
    let mut seen = std::collections::HashSet::new();
    let results: Vec<&(i64, DispatchResult)> = results.iter().filter(|(log_id, _)| seen.insert(*log_id)).collect();
    let mut written = Vec::new();
    for chunk in results.chunks(200) {
        let txn = db.begin().await?;
        let open: Vec<i64> = xxl_dispatch::Entity::find()
            .select_only()
            .column(xxl_dispatch::Column::LogId)
            .filter(xxl_dispatch::Column::LogId.is_in(chunk.iter().map(|(log_id, _)| *log_id)))
            .filter(xxl_dispatch::Column::HandleCode.is_null())
            .lock_exclusive()
            .into_tuple::<i64>()
            .all(&txn)
            .await?;
        if !open.is_empty() {
            let open_set: std::collections::HashSet<i64> = open.iter().copied().collect();
            let mut codes = CaseStatement::new();
            let mut messages = CaseStatement::new();
            for (log_id, result) in chunk.iter().filter(|(log_id, _)| open_set.contains(log_id)) {
                let is_it = Expr::col(xxl_dispatch::Column::LogId).eq(*log_id);
                codes = codes.case(is_it.clone(), Expr::val(result.code));
                messages = messages.case(is_it, Expr::val(capped(result.message.as_deref())));
            }
            xxl_dispatch::Entity::update_many()
                .col_expr(xxl_dispatch::Column::HandleCode, codes.into())
                .col_expr(xxl_dispatch::Column::HandleMsg, messages.into())
                .col_expr(xxl_dispatch::Column::HandledAt, Expr::value(now))
                .filter(xxl_dispatch::Column::LogId.is_in(open.iter().copied()))
                .filter(xxl_dispatch::Column::HandleCode.is_null())
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        written.extend(open);
    }
    Ok(written)
}

/// `message` cut to [`HANDLE_MSG_MAX_CHARS`].
fn capped(message: Option<&str>) -> Option<String> {
    message.map(|m| m.chars().take(HANDLE_MSG_MAX_CHARS).collect())
}

/// Which of dispatches `log_ids` belong to runs that have ended (whose row is no longer
/// `running`): one statement per 500.
pub async fn dispatches_of_ended_runs<C: ConnectionTrait>(db: &C, log_ids: &[i64]) -> Result<Vec<i64>, Error> {
    let mut ended = Vec::new();
    for chunk in log_ids.chunks(500) {
        let mut select = Query::select();
        select
            .column((xxl_dispatch::Entity, xxl_dispatch::Column::LogId))
            .from(xxl_dispatch::Entity)
            .inner_join(
                job_execution::Entity,
                Expr::col((xxl_dispatch::Entity, xxl_dispatch::Column::ExecutionId))
                    .equals((job_execution::Entity, job_execution::Column::Id)),
            )
            .and_where(Expr::col((xxl_dispatch::Entity, xxl_dispatch::Column::LogId)).is_in(chunk.iter().copied()))
            .and_where(
                Expr::col((job_execution::Entity, job_execution::Column::Status))
                    .ne(ruqi_core::ExecutionStatus::Running.as_str()),
            );
        for row in db.query_all(&select).await? {
            ended.push(row.try_get_by_index::<i64>(0)?);
        }
    }
    Ok(ended)
}

/// The results that are in among dispatches `log_ids`, with their `logId`: one statement per
/// 500 ids.
pub async fn dispatch_results<C: ConnectionTrait>(
    db: &C,
    log_ids: &[i64],
) -> Result<Vec<(i64, DispatchResult)>, Error> {
    let mut found = Vec::new();
    for chunk in log_ids.chunks(500) {
        let rows = xxl_dispatch::Entity::find()
            .select_only()
            .column(xxl_dispatch::Column::LogId)
            .column(xxl_dispatch::Column::HandleCode)
            .column(xxl_dispatch::Column::HandleMsg)
            .filter(xxl_dispatch::Column::LogId.is_in(chunk.iter().copied()))
            .filter(xxl_dispatch::Column::HandleCode.is_not_null())
            .into_tuple::<(i64, i32, Option<String>)>()
            .all(db)
            .await?;
        found.extend(
            rows.into_iter()
                .map(|(log_id, code, message)| (log_id, DispatchResult { code, message })),
        );
    }
    Ok(found)
}

/// Closes, with `result`, every dispatch of job `job_number` to `address`
/// sent at or before `sent_by` that has no result yet, except `log_id`
/// itself: the runs an executor drops without a word when the job is
/// killed there. Returns their `logId`s.
pub async fn close_dropped_dispatches<C: ConnectionTrait>(
    db: &C,
    job_number: i32,
    address: &str,
    sent_by: DateTime<Utc>,
    except_log_id: i64,
    result: &DispatchResult,
) -> Result<Vec<i64>, Error> {
    let open: Vec<i64> = xxl_dispatch::Entity::find()
        .select_only()
        .column(xxl_dispatch::Column::LogId)
        .filter(xxl_dispatch::Column::JobNumber.eq(job_number))
        .filter(xxl_dispatch::Column::Address.eq(address))
        .filter(xxl_dispatch::Column::DispatchedAt.lte(sent_by))
        .filter(xxl_dispatch::Column::HandleCode.is_null())
        .filter(xxl_dispatch::Column::LogId.ne(except_log_id))
        .into_tuple::<i64>()
        .all(db)
        .await?;
    let mut closed = Vec::with_capacity(open.len());
    for log_id in open {
        if complete_dispatch(db, log_id, result, sent_by).await? {
            closed.push(log_id);
        }
    }
    Ok(closed)
}

/// Appends `note` as a line of the output of the run dispatch `log_id`
/// belongs to, when that run has ended: a result that arrives after the
/// run was closed (lost, stopped, or ended by an earlier callback) is kept
/// on the row, not taken for the run's. Returns whether it was appended.
pub async fn note_on_ended_run<C: ConnectionTrait>(db: &C, log_id: i64, note: &str) -> Result<bool, Error> {
    let execution_id = xxl_dispatch::Entity::find()
        .select_only()
        .column(xxl_dispatch::Column::ExecutionId)
        .filter(xxl_dispatch::Column::LogId.eq(log_id))
        .into_tuple::<String>()
        .one(db)
        .await?;
    let Some(execution_id) = execution_id else {
        return Ok(false);
    };
    let Some(run) = job_execution::Entity::find_by_id(execution_id).one(db).await? else {
        return Ok(false);
    };
    if run.status == ruqi_core::ExecutionStatus::Running.as_str() {
        return Ok(false);
    }
    let mut output = run.output.clone().unwrap_or_default();
    if !output.is_empty() && !output.ends_with('\n') {
        output.push('\n');
    }
    output.push_str(note);
    // Only while the row is as read: a concurrent note or end is not overwritten.
    let mut update = job_execution::Entity::update_many()
        .col_expr(job_execution::Column::Output, Expr::value(output))
        .filter(job_execution::Column::Id.eq(run.id))
        .filter(job_execution::Column::Status.eq(run.status));
    update = match run.output {
        Some(before) => update.filter(job_execution::Column::Output.eq(before)),
        None => update.filter(job_execution::Column::Output.is_null()),
    };
    Ok(update.exec(db).await?.rows_affected > 0)
}
