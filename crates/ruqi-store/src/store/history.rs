//! `job_execution` rows, and the outcome columns of `job_info` that go with them.

use std::fmt::Write as _;

use ruqi_core::{CancelTarget, ExecutionEnd, ExecutionStart, ExecutionStatus, MissedFire, TriggerSource};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, Statement,
    TransactionTrait, Value,
};

use super::bulk::{BulkUpdate, in_chunks, json_rows};
use super::claim::{self, Locking};
use crate::entity::{job_execution, job_info};

/// Records fires that did not run, and the last one's reason on its job, in
/// one transaction (see [`insert_missed_rows`]).
pub(crate) async fn record_missed(db: &DatabaseConnection, fires: &[MissedFire]) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    insert_missed_rows(&txn, fires).await?;
    txn.commit().await
}

/// Inserts `missed` rows, leaving any whose id exists already (a write
/// made again after its answer was lost), and writes the last scheduled
/// one's reason to its job: a run asked for by hand and skipped (its job
/// busy) leaves the job's `last_status` to the run that goes on.
pub(crate) async fn insert_missed_rows<C: ConnectionTrait>(db: &C, fires: &[MissedFire]) -> Result<(), DbErr> {
    let rows: Vec<Vec<Value>> = fires
        .iter()
        .map(|f| {
            vec![
                f.id.as_str().into(),
                f.job_id.as_str().into(),
                f.job_name.clone().into(),
                Some(f.scheduled_for).into(),
                Some(f.noticed_at).into(),
                ExecutionStatus::Missed.as_str().into(),
                1_i32.into(),
                Some(f.reason.clone()).into(),
                f.node.as_str().into(),
                f.trigger_source.as_str().into(),
            ]
        })
        .collect();
    insert_rows(db, &MISSED_COLUMNS, rows, OnConflictId::Keep).await?;
    let scheduled = fires.iter().filter(|f| f.trigger_source != TriggerSource::Manual);
    if let Some(last) = scheduled.max_by_key(|f| f.scheduled_for) {
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

/// The status of the execution row `id`, if it exists.
pub(crate) async fn execution_status<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<String>, DbErr> {
    use sea_orm::QuerySelect;
    job_execution::Entity::find_by_id(id.to_owned())
        .select_only()
        .column(job_execution::Column::Status)
        .into_tuple::<String>()
        .one(db)
        .await
}

/// The arguments `start` was given instead of its job's, as JSON text.
fn args_text(start: &ExecutionStart) -> Option<String> {
    start.args.as_ref().map(|args| args.to_string())
}

/// The columns of a run's `running` row, with their PostgreSQL types.
const START_COLUMNS: [(&str, &str); 10] = [
    ("id", "text"),
    ("job_id", "text"),
    ("job_name", "text"),
    ("scheduled_for", "timestamptz"),
    ("started_at", "timestamptz"),
    ("status", "text"),
    ("attempt", "integer"),
    ("node", "text"),
    ("trigger_source", "text"),
    ("args", "text"),
];

/// The columns of a `missed` row, with their PostgreSQL types.
const MISSED_COLUMNS: [(&str, &str); 10] = [
    ("id", "text"),
    ("job_id", "text"),
    ("job_name", "text"),
    ("scheduled_for", "timestamptz"),
    ("finished_at", "timestamptz"),
    ("status", "text"),
    ("attempt", "integer"),
    ("error", "text"),
    ("node", "text"),
    ("trigger_source", "text"),
];

/// The columns a finished run adds to its start's, with their PostgreSQL types.
const END_COLUMNS: [(&str, &str); 4] = [
    ("finished_at", "timestamptz"),
    ("duration_ms", "bigint"),
    ("output", "text"),
    ("error", "text"),
];

/// The values of [`START_COLUMNS`] for `start`, with `status`.
fn start_values(start: &ExecutionStart, status: ExecutionStatus) -> Vec<Value> {
    vec![
        start.id.as_str().into(),
        start.job_id.as_str().into(),
        start.job_name.clone().into(),
        Some(start.scheduled_for).into(),
        Some(start.started_at).into(),
        status.as_str().into(),
        i32::try_from(start.attempt).unwrap_or(i32::MAX).into(),
        start.node.as_str().into(),
        start.trigger_source.as_str().into(),
        args_text(start).into(),
    ]
}

/// What an insert into `job_execution` does with a row whose id exists already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnConflictId {
    /// Leaves it as it is.
    Keep,
    /// Finishes it with the end's columns ([`END_UPSERT`]) if it is still `running`.
    Finish,
}

/// `rows` of `columns` inserted into `job_execution` in one statement, and
/// what to do with an id that exists already. PostgreSQL reads the rows
/// from one JSON parameter, so the text is the same for any number of rows;
/// SQLite and MySQL take a `VALUES` list (see [`in_chunks`]).
/// Written by hand: building it through the ORM's `insert_many` took a
/// large part of the SQLite writer's time.
fn insert_statement(
    backend: DbBackend,
    columns: &[(&str, &str)],
    rows: Vec<Vec<Value>>,
    conflict: OnConflictId,
) -> Statement {
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let mut sql = String::with_capacity(256 + rows.len() * columns.len() * 3);
    let _ = write!(sql, "INSERT INTO job_execution ({})", names.join(", "));
    let values = if backend == DbBackend::Postgres {
        let typed: Vec<String> = columns.iter().map(|(name, ty)| format!("{name} {ty}")).collect();
        let _ = write!(
            sql,
            " SELECT {} FROM json_to_recordset($1::json) AS v({})",
            names.join(", "),
            typed.join(", ")
        );
        vec![json_rows(&names, &rows).into()]
    } else {
        sql.push_str(" VALUES ");
        let row = format!("({})", vec!["?"; columns.len()].join(", "));
        for r in 0..rows.len() {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&row);
        }
        rows.into_iter().flatten().collect()
    };
    match (backend, conflict) {
        (DbBackend::MySql, OnConflictId::Keep) => sql.push_str(" ON DUPLICATE KEY UPDATE id = id"),
        // MySQL has no condition on the upsert: each assignment checks
        // `status` itself, and `status` comes last (it assigns left to right).
        (DbBackend::MySql, OnConflictId::Finish) => {
            let set: Vec<String> = END_UPSERT
                .iter()
                .map(|name| format!("{name} = IF(status = 'running', VALUES({name}), {name})"))
                .collect();
            let _ = write!(sql, " ON DUPLICATE KEY UPDATE {}", set.join(", "));
        }
        (_, OnConflictId::Keep) => sql.push_str(" ON CONFLICT (id) DO NOTHING"),
        (_, OnConflictId::Finish) => {
            let set: Vec<String> = END_UPSERT
                .iter()
                .map(|name| format!("{name} = excluded.{name}"))
                .collect();
            let _ = write!(
                sql,
                " ON CONFLICT (id) DO UPDATE SET {} WHERE job_execution.status = 'running'",
                set.join(", ")
            );
        }
    }
    Statement::from_sql_and_values(backend, sql, values)
}

