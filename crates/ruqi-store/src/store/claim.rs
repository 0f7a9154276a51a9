//! Compare-and-set on `job_info`: the statement that decides which scheduler
//! runs a fire, and the bookkeeping writes that must not move `version`.

use std::collections::{HashMap, HashSet};

use ruqi_core::{ExecutionStart, JobStateChange, MissedFire};
use ruqi_migration::SKIP_NOTIFY_SETTING;
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, RuntimeErr, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait, Value,
};

use super::bulk::BulkUpdate;
use super::history;
use crate::entity::job_info::{Column, Entity};

/// One compare-and-set of a batch: the row, the version it must still have,
/// the change, and the run it claims, if any, which the claim names in the
/// row's claim columns. Should the columns name another run that has no
/// row yet, a trigger writes that run's row as the claim replaces them
/// (migration 15), so a claimed run is always named by its job's row or
/// recorded by a row of its own.
pub(crate) struct Claim<'a> {
    pub(crate) job_id: &'a str,
    pub(crate) expected_version: i64,
    pub(crate) change: &'a JobStateChange,
    pub(crate) start: Option<&'a ExecutionStart>,
}

/// Every column of [`JobStateChange`] as a flag (whether to set it) and a value.
const CLAIM: BulkUpdate = BulkUpdate {
    table: "job_info",
    key: "job_id",
    values: &[
        ("v_id", "text"),
        ("v_version", "bigint"),
        ("v_set_next", "boolean"),
        ("v_next", "timestamptz"),
        ("v_set_paused", "boolean"),
        ("v_paused", "boolean"),
        ("v_set_now", "boolean"),
        ("v_now", "boolean"),
        ("v_set_running", "boolean"),
        ("v_running", "boolean"),
        ("v_set_hash", "boolean"),
        ("v_hash", "bigint"),
        ("v_set_claim", "boolean"),
        ("v_claim_id", "text"),
        ("v_claim_node", "text"),
        ("v_claim_for", "timestamptz"),
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
        (
            "schedule_hash",
            "CASE WHEN v.v_set_hash THEN v.v_hash ELSE t.schedule_hash END",
        ),
        (
            "claim_id",
            "CASE WHEN v.v_set_claim THEN v.v_claim_id ELSE t.claim_id END",
        ),
        (
            "claim_node",
            "CASE WHEN v.v_set_claim THEN v.v_claim_node ELSE t.claim_node END",
        ),
        (
            "claim_for",
            "CASE WHEN v.v_set_claim THEN v.v_claim_for ELSE t.claim_for END",
        ),
        ("version", "t.version + 1"),
    ],
    filter: Some("t.version = v.v_version"),
};

/// The claim of a scheduled fire that runs, the one nearly every claim is:
/// the next instant, `is_running`, and the run in the claim columns. Its
/// own statement carries six values a row instead of [`CLAIM`]'s sixteen,
/// and no `CASE`.
const FIRE_CLAIM: BulkUpdate = BulkUpdate {
    table: "job_info",
    key: "job_id",
    values: &[
        ("v_id", "text"),
        ("v_version", "bigint"),
        ("v_next", "timestamptz"),
        ("v_claim_id", "text"),
        ("v_claim_node", "text"),
        ("v_claim_for", "timestamptz"),
    ],
    set: &[
        ("next_run_time", "v.v_next"),
        ("is_running", "TRUE"),
        ("claim_id", "v.v_claim_id"),
        ("claim_node", "v.v_claim_node"),
        ("claim_for", "v.v_claim_for"),
        ("version", "t.version + 1"),
    ],
    filter: Some("t.version = v.v_version"),
};

