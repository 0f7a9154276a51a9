//! The rows of a list page are exactly the stored rows, however the page is
//! read (SQLite reads a page as one JSON array, other backends and rows that
//! array cannot carry row by row), in every order of the lists; execution
//! lists leave out `output` and order runs of one instant by `id`.

#![allow(clippy::unwrap_used)]

mod common;

use chrono::Duration;
use common::{t, trigger_col, ts};
use ruqi::entity::{job_execution, job_info};
use ruqi::query::{Counting, ExecutionFilter, JobFilter, JobOrder, Page, list_executions, list_jobs};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, Order, QueryFilter, QueryOrder,
};

/// Every order a job list documents.
const EVERY_ORDER: [JobOrder; 5] = [
    JobOrder::JobId,
    JobOrder::NextRunTime,
    JobOrder::CreatedAt,
    JobOrder::UpdatedAt,
    JobOrder::JobName,
];

/// Every job row as the ORM reads it, in `order` as the list documents it.
async fn stored_jobs(db: &DatabaseConnection, order: JobOrder) -> Vec<job_info::Model> {
    use job_info::Column;
    let query = job_info::Entity::find();
    let query = match order {
        JobOrder::JobId => query.order_by(Column::JobId, Order::Asc),
        JobOrder::NextRunTime => query
            .order_by(Expr::col(Column::NextRunTime).is_null(), Order::Asc)
            .order_by(Column::NextRunTime, Order::Asc)
            .order_by(Column::JobId, Order::Asc),
        JobOrder::CreatedAt => query
            .order_by(Column::CreatedAt, Order::Desc)
            .order_by(Column::JobId, Order::Asc),
        JobOrder::UpdatedAt => query
            .order_by(Column::UpdatedAt, Order::Desc)
            .order_by(Column::JobId, Order::Asc),
        JobOrder::JobName => query
            .order_by(Column::JobName, Order::Asc)
            .order_by(Column::JobId, Order::Asc),
    };
    query.all(db).await.unwrap()
}

/// The rows of the list's pages of `limit` in `order`, one page after the other.
async fn listed_jobs(db: &DatabaseConnection, order: JobOrder, limit: u64) -> Vec<job_info::Model> {
    let mut rows = Vec::new();
    loop {
        let page = Page {
            offset: rows.len() as u64,
            limit,
        };
        let page = list_jobs(db, &JobFilter::default(), order, page).await.unwrap();
        let last = (page.items.len() as u64) < limit;
        rows.extend(page.items.into_iter().map(|view| view.job));
        if last {
            return rows;
        }
    }
}

async fn job_pages_hold_the_stored_rows_in_every_order(db: DatabaseConnection) {
    let trigger = trigger_col(&db);
    let fraction = Duration::microseconds(123_456);
    // Rows typed in SQL, with text a JSON array must escape, nulls,
    // fractions of a second, the largest 64-bit integer, and every flag.
    db.execute_unprepared(&format!(
        "INSERT INTO job_info (job_id, func, {trigger}, rule) VALUES ('lp-a', 'noop', 'interval', '1h')"
    ))
    .await
    .unwrap();
    db.execute_unprepared(&format!(
        "INSERT INTO job_info (job_id, job_name, description, func, args, {trigger}, rule, timezone, start_at, \
         end_at, next_run_time, is_paused, is_running, run_right_now, timeout_s, child_jobs, alert_url, last_status, \
         last_error, schedule_hash, created_at, updated_at) VALUES ('lp-b', 'It''s \"quoted\" ✓', \
         'two\nlines 日本 </script>', 'noop', '{{\"k\": [1, 2.5, \"x\"], \"n\": null}}', 'cron', '0 20 2 * * *', \
         'Europe/Berlin', {start}, {end}, {next}, TRUE, TRUE, TRUE, 30, 'lp-a', 'http://127.0.0.1:9/alert', \
         'failed', 'boom: \"why\"', 9223372036854775807, {created}, {updated})",
        start = ts(&db, t(0) + fraction),
        end = ts(&db, t(86_400)),
        next = ts(&db, t(3_600) + fraction),
        created = ts(&db, t(-60)),
        updated = ts(&db, t(60) + fraction),
    ))
    .await
    .unwrap();
    db.execute_unprepared(&format!(
        "INSERT INTO job_info (job_id, job_name, func, {trigger}, rule, next_run_time, created_at, updated_at) \
         VALUES ('lp-c', 'group', 'noop', 'interval', '10m', {next}, {at}, {at})",
        next = ts(&db, t(1_800)),
        at = ts(&db, t(-60)),
    ))
    .await
    .unwrap();
    if db.get_database_backend() == DatabaseBackend::Sqlite {
        // A date in a form of its own: the page cannot carry it as JSON and
        // is read row by row, with the same rows.
        db.execute_unprepared(&format!(
            "INSERT INTO job_info (job_id, func, {trigger}, rule, next_run_time) \
             VALUES ('lp-d', 'noop', 'interval', '1h', '2026-05-01 00:30:00')"
        ))
        .await
        .unwrap();
    }
    for i in 0..7 {
        db.execute_unprepared(&format!(
            "INSERT INTO job_info (job_id, job_name, func, {trigger}, rule, next_run_time) \
             VALUES ('lp-n{i}', 'group', 'noop', 'interval', '1h', {next})",
            next = ts(&db, t(600 * i)),
        ))
        .await
        .unwrap();
    }

    let stored = stored_jobs(&db, JobOrder::JobId).await;
    let b = stored.iter().find(|row| row.job_id == "lp-b").unwrap();
    assert_eq!(b.start_at, Some(t(0) + fraction), "the row as written");
    assert_eq!(b.schedule_hash, Some(i64::MAX));
    assert!(b.is_paused && b.is_running && b.run_right_now);
    for order in EVERY_ORDER {
        let stored = stored_jobs(&db, order).await;
        assert_eq!(listed_jobs(&db, order, 50).await, stored, "{order:?} in one page");
        assert_eq!(listed_jobs(&db, order, 3).await, stored, "{order:?} in pages of 3");
    }
}