/// Inserts `rows` of `columns`, chunked where the backend binds each value.
async fn insert_rows<C: ConnectionTrait>(
    db: &C,
    columns: &[(&str, &str)],
    rows: Vec<Vec<Value>>,
    conflict: OnConflictId,
) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    if backend == DbBackend::Postgres {
        db.execute_raw(insert_statement(backend, columns, rows, conflict))
            .await?;
        return Ok(());
    }
    for chunk in in_chunks(rows) {
        db.execute_raw(insert_statement(backend, columns, chunk, conflict))
            .await?;
    }
    Ok(())
}

/// Leaves the row of an id that exists already as it is.
pub(crate) fn keep_existing() -> OnConflict {
    OnConflict::column(job_execution::Column::Id)
        .do_nothing_on([job_execution::Column::Id])
        .to_owned()
}

/// The columns a run's end sets on a row that exists already. On PostgreSQL
/// and SQLite the upsert's condition keeps a row that is no longer
/// `running`; MySQL has no such condition, so there each assignment checks
/// `status` itself, and `status` comes last (MySQL assigns left to right).
const END_UPSERT: [&str; 6] = ["started_at", "finished_at", "duration_ms", "output", "error", "status"];

/// Inserts finished runs whose start was never written, each as one whole
/// row, or finishes their rows if an earlier attempt of this write
/// inserted them (only while they are still `running`).
async fn insert_runs<C: ConnectionTrait>(db: &C, runs: &[(&ExecutionStart, &ExecutionEnd)]) -> Result<(), DbErr> {
    insert_rows(db, &RUN_COLUMNS, whole_rows(runs), OnConflictId::Finish).await
}

