//! Plain SQL edits that must take effect however they are made: repairing a
//! row that could not run, edits made while no scheduler ran, a row deleted
//! and inserted again under its id, a transaction open across the start,
//! and one statement changing many rows. Every write is plain SQL on a
//! connection of the test's own; the scheduler and the row must agree after.

#![allow(clippy::unwrap_used)]

mod common;

use common::{executions, job, row, start, t, trigger_col, ts, wait_until};
use ruqi::{JobContext, Registry, Scheduler};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, TransactionTrait};

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register("hello", |ctx: JobContext| async move {
        ctx.log("hello");
        Ok::<_, String>(())
    });
    r
}

async fn sql<C: ConnectionTrait>(db: &C, statement: &str) {
    db.execute_unprepared(statement).await.unwrap();
}

/// A raw `INSERT` of a cron job calling `func` with `args` (SQL literal).
fn insert_sql(db: &DatabaseConnection, job_id: &str, func: &str, rule: &str, args: &str) -> String {
    format!(
        "INSERT INTO job_info (job_id, func, args, {trigger}, rule) VALUES ('{job_id}', '{func}', {args}, 'cron', '{rule}')",
        trigger = trigger_col(db)
    )
}

/// What the scheduler holds for `job_id` and what its row says, side by side.
async fn both(
    scheduler: &Scheduler,
    db: &DatabaseConnection,
    job_id: &str,
) -> (
    Option<chrono::DateTime<chrono::Utc>>,
    Option<chrono::DateTime<chrono::Utc>>,
) {
    let live = scheduler.live(job_id).and_then(|l| l.next_run_time);
    let stored = row(db, job_id).await.and_then(|r| r.next_run_time);
    (live, stored)
}

/// Waits until the scheduler waits for `at` and the row says so too.
async fn wait_scheduled_at(
    scheduler: &Scheduler,
    db: &DatabaseConnection,
    job_id: &str,
    at: chrono::DateTime<chrono::Utc>,
) {
    wait_until(
        scheduler,
        &format!("{job_id} is scheduled for {at} in memory and in its row"),
        || async { both(scheduler, db, job_id).await == (Some(at), Some(at)) },
    )
    .await;
}

async fn repairing_the_function_schedules_the_row(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry()).await;
    sql(
        &db,
        &insert_sql(&db, "bad-func", "no_such_function", "4 * * * *", "NULL"),
    )
    .await;
    sql(&db, &insert_sql(&db, "bad-args", "hello", "4 * * * *", "'{not json'")).await;
    for id in ["bad-func", "bad-args"] {
        wait_until(&scheduler, &format!("{id} says why it cannot run"), || async {
            row(&db, id).await.unwrap().last_error.is_some() && scheduler.live(id).is_some_and(|l| !l.scheduled)
        })
        .await;
    }
    sql(&db, "UPDATE job_info SET func = 'hello' WHERE job_id = 'bad-func'").await;
    sql(&db, "UPDATE job_info SET args = '{}' WHERE job_id = 'bad-args'").await;
    for id in ["bad-func", "bad-args"] {
        wait_scheduled_at(&scheduler, &db, id, t(240)).await;
        assert_eq!(
            row(&db, id).await.unwrap().last_error,
            None,
            "{id}: the reason is cleared"
        );
        assert!(scheduler.live(id).unwrap().scheduled);
    }
}

async fn a_date_moved_into_the_past_says_why(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry()).await;
    job("d", "hello", "date", &t(3600).to_rfc3339())
        .insert(&db)
        .await
        .unwrap();
    wait_scheduled_at(&scheduler, &db, "d", t(3600)).await;
    let past = t(-86_400).to_rfc3339();
    sql(&db, &format!("UPDATE job_info SET rule = '{past}' WHERE job_id = 'd'")).await;
    wait_until(&scheduler, "the row says it has no fire left", || async {
        row(&db, "d")
            .await
            .unwrap()
            .last_error
            .is_some_and(|e| e.starts_with(ruqi::UNSCHEDULABLE_PREFIX))
    })
    .await;
    assert_eq!(both(&scheduler, &db, "d").await, (None, None));
    // Moved back into the future, it is scheduled again and the reason goes.
    let future = t(7200).to_rfc3339();
    sql(
        &db,
        &format!("UPDATE job_info SET rule = '{future}' WHERE job_id = 'd'"),
    )
    .await;
    wait_scheduled_at(&scheduler, &db, "d", t(7200)).await;
    assert_eq!(row(&db, "d").await.unwrap().last_error, None);
}