/// Deep in the list (past the first 500 jobs) a page finds its jobs' ids
/// first and then their rows: the same rows, in the same order, with a
/// filter and in every order, ties broken by `job_id`.
async fn deep_job_pages_hold_the_stored_rows_in_every_order(db: DatabaseConnection) {
    let trigger = trigger_col(&db);
    let rows: Vec<String> = (0..620)
        .map(|i| {
            // Few distinct values: many ties, and nulls, in every ordered column.
            let next = if i % 7 == 0 {
                "NULL".to_owned()
            } else {
                ts(&db, t(60 * (i % 13)))
            };
            let name = if i % 5 == 0 {
                "NULL".to_owned()
            } else {
                format!("'g{}'", i % 3)
            };
            format!(
                "('deep-{:03}', {name}, 'noop', 'interval', '1h', {next}, {at}, {at}, {paused})",
                (i * 37) % 620,
                at = ts(&db, t(i % 11)),
                paused = if i % 4 == 0 { "TRUE" } else { "FALSE" },
            )
        })
        .collect();
    db.execute_unprepared(&format!(
        "INSERT INTO job_info (job_id, job_name, func, {trigger}, rule, next_run_time, created_at, updated_at, \
         is_paused) VALUES {}",
        rows.join(", ")
    ))
    .await
    .unwrap();
    for order in EVERY_ORDER {
        let stored = stored_jobs(&db, order).await;
        assert_eq!(stored.len(), 620);
        assert_eq!(listed_jobs(&db, order, 90).await, stored, "{order:?} in pages of 90");
        let active = JobFilter {
            paused: Some(false),
            ..JobFilter::default()
        };
        let deep = list_jobs(
            &db,
            &active,
            order,
            Page {
                offset: 100,
                limit: 1000,
            },
        )
        .await
        .unwrap();
        let expected: Vec<_> = stored.iter().filter(|row| !row.is_paused).skip(100).cloned().collect();
        let listed: Vec<_> = deep.items.into_iter().map(|view| view.job).collect();
        assert_eq!(listed, expected, "{order:?}, active jobs after the first 100");
        let deeper = list_jobs(&db, &active, order, Page { offset: 460, limit: 5 })
            .await
            .unwrap();
        let listed: Vec<_> = deeper.items.into_iter().map(|view| view.job).collect();
        assert_eq!(listed, expected[360..].to_vec(), "{order:?}, the last active jobs");
    }
}

/// A finished run of `job_id` scheduled for `at`, with output.
fn run(id: &str, job_id: &str, at: chrono::DateTime<chrono::Utc>) -> job_execution::ActiveModel {
    job_execution::ActiveModel {
        id: Set(id.into()),
        job_id: Set(job_id.into()),
        job_name: Set((job_id != "other").then(|| "g \"1\" ✓".to_owned())),
        scheduled_for: Set(at),
        started_at: Set(Some(at + Duration::microseconds(250))),
        finished_at: Set(Some(at + Duration::milliseconds(1_500))),
        duration_ms: Set(Some(1_500)),
        status: Set("success".into()),
        attempt: Set(1),
        output: Set(Some("line one\nline two".into())),
        error: Set(None),
        node: Set(Some("node-1".into())),
        trigger_source: Set("schedule".into()),
        cancel_requested_at: Set(None),
        args: Set(None),
    }
}