/// The columns of a whole run's row: its start's, then its end's.
const RUN_COLUMNS: [(&str, &str); 14] = {
    let mut columns = [("", ""); 14];
    let mut i = 0;
    while i < 14 {
        columns[i] = if i < START_COLUMNS.len() {
            START_COLUMNS[i]
        } else {
            END_COLUMNS[i - START_COLUMNS.len()]
        };
        i += 1;
    }
    columns
};

/// The values of [`RUN_COLUMNS`] for each run.
fn whole_rows(runs: &[(&ExecutionStart, &ExecutionEnd)]) -> Vec<Vec<Value>> {
    runs.iter()
        .map(|(start, end)| {
            let mut values = start_values(start, end.status);
            values[4] = end.started_at.into();
            values.extend([
                Some(end.finished_at).into(),
                Some(end.duration_ms).into(),
                end.output.clone().into(),
                end.error.clone().into(),
            ]);
            values
        })
        .collect()
}

/// Inserts the `running` rows of `starts`, one multi-row insert per chunk.
/// A row that exists already is left as it is: a claim may have written
/// the run's row before its node did (a trigger does, see `claim::Claim`),
/// the run may even have ended, and a start written again after its
/// answer was lost must not fail.
pub(crate) async fn insert_start_rows<C: ConnectionTrait>(db: &C, starts: &[&ExecutionStart]) -> Result<(), DbErr> {
    let rows: Vec<Vec<Value>> = starts
        .iter()
        .map(|start| start_values(start, ExecutionStatus::Running))
        .collect();
    insert_rows(db, &START_COLUMNS, rows, OnConflictId::Keep).await
}

/// Inserts the `running` rows of `starts` (one multi-row insert per chunk)
/// and sets `is_running` on the jobs whose claim did not already set it, in
/// one transaction.
pub(crate) async fn record_starts(db: &DatabaseConnection, starts: &[&ExecutionStart]) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    insert_start_rows(&txn, starts).await?;
    // Scheduled fires set is_running in their claim; other runs set it here.
    let unclaimed: Vec<&str> = starts
        .iter()
        .filter(|s| s.trigger_source != TriggerSource::Schedule)
        .map(|s| s.job_id.as_str())
        .collect();
    for chunk in in_chunks(unclaimed) {
        job_info::Entity::update_many()
            .col_expr(job_info::Column::IsRunning, Expr::value(true))
            .filter(job_info::Column::JobId.is_in(chunk))
            .exec(&txn)
            .await?;
    }
    txn.commit().await
}

/// The columns of a `job_execution` row a run's end writes.
const EXECUTION_END: BulkUpdate = BulkUpdate {
    table: "job_execution",
    key: "id",
    values: &[
        ("v_id", "text"),
        ("v_status", "text"),
        ("v_started", "timestamptz"),
        ("v_finished", "timestamptz"),
        ("v_duration", "bigint"),
        ("v_output", "text"),
        ("v_error", "text"),
    ],
    set: &[
        ("status", "v.v_status"),
        ("started_at", "v.v_started"),
        ("finished_at", "v.v_finished"),
        ("duration_ms", "v.v_duration"),
        ("output", "v.v_output"),
        ("error", "v.v_error"),
    ],
    // A row a peer marked `lost` meanwhile keeps that status, and writing
    // an end again after its answer was lost changes nothing.
    filter: Some("t.status = 'running'"),
};

/// The columns of its `job_info` row a run's end writes. The claim columns
/// are cleared when they name the run: its row now exists, and a claim
/// must not write it again once history retention has removed it.
const JOB_END: BulkUpdate = BulkUpdate {
    table: "job_info",
    key: "job_id",
    values: &[
        ("v_id", "text"),
        ("v_status", "text"),
        ("v_error", "text"),
        ("v_running", "boolean"),
        ("v_run", "text"),
    ],
    set: &[
        ("last_status", "v.v_status"),
        ("last_error", "v.v_error"),
        ("is_running", "v.v_running"),
        (
            "claim_id",
            "CASE WHEN t.claim_id = v.v_run THEN NULL ELSE t.claim_id END",
        ),
    ],
    filter: None,
};

/// A run's end as [`record_ends`] writes it.
pub(crate) struct RunEnd<'a> {
    pub(crate) end: &'a ExecutionEnd,
    /// The run's start, when its `running` row was never written: the run
    /// is then inserted as one finished row.
    pub(crate) start: Option<&'a ExecutionStart>,
    /// Other runs of the job go on.
    pub(crate) still_running: bool,
}