/// Claims of distinct rows as few statements: one of [`FIRE_CLAIM`] for the
/// claims of that shape, one of [`CLAIM`] for the others.
fn claim_statements<'a, 'c: 'a>(
    claims: impl IntoIterator<Item = &'a Claim<'c>>,
) -> [(&'static BulkUpdate, Vec<Vec<Value>>); 2] {
    let (mut fires, mut others) = (Vec::new(), Vec::new());
    for claim in claims {
        match claim.fire_values() {
            Some(values) => fires.push(values),
            None => others.push(claim.values()),
        }
    }
    [(&FIRE_CLAIM, fires), (&CLAIM, others)]
}

impl Claim<'_> {
    /// The values of [`FIRE_CLAIM`], if the claim has its shape.
    fn fire_values(&self) -> Option<Vec<Value>> {
        let change = self.change;
        let start = self.start?;
        let shape = JobStateChange {
            next_run_time: change.next_run_time,
            is_running: Some(true),
            ..JobStateChange::default()
        };
        if change.next_run_time.is_none() || *change != shape {
            return None;
        }
        Some(vec![
            self.job_id.into(),
            self.expected_version.into(),
            change.next_run_time.flatten().into(),
            start.id.as_str().into(),
            start.node.as_str().into(),
            Some(start.scheduled_for).into(),
        ])
    }

    /// The values of [`CLAIM`].
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
            change.schedule_hash.is_some().into(),
            change.schedule_hash.unwrap_or_default().into(),
            self.start.is_some().into(),
            self.start.map(|s| s.id.clone()).into(),
            self.start.map(|s| s.node.clone()).into(),
            self.start.map(|s| s.scheduled_for).into(),
        ]
    }
}

/// How a transaction takes the row locks of the `job_info` rows it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Locking {
    /// Lock only the rows no other transaction holds and leave the rest
    /// (`FOR UPDATE SKIP LOCKED`): a batch never waits, so it cannot close
    /// a deadlock with another writer's multi-row statement (a user's bulk
    /// `UPDATE`, say). The rows it skips are written later, one job at a time.
    SkipHeld,
    /// Wait for every row (`FOR UPDATE`): for the writes of one job.
    Wait,
    /// PostgreSQL: take no locks up front, and let the transaction's
    /// statements wait at most [`BRIEF_LOCK_WAIT`] for a row another
    /// transaction holds; past that they fail (see [`is_lock_timeout`]),
    /// and the caller writes again with [`Locking::SkipHeld`]. Saves the
    /// locking read, and its lock record on every row, when nothing else
    /// holds the rows, as is usual.
    Brief,
}

/// How long a [`Locking::Brief`] statement waits for a row another
/// transaction holds. Also ends a deadlock between two batches long before
/// the server's own check would (`deadlock_timeout`, one second by default).
pub(crate) const BRIEF_LOCK_WAIT: &str = "20ms";

/// Makes `txn` a [`Locking::Brief`] one (PostgreSQL).
pub(crate) async fn wait_briefly(txn: &DatabaseTransaction) -> Result<(), DbErr> {
    txn.execute_unprepared(&wait_briefly_sql()).await.map(drop)
}

fn wait_briefly_sql() -> String {
    format!("SET LOCAL lock_timeout = '{BRIEF_LOCK_WAIT}'")
}

fn skip_notify_sql() -> String {
    format!("SET LOCAL {SKIP_NOTIFY_SETTING} = on")
}

/// Asks the change log's triggers to log what `txn` changes without a
/// `NOTIFY` (PostgreSQL; see [`SKIP_NOTIFY_SETTING`]); with `wait_briefly`,
/// also makes it a [`Locking::Brief`] one, in the same round trip. For
/// batches of claims: notifying commits take turns on one server-wide lock,
/// which held several schedulers' batches up behind each other, and the
/// other schedulers need a claim before they would take its fire over (the
/// poll of the log brings it), not at once.
async fn skip_notify(txn: &DatabaseTransaction, wait_briefly: bool) -> Result<(), DbErr> {
    let sql = if wait_briefly {
        format!("{}; {}", wait_briefly_sql(), skip_notify_sql())
    } else {
        skip_notify_sql()
    };
    txn.execute_unprepared(&sql).await.map(drop)
}

/// Begins a transaction that reads before it writes. On SQLite it takes
/// the write lock at once (`BEGIN IMMEDIATE`): a transaction that read first
/// would fail at its first write, without waiting, if another connection
/// (or process) wrote meanwhile.
pub(crate) async fn begin_writing(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    db.begin_with_options(options).await
}