async fn a_date_set_to_now_runs(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry()).await;
    job("d", "hello", "date", &t(3600).to_rfc3339())
        .insert(&db)
        .await
        .unwrap();
    wait_scheduled_at(&scheduler, &db, "d", t(3600)).await;
    sql(&db, "UPDATE job_info SET rule = 'now' WHERE job_id = 'd'").await;
    wait_until(&scheduler, "the job runs now", || async {
        executions(&db, "d").await.iter().any(|e| e.status == "success")
    })
    .await;
    let runs = executions(&db, "d").await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].scheduled_for, t(0));
}

// Edits made while no scheduler runs: the rows are written through the ORM
// first, as a running scheduler's process would leave them (the hooks plan
// `next_run_time` by the system clock), then edited in plain SQL, then the
// scheduler starts (its manual clock at t(0)).

async fn a_rule_changed_while_stopped_applies_at_start(db: DatabaseConnection) {
    job("yearly", "hello", "cron", "0 0 1 1 *").insert(&db).await.unwrap();
    sql(&db, "UPDATE job_info SET rule = '4 * * * *' WHERE job_id = 'yearly'").await;
    // A version lowered by hand along with the edit changes nothing.
    job("lowered", "hello", "cron", "0 0 1 1 *").insert(&db).await.unwrap();
    sql(
        &db,
        "UPDATE job_info SET rule = '8 * * * *', version = 0 WHERE job_id = 'lowered'",
    )
    .await;
    let (scheduler, _clock) = start(&db, registry()).await;
    wait_scheduled_at(&scheduler, &db, "yearly", t(240)).await;
    wait_scheduled_at(&scheduler, &db, "lowered", t(480)).await;
}

async fn an_orm_write_after_a_hand_edit_plans_from_the_edited_rule(db: DatabaseConnection) {
    use chrono::Timelike;
    job("yearly", "hello", "cron", "0 0 1 1 *").insert(&db).await.unwrap();
    sql(&db, "UPDATE job_info SET rule = '4 * * * *' WHERE job_id = 'yearly'").await;
    // Through the hooks, before any scheduler has read the hand edit: the
    // stored plan (next new year) is stale and must not be vouched for.
    let mut edit: ruqi::entity::job_info::ActiveModel = row(&db, "yearly").await.unwrap().into();
    edit.description = sea_orm::ActiveValue::Set(Some("edited".into()));
    edit.update(&db).await.unwrap();
    let planned = row(&db, "yearly").await.unwrap().next_run_time.unwrap();
    assert_eq!(
        (planned.minute(), planned.second()),
        (4, 0),
        "planned from the new rule: {planned}"
    );
    let (scheduler, _clock) = start(&db, registry()).await;
    wait_scheduled_at(&scheduler, &db, "yearly", planned).await;
}

async fn a_job_resumed_while_stopped_is_scheduled_at_start(db: DatabaseConnection) {
    let mut paused = job("p", "hello", "cron", "4 * * * *");
    paused.is_paused = sea_orm::ActiveValue::Set(true);
    paused.insert(&db).await.unwrap();
    assert_eq!(row(&db, "p").await.unwrap().next_run_time, None);
    sql(&db, "UPDATE job_info SET is_paused = false WHERE job_id = 'p'").await;
    let (scheduler, _clock) = start(&db, registry()).await;
    wait_scheduled_at(&scheduler, &db, "p", t(240)).await;
}

async fn a_next_run_time_set_while_stopped_is_kept(db: DatabaseConnection) {
    job("j", "hello", "cron", "4 * * * *").insert(&db).await.unwrap();
    sql(
        &db,
        &format!(
            "UPDATE job_info SET next_run_time = {} WHERE job_id = 'j'",
            ts(&db, t(600))
        ),
    )
    .await;
    let (scheduler, _clock) = start(&db, registry()).await;
    wait_scheduled_at(&scheduler, &db, "j", t(600)).await;
}

async fn a_finished_date_job_stays_finished_after_a_restart(db: DatabaseConnection) {
    // As a scheduler leaves a date job it ran a moment ago, within its grace:
    // planned (with the basis it was planned from), claimed, nothing left.
    let rule = t(-1).to_rfc3339();
    let basis = ruqi::JobRecord::new("d", "hello", "date", rule.as_str()).plan_basis();
    sql(
        &db,
        &format!(
            "INSERT INTO job_info (job_id, func, {trigger}, rule, version, schedule_hash) VALUES ('d', 'hello', 'date', '{rule}', 2, {basis})",
            trigger = trigger_col(&db)
        ),
    )
    .await;
    let (scheduler, _clock) = start(&db, registry()).await;
    scheduler.reconcile().await.unwrap();
    assert_eq!(both(&scheduler, &db, "d").await, (None, None));
    assert!(executions(&db, "d").await.is_empty());
}