/// Finishes the execution rows of `ends` (inserting the whole row of a run
/// whose start was never written) and writes each job's `last_status`,
/// `last_error` and `is_running` (`still_running`: other runs of the job go
/// on), all in one transaction: a reader who sees a run finished also sees
/// its job's outcome. Of several ends of one job, the last one given sets
/// its columns.
///
/// On PostgreSQL and MySQL the job rows are locked first, as `locking`
/// says. With [`Locking::SkipHeld`], the ends of a job whose row another
/// transaction holds are left unwritten; the answer marks them (`true`), and
/// the caller writes them again with [`Locking::Wait`]. On PostgreSQL,
/// `SkipHeld` first tries [`Locking::Brief`], which locks nothing up front
/// and leaves nothing unwritten, unless a row stays held.
pub(crate) async fn record_ends(
    db: &DatabaseConnection,
    ends: &[RunEnd<'_>],
    locking: Locking,
) -> Result<Vec<bool>, DbErr> {
    if locking == Locking::SkipHeld && db.get_database_backend() == DbBackend::Postgres {
        match record_ends_locking(db, ends, Locking::Brief).await {
            Err(error) if claim::is_lock_timeout(&error) => {}
            written => return written,
        }
    }
    record_ends_locking(db, ends, locking).await
}

/// [`record_ends`] with exactly the `locking` asked for.
async fn record_ends_locking(
    db: &DatabaseConnection,
    ends: &[RunEnd<'_>],
    locking: Locking,
) -> Result<Vec<bool>, DbErr> {
    let mut last_per_job: Vec<&RunEnd<'_>> = Vec::with_capacity(ends.len());
    let mut seen = std::collections::HashSet::new();
    for run in ends.iter().rev() {
        if seen.insert(run.end.job_id.as_str()) {
            last_per_job.push(run);
        }
    }
    let txn = db.begin().await?;
    let mut held_jobs = std::collections::HashSet::new();
    // SQLite has one writer at a time: no row is held by another transaction.
    if locking == Locking::Brief {
        claim::wait_briefly(&txn).await?;
    } else if db.get_database_backend() != DbBackend::Sqlite {
        let job_ids = last_per_job.iter().map(|run| run.end.job_id.as_str());
        let locked = claim::lock_jobs(&txn, job_ids, locking).await?;
        // With `Wait` a missing row is a job deleted meanwhile: its runs
        // are still finished.
        if locking == Locking::SkipHeld {
            held_jobs.extend(
                last_per_job
                    .iter()
                    .map(|run| run.end.job_id.as_str())
                    .filter(|id| !locked.contains_key(*id)),
            );
        }
    }
    let is_held = |end: &ExecutionEnd| held_jobs.contains(end.job_id.as_str());
    let whole: Vec<(&ExecutionStart, &ExecutionEnd)> = ends
        .iter()
        .filter(|run| !is_held(run.end))
        .filter_map(|run| Some((run.start?, run.end)))
        .collect();
    insert_runs(&txn, &whole).await?;
    let runs: Vec<&ExecutionEnd> = ends
        .iter()
        .filter(|run| run.start.is_none() && !is_held(run.end))
        .map(|run| run.end)
        .collect();
    let values = runs
        .iter()
        .map(|end| {
            vec![
                end.id.as_str().into(),
                end.status.as_str().into(),
                end.started_at.into(),
                Some(end.finished_at).into(),
                Some(end.duration_ms).into(),
                end.output.clone().into(),
                end.error.clone().into(),
            ]
        })
        .collect();
    EXECUTION_END.run(&txn, values, false).await?;
    let values = last_per_job
        .into_iter()
        .filter(|run| !is_held(run.end))
        .map(|run| {
            vec![
                run.end.job_id.as_str().into(),
                run.end.status.as_str().into(),
                run.end.error.clone().into(),
                run.still_running.into(),
                run.end.id.as_str().into(),
            ]
        })
        .collect();
    JOB_END.run(&txn, values, false).await?;
    txn.commit().await?;
    Ok(ends.iter().map(|run| is_held(run.end)).collect())
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
///
/// The runs are found by a plain read first and marked by key, so the
/// `UPDATE` locks only their rows. An `UPDATE` filtered on `status` would
/// lock a range of the `(status, node)` index on MySQL, and deadlock with
/// the ends of this node's own runs, which move rows out of that range
/// while it is being cancelled. With no run elsewhere nothing is written.
pub(crate) async fn request_cancel<C: ConnectionTrait>(
    db: &C,
    target: &CancelTarget,
    except_node: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64, DbErr> {
    use sea_orm::QuerySelect;
    let elsewhere = || {
        Condition::all()
            .add(job_execution::Column::Status.eq(ExecutionStatus::Running.as_str()))
            .add(job_execution::Column::Node.ne(except_node))
    };
    let mut find = job_execution::Entity::find()
        .select_only()
        .column(job_execution::Column::Id)
        .filter(elsewhere());
    find = match target {
        CancelTarget::Job(job_id) => find.filter(job_execution::Column::JobId.eq(job_id.as_str())),
        CancelTarget::Execution(id) => find.filter(job_execution::Column::Id.eq(id.as_str())),
    };
    let ids: Vec<String> = find.into_tuple().all(db).await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let marked = job_execution::Entity::update_many()
        .col_expr(job_execution::Column::CancelRequestedAt, Expr::value(Some(now)))
        .filter(job_execution::Column::Id.is_in(ids))
        .filter(elsewhere())
        .exec(db)
        .await?;
    Ok(marked.rows_affected)
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn a_whole_run_is_one_insert_of_every_column() {
        let at = Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).single().unwrap_or_default();
        let start = ExecutionStart {
            id: "run-1".into(),
            job_id: "job-1".into(),
            job_name: None,
            scheduled_for: at,
            started_at: at,
            attempt: 2,
            trigger_source: TriggerSource::Schedule,
            node: "web-1".into(),
            args: None,
        };
        let end = ExecutionEnd {
            id: "run-1".into(),
            job_id: "job-1".into(),
            status: ExecutionStatus::Failed,
            started_at: Some(at),
            finished_at: at + chrono::Duration::milliseconds(7),
            duration_ms: 7,
            output: None,
            error: Some("it \"broke\"".into()),
        };
        let rows = || whole_rows(&[(&start, &end)]);
        let statement = insert_statement(DbBackend::Postgres, &RUN_COLUMNS, rows(), OnConflictId::Finish);
        assert_eq!(
            statement.sql,
            "INSERT INTO job_execution (id, job_id, job_name, scheduled_for, started_at, status, attempt, node, \
             trigger_source, args, finished_at, duration_ms, output, error) SELECT id, job_id, job_name, \
             scheduled_for, started_at, status, attempt, node, trigger_source, args, finished_at, duration_ms, \
             output, error FROM json_to_recordset($1::json) AS v(id text, job_id text, job_name text, \
             scheduled_for timestamptz, started_at timestamptz, status text, attempt integer, node text, \
             trigger_source text, args text, finished_at timestamptz, duration_ms bigint, output text, error text) \
             ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at, finished_at = excluded.finished_at, \
             duration_ms = excluded.duration_ms, output = excluded.output, error = excluded.error, \
             status = excluded.status WHERE job_execution.status = 'running'"
        );
        let two = [rows(), rows()].concat();
        let sqlite = insert_statement(DbBackend::Sqlite, &RUN_COLUMNS, two.clone(), OnConflictId::Finish);
        let row = format!("({})", ["?"; 14].join(", "));
        assert!(
            sqlite.sql.contains(&format!(
                " VALUES {row}, {row} ON CONFLICT (id) DO UPDATE SET started_at"
            )),
            "{}",
            sqlite.sql
        );
        assert_eq!(sqlite.values.map_or(0, |v| v.0.len()), 28);
        let mysql = insert_statement(DbBackend::MySql, &RUN_COLUMNS, two, OnConflictId::Keep);
        assert!(mysql.sql.ends_with(" ON DUPLICATE KEY UPDATE id = id"), "{}", mysql.sql);
        let values = statement.values.map(|v| v.0).unwrap_or_default();
        let [Value::String(Some(json))] = values.as_slice() else {
            panic!("one JSON text parameter, got {values:?}");
        };
        for part in [
            r#""status":"failed""#,
            r#""duration_ms":7"#,
            r#""error":"it \"broke\"""#,
            r#""output":null"#,
            r#""attempt":2"#,
        ] {
            assert!(json.contains(part), "{part} in {json}");
        }
    }
}