/// Whether `error` is PostgreSQL giving up on a lock (`lock_not_available`,
/// as `lock_timeout` raises it).
pub(crate) fn is_lock_timeout(error: &DbErr) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error))) = error else {
        return false;
    };
    matches!(&**error, sea_orm::sqlx::Error::Database(e) if e.code().as_deref() == Some("55P03"))
}

/// Locks the `job_info` rows of `job_ids` for `txn`, in key order, and
/// returns those it locked with their versions: with [`Locking::SkipHeld`]
/// the ones no other transaction held, with [`Locking::Wait`] (or
/// [`Locking::Brief`], within its wait) all that exist. Either way a
/// missing row is not in the answer.
pub(crate) async fn lock_jobs(
    txn: &DatabaseTransaction,
    job_ids: impl IntoIterator<Item = &str>,
    locking: Locking,
) -> Result<HashMap<String, i64>, DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        // One JSON parameter, so the text (and its plan) is the same for any
        // number of rows; see `bulk.rs`.
        let ids = serde_json::Value::from_iter(job_ids).to_string();
        let sql = format!(
            "SELECT job_id, version FROM job_info WHERE job_id IN (SELECT json_array_elements_text($1::json)) \
             ORDER BY job_id FOR UPDATE{}",
            if locking == Locking::SkipHeld {
                " SKIP LOCKED"
            } else {
                ""
            }
        );
        let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, [ids.into()]);
        let mut locked = HashMap::new();
        for row in txn.query_all_raw(statement).await? {
            locked.insert(row.try_get_by_index::<String>(0)?, row.try_get_by_index::<i64>(1)?);
        }
        return Ok(locked);
    }
    let query = Entity::find()
        .select_only()
        .column(Column::JobId)
        .column(Column::Version)
        .filter(Column::JobId.is_in(job_ids))
        .order_by_asc(Column::JobId);
    let query = match locking {
        Locking::SkipHeld => query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked),
        Locking::Wait | Locking::Brief => query.lock(LockType::Update),
    };
    let rows: Vec<(String, i64)> = query.into_tuple().all(txn).await?;
    Ok(rows.into_iter().collect())
}

/// Several compare-and-sets at once; `claims` name distinct rows. The
/// answer says, claim by claim, whether it won, or `None` for a row that
/// another transaction held at that moment: the caller claims those one by
/// one. SQLite: one statement (the database has one writer at a time).
/// PostgreSQL: one statement in a [`Locking::Brief`] transaction, and only
/// if that gives up on a held row, as MySQL always does: one transaction
/// that locks the rows no one else holds, then one statement for the
/// claims that still match.
pub(crate) async fn compare_and_set_many(
    db: &DatabaseConnection,
    claims: &[Claim<'_>],
) -> Result<Vec<Option<bool>>, DbErr> {
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            let txn = db.begin().await?;
            let answers = claim_in_one_statement(&txn, claims).await?;
            txn.commit().await?;
            return Ok(answers);
        }
        DbBackend::Postgres => {
            let txn = db.begin().await?;
            skip_notify(&txn, true).await?;
            match claim_in_one_statement(&txn, claims).await {
                Ok(answers) => {
                    txn.commit().await?;
                    return Ok(answers);
                }
                Err(error) if is_lock_timeout(&error) => txn.rollback().await?,
                Err(error) => return Err(error),
            }
        }
        _ => {}
    }
    let txn = db.begin().await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        skip_notify(&txn, false).await?;
    }
    let current = lock_jobs(&txn, claims.iter().map(|c| c.job_id), Locking::SkipHeld).await?;
    let winners = claims
        .iter()
        .filter(|c| current.get(c.job_id) == Some(&c.expected_version));
    for (statement, rows) in claim_statements(winners) {
        statement.run(&txn, rows, false).await?;
    }
    let answers: Vec<Option<bool>> = claims
        .iter()
        .map(|c| current.get(c.job_id).map(|version| *version == c.expected_version))
        .collect();
    txn.commit().await?;
    Ok(answers)
}