async fn a_row_deleted_and_inserted_again_in_one_transaction_is_the_new_one(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry()).await;
    job("j", "hello", "cron", "4 * * * *").insert(&db).await.unwrap();
    wait_scheduled_at(&scheduler, &db, "j", t(240)).await;
    let txn = db.begin().await.unwrap();
    sql(&txn, "DELETE FROM job_info WHERE job_id = 'j'").await;
    sql(&txn, &insert_sql(&db, "j", "hello", "8 * * * *", "NULL")).await;
    txn.commit().await.unwrap();
    wait_scheduled_at(&scheduler, &db, "j", t(480)).await;
}

async fn a_row_deleted_and_inserted_again_in_two_statements_is_the_new_one(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry()).await;
    job("j", "hello", "cron", "4 * * * *").insert(&db).await.unwrap();
    wait_scheduled_at(&scheduler, &db, "j", t(240)).await;
    sql(&db, "DELETE FROM job_info WHERE job_id = 'j'").await;
    sql(&db, &insert_sql(&db, "j", "hello", "8 * * * *", "NULL")).await;
    wait_scheduled_at(&scheduler, &db, "j", t(480)).await;
    // And once more, now that the row has a version of its own again.
    sql(&db, "DELETE FROM job_info WHERE job_id = 'j'").await;
    sql(&db, &insert_sql(&db, "j", "hello", "12 * * * *", "NULL")).await;
    wait_scheduled_at(&scheduler, &db, "j", t(720)).await;
}

async fn a_transaction_open_across_the_start_is_seen(db: DatabaseConnection) {
    if db.get_database_backend() == DatabaseBackend::Sqlite {
        // One writer at a time: an open write transaction holds the file, so
        // the scheduler's start waits for it to end.
        return;
    }
    // Something committed before, so the log is not empty when the scheduler opens it.
    sql(&db, &insert_sql(&db, "before", "hello", "4 * * * *", "NULL")).await;
    let txn = db.begin().await.unwrap();
    sql(&txn, &insert_sql(&db, "late", "hello", "8 * * * *", "NULL")).await;
    // Committed after the open transaction took its place in the log, and
    // before the scheduler starts: the newest change it finds is after it.
    sql(&db, &insert_sql(&db, "meanwhile", "hello", "16 * * * *", "NULL")).await;
    let (scheduler, _clock) = start(&db, registry()).await;
    wait_scheduled_at(&scheduler, &db, "before", t(240)).await;
    // Later changes commit while the transaction is still open.
    sql(&db, &insert_sql(&db, "after", "hello", "12 * * * *", "NULL")).await;
    wait_scheduled_at(&scheduler, &db, "after", t(720)).await;
    txn.commit().await.unwrap();
    wait_scheduled_at(&scheduler, &db, "late", t(480)).await;
}

async fn one_statement_changing_many_rows_applies_to_each(db: DatabaseConnection) {
    const ROWS: usize = 1_000;
    let values: Vec<String> = (0..ROWS)
        .map(|i| format!("('bulk-{i:04}', 'hello', 'cron', '4 * * * *')"))
        .collect();
    sql(
        &db,
        &format!(
            "INSERT INTO job_info (job_id, func, {trigger}, rule) VALUES {}",
            values.join(", "),
            trigger = trigger_col(&db)
        ),
    )
    .await;
    let (scheduler, _clock) = start(&db, registry()).await;
    wait_until(&scheduler, "every row is scheduled", || async {
        scheduler.status().scheduled == ROWS
    })
    .await;
    sql(&db, "UPDATE job_info SET rule = '8 * * * *'").await;
    wait_until(&scheduler, "every row follows the new rule", || async {
        (0..ROWS).all(|i| scheduler.live(&format!("bulk-{i:04}")).and_then(|l| l.next_run_time) == Some(t(480)))
    })
    .await;
    use ruqi::entity::job_info::{Column, Entity};
    use sea_orm::{EntityTrait, QuerySelect};
    let stored: Vec<Option<chrono::DateTime<chrono::Utc>>> = Entity::find()
        .select_only()
        .column(Column::NextRunTime)
        .into_tuple()
        .all(&db)
        .await
        .unwrap();
    assert_eq!(stored.len(), ROWS);
    assert!(stored.iter().all(|n| *n == Some(t(480))), "every row says so too");
}

backend_tests!(
    repairing_the_function_schedules_the_row,
    a_date_moved_into_the_past_says_why,
    a_date_set_to_now_runs,
    a_rule_changed_while_stopped_applies_at_start,
    a_job_resumed_while_stopped_is_scheduled_at_start,
    an_orm_write_after_a_hand_edit_plans_from_the_edited_rule,
    a_next_run_time_set_while_stopped_is_kept,
    a_finished_date_job_stays_finished_after_a_restart,
    a_row_deleted_and_inserted_again_in_one_transaction_is_the_new_one,
    a_row_deleted_and_inserted_again_in_two_statements_is_the_new_one,
    a_transaction_open_across_the_start_is_seen,
    one_statement_changing_many_rows_applies_to_each,
);
