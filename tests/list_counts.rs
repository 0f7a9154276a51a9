//! The totals of job lists while a scheduler runs: counted once per change of
//! the table and kept in between, and still true after every kind of write —
//! through the ORM, through the scheduler, and in plain SQL.

#![allow(clippy::unwrap_used)]

mod common;

use common::{job, start, wait_until};
use ruqi::Registry;
use ruqi::query::{JobFilter, JobOrder, Page, list_jobs};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection};

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register("noop", |_ctx| async { Ok::<_, String>(()) });
    r
}

async fn total(db: &DatabaseConnection, filter: JobFilter) -> u64 {
    list_jobs(db, &filter, JobOrder::JobId, Page::first(2))
        .await
        .unwrap()
        .total
}

fn paused(paused: bool) -> JobFilter {
    JobFilter {
        paused: Some(paused),
        ..JobFilter::default()
    }
}

async fn totals_follow_every_kind_of_write(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry()).await;
    for id in ["a", "b", "c", "d", "e"] {
        job(id, "noop", "interval", "1h").insert(&db).await.unwrap();
    }
    // A write through the ORM counts at once, before the scheduler has applied it.
    assert_eq!(total(&db, JobFilter::default()).await, 5);
    assert_eq!(total(&db, JobFilter::default()).await, 5, "the kept count");

    // Rows typed in SQL show on the page at once, and the last page's total with them.
    let trigger = match db.get_database_backend() {
        DatabaseBackend::MySql => "`trigger`",
        _ => "\"trigger\"",
    };
    db.execute_unprepared(&format!(
        "INSERT INTO job_info (job_id, func, {trigger}, rule) VALUES ('y', 'noop', 'interval', '1h'), ('z', 'noop', 'interval', '1h')"
    ))
    .await
    .unwrap();
    let last = list_jobs(
        &db,
        &JobFilter::default(),
        JobOrder::JobId,
        Page { offset: 4, limit: 10 },
    )
    .await
    .unwrap();
    let ids: Vec<_> = last.items.iter().map(|v| v.job.job_id.as_str()).collect();
    assert_eq!(ids, ["e", "y", "z"]);
    assert_eq!(last.total, 7, "a page short of its limit ends the list");
    // Any page's total, once the change feed has read them.
    wait_until(&scheduler, "the typed rows are scheduled", || async {
        scheduler.live("y").is_some() && scheduler.live("z").is_some()
    })
    .await;
    assert_eq!(total(&db, JobFilter::default()).await, 7);

    // A pause through the scheduler moves the filtered totals.
    assert_eq!(total(&db, paused(true)).await, 0);
    assert_eq!(total(&db, paused(false)).await, 7);
    scheduler.pause("a").await.unwrap();
    assert_eq!(total(&db, paused(true)).await, 1);
    assert_eq!(total(&db, paused(false)).await, 6);

    // Rows deleted in SQL leave the totals once the feed has read it.
    db.execute_unprepared("DELETE FROM job_info WHERE job_id IN ('b', 'c', 'y')")
        .await
        .unwrap();
    wait_until(&scheduler, "the deleted rows are dropped", || async {
        ["b", "c", "y"].iter().all(|id| scheduler.live(id).is_none())
    })
    .await;
    assert_eq!(total(&db, JobFilter::default()).await, 4);
    assert_eq!(total(&db, paused(false)).await, 3);

    // An empty table, and a page past its end.
    db.execute_unprepared("DELETE FROM job_info").await.unwrap();
    let past = list_jobs(
        &db,
        &JobFilter::default(),
        JobOrder::JobId,
        Page { offset: 3, limit: 2 },
    )
    .await
    .unwrap();
    assert!(past.items.is_empty());
    let first = list_jobs(&db, &JobFilter::default(), JobOrder::JobId, Page::first(2))
        .await
        .unwrap();
    assert!(first.items.is_empty());
    assert_eq!(first.total, 0, "an empty first page means an empty list");
}

backend_tests!(totals_follow_every_kind_of_write);