/// Every history row as the ORM reads it, newest first, ties by `id`,
/// with `output` left out as a list leaves it out.
async fn stored_runs(db: &DatabaseConnection, job_id: Option<&str>) -> Vec<job_execution::Model> {
    let mut query = job_execution::Entity::find();
    if let Some(job_id) = job_id {
        query = query.filter(job_execution::Column::JobId.eq(job_id));
    }
    let rows = query
        .order_by(job_execution::Column::ScheduledFor, Order::Desc)
        .order_by(job_execution::Column::Id, Order::Desc)
        .all(db)
        .await
        .unwrap();
    rows.into_iter()
        .map(|row| {
            assert!(row.output.is_some(), "the stored row has its output");
            job_execution::Model { output: None, ..row }
        })
        .collect()
}

async fn execution_pages_hold_the_stored_rows_without_output(db: DatabaseConnection) {
    // 60 runs of one instant (their ids out of insertion order), runs
    // before and after it, and another job's runs.
    let mut rows: Vec<_> = (0..60)
        .map(|i| run(&format!("run-{:03}", (i * 37) % 60), "same", t(0)))
        .collect();
    rows.push(run("run-late", "same", t(10) + Duration::microseconds(1)));
    rows.push(run("run-early", "same", t(-10)));
    rows.push(run("run-other-1", "other", t(5)));
    rows.push(run("run-other-2", "other", t(0)));
    job_execution::Entity::insert_many(rows)
        .exec_without_returning(&db)
        .await
        .unwrap();

    for job_id in [None, Some("same"), Some("other")] {
        let stored = stored_runs(&db, job_id).await;
        let filter = ExecutionFilter {
            job_id: job_id.map(str::to_owned),
            ..ExecutionFilter::default()
        };
        let mut listed = Vec::new();
        for offset in [0, 50] {
            let page = list_executions(&db, &filter, Page { offset, limit: 50 }, Counting::DEFAULT)
                .await
                .unwrap();
            assert_eq!(page.total, stored.len() as u64, "{job_id:?}");
            listed.extend(page.items);
        }
        assert_eq!(listed, stored, "{job_id:?}");
    }
    let first = &stored_runs(&db, None).await[..3];
    let ids: Vec<_> = first.iter().map(|row| row.id.as_str()).collect();
    assert_eq!(ids, ["run-late", "run-other-1", "run-other-2"]);
}

/// A list of executions counts no further than asked: past the cap its
/// total is a lower bound, the last page still knows the exact number, and
/// `Counting::Exact` counts every row.
async fn execution_totals_stop_at_their_cap_and_the_last_page_is_exact(db: DatabaseConnection) {
    let rows: Vec<_> = (0..25).map(|i| run(&format!("run-{i:02}"), "same", t(i))).collect();
    job_execution::Entity::insert_many(rows)
        .exec_without_returning(&db)
        .await
        .unwrap();
    let all = ExecutionFilter::default();
    let list = |page: Page, counting: Counting| {
        let (db, all) = (db.clone(), all.clone());
        async move { list_executions(&db, &all, page, counting).await.unwrap() }
    };

    let first = list(Page::first(5), Counting::UpTo(10)).await;
    assert_eq!((first.total, first.total_exact), (10, false), "at least 10");
    assert_eq!(first.items.len(), 5);
    let deep = list(Page { offset: 15, limit: 5 }, Counting::UpTo(10)).await;
    assert_eq!((deep.total, deep.total_exact), (20, false), "at least the rows shown");
    let last = list(Page { offset: 20, limit: 10 }, Counting::UpTo(10)).await;
    assert_eq!(
        (last.total, last.total_exact),
        (25, true),
        "the last page ends the list"
    );
    assert_eq!(last.items.len(), 5);

    let exact = list(Page::first(5), Counting::Exact).await;
    assert_eq!((exact.total, exact.total_exact), (25, true));
    let under = list(Page::first(5), Counting::UpTo(25)).await;
    assert_eq!(
        (under.total, under.total_exact),
        (25, true),
        "a count within the cap is exact"
    );
    let narrow = ExecutionFilter {
        from: Some(t(20)),
        ..ExecutionFilter::default()
    };
    let few = list_executions(&db, &narrow, Page::first(2), Counting::UpTo(10))
        .await
        .unwrap();
    assert_eq!(
        (few.total, few.total_exact),
        (5, true),
        "the filter is counted, not the table"
    );
}

backend_tests!(
    job_pages_hold_the_stored_rows_in_every_order,
    deep_job_pages_hold_the_stored_rows_in_every_order,
    execution_pages_hold_the_stored_rows_without_output,
    execution_totals_stop_at_their_cap_and_the_last_page_is_exact,
);