/// One claim with its `missed` rows, in a transaction of its own: the
/// compare-and-set, which names the run it claims in the claim columns
/// (see [`Claim`]), and, if it won, the `missed` rows of the instants that
/// will not run.
pub(crate) async fn claim_alone(
    db: &DatabaseConnection,
    job_id: &str,
    expected_version: i64,
    change: &JobStateChange,
    start: Option<&ExecutionStart>,
    missed: &[MissedFire],
) -> Result<bool, DbErr> {
    if missed.is_empty() {
        return compare_and_set(db, job_id, expected_version, change, start).await;
    }
    let txn = db.begin().await?;
    if !compare_and_set(&txn, job_id, expected_version, change, start).await? {
        txn.rollback().await?;
        return Ok(false);
    }
    history::insert_missed_rows(&txn, missed).await?;
    txn.commit().await?;
    Ok(true)
}

/// Every claim in one statement that returns the rows it changed: those
/// claims won, the others lost.
async fn claim_in_one_statement<C: ConnectionTrait>(db: &C, claims: &[Claim<'_>]) -> Result<Vec<Option<bool>>, DbErr> {
    let mut won = HashSet::new();
    for (statement, rows) in claim_statements(claims) {
        won.extend(statement.run(db, rows, true).await?.unwrap_or_default());
    }
    Ok(claims.iter().map(|c| Some(won.contains(c.job_id))).collect())
}

/// `UPDATE job_info SET … , version = v + 1 WHERE job_id = ? AND version = v`,
/// naming the run it claims, if any, in the claim columns (see [`Claim`]).
/// Exactly one of several concurrent callers with the same `v` gets `true`.
pub(crate) async fn compare_and_set<C: ConnectionTrait>(
    db: &C,
    job_id: &str,
    expected_version: i64,
    change: &JobStateChange,
    start: Option<&ExecutionStart>,
) -> Result<bool, DbErr> {
    let mut update = Entity::update_many()
        .col_expr(Column::Version, Expr::value(expected_version + 1))
        .filter(Column::JobId.eq(job_id))
        .filter(Column::Version.eq(expected_version));
    if let Some(start) = start {
        update = update
            .col_expr(Column::ClaimId, Expr::value(start.id.clone()))
            .col_expr(Column::ClaimNode, Expr::value(start.node.clone()))
            .col_expr(Column::ClaimFor, Expr::value(start.scheduled_for));
    }
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
    if let Some(hash) = change.schedule_hash {
        update = update.col_expr(Column::ScheduleHash, Expr::value(hash));
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

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use ruqi_core::TriggerSource;

    use super::*;

    #[test]
    fn a_fire_that_runs_takes_the_narrow_statement_and_any_other_change_the_general_one() {
        let at = Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).single().unwrap_or_default();
        let start = ExecutionStart {
            id: "run-1".into(),
            job_id: "a".into(),
            job_name: None,
            scheduled_for: at,
            started_at: at,
            attempt: 1,
            trigger_source: TriggerSource::Schedule,
            node: "web-1".into(),
            args: None,
        };
        let fire = JobStateChange {
            next_run_time: Some(None),
            is_running: Some(true),
            ..JobStateChange::default()
        };
        let pause = JobStateChange {
            is_paused: Some(true),
            ..fire.clone()
        };
        let claims = [
            Claim {
                job_id: "a",
                expected_version: 3,
                change: &fire,
                start: Some(&start),
            },
            Claim {
                job_id: "b",
                expected_version: 4,
                change: &pause,
                start: Some(&start),
            },
            Claim {
                job_id: "c",
                expected_version: 5,
                change: &fire,
                start: None,
            },
        ];
        let [(narrow, fires), (general, others)] = claim_statements(&claims);
        assert_eq!(narrow.values.len(), 6);
        assert_eq!(general.values.len(), 16);
        assert_eq!(fires.len(), 1);
        assert_eq!(fires[0][0], Value::from("a"));
        assert_eq!(fires[0][2], Value::from(Option::<chrono::DateTime<Utc>>::None));
        assert_eq!(fires[0][3], Value::from("run-1"));
        let keys: Vec<&Value> = others.iter().map(|row| &row[0]).collect();
        assert_eq!(keys, [&Value::from("b"), &Value::from("c")]);
    }
}
