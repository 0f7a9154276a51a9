//! The store's group commit: claims, run starts and run ends made at the
//! same moment are written in batches, and each caller still gets its own
//! answer, on every backend.

#![allow(clippy::unwrap_used)]

mod common;

use chrono::Duration;
use common::t;
use futures::future::join_all;
use ruqi::entity::{job_execution, job_info};
use ruqi::execution::{ExecutionEnd, ExecutionStart};
use ruqi::{ExecutionStatus, JobStateChange, JobStore, SeaOrmStore, TriggerSource};
use sea_orm::ActiveValue::Set;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, TransactionTrait};

const JOBS: usize = 300;

/// Waits (up to 20 s) until `job_execution` holds `rows` rows: a start is
/// answered once queued, and its row is written by the next batch.
async fn wait_for_rows(db: &DatabaseConnection, rows: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let written = job_execution::Entity::find().all(db).await.unwrap().len();
        if written == rows {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{written} of {rows} rows written");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn id(i: usize) -> String {
    format!("g{i:04}")
}

async fn seed(db: &DatabaseConnection) {
    let rows = (0..JOBS).map(|i| job_info::ActiveModel {
        job_id: Set(id(i)),
        func: Set("f".into()),
        trigger: Set("interval".into()),
        rule: Set("1h".into()),
        next_run_time: Set(Some(t(3600))),
        ..<job_info::ActiveModel as sea_orm::ActiveModelBehavior>::new()
    });
    job_info::Entity::insert_many(rows).exec(db).await.unwrap();
}

async fn version(db: &DatabaseConnection, job_id: &str) -> i64 {
    job_info::Entity::find_by_id(job_id.to_owned())
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .version
}

async fn claims_at_once_each_get_their_own_answer(db: DatabaseConnection) {
    seed(&db).await;
    let store = SeaOrmStore::new(db.clone());
    let v = version(&db, &id(0)).await;
    let next = t(7200);
    let claim = JobStateChange {
        next_run_time: Some(Some(next)),
        is_running: Some(true),
        ..JobStateChange::default()
    };
    let pause = JobStateChange {
        next_run_time: Some(None),
        is_paused: Some(true),
        ..JobStateChange::default()
    };
    // Even jobs: the right version. Odd jobs: a stale one. Job 0 is claimed
    // twice with the same version (one of the two wins), job 2 is paused.
    let mut calls = Vec::new();
    for i in 0..JOBS {
        let expected = if i.is_multiple_of(2) { v } else { v - 1 };
        let change = if i == 2 { &pause } else { &claim };
        calls.push((id(i), expected, change));
    }
    calls.push((id(0), v, &claim));
    let answers = join_all(
        calls
            .iter()
            .map(|(job_id, expected, change)| store.update_job_state(job_id, *expected, change)),
    )
    .await;
    let answers: Vec<bool> = answers.into_iter().map(Result::unwrap).collect();
    for (i, won) in answers.iter().enumerate().take(JOBS).skip(1) {
        assert_eq!(*won, i.is_multiple_of(2), "claim of {}", id(i));
    }
    // Two claims of one version at once: exactly one wins. Which one is not
    // fixed: on a server two writers may commit them in either order.
    assert!(
        answers[0] != answers[JOBS],
        "of two claims of one version exactly one wins: {} and {}",
        answers[0],
        answers[JOBS]
    );

    let stats = store.group_commit_stats();
    assert_eq!(stats.operations, JOBS as u64 + 1);
    assert!(
        stats.batches < stats.operations,
        "claims made at once are written together: {stats:?}"
    );
    assert_eq!(stats.split, 0, "no batch had to be split: {stats:?}");

    let rows = job_info::Entity::find().all(&db).await.unwrap();
    for row in rows {
        let i: usize = row.job_id[1..].parse().unwrap();
        if i % 2 == 1 {
            assert_eq!(row.version, v, "{} lost its claim and is unchanged", row.job_id);
            assert_eq!(row.next_run_time, Some(t(3600)));
            assert!(!row.is_running);
        } else if i == 2 {
            assert_eq!(row.version, v + 1);
            assert_eq!(row.next_run_time, None);
            assert!(row.is_paused);
            assert!(!row.is_running, "a change that leaves is_running out keeps it");
        } else {
            assert_eq!(row.version, v + 1, "{} was claimed once", row.job_id);
            assert_eq!(row.next_run_time, Some(next));
            assert!(row.is_running);
            assert!(!row.is_paused);
        }
    }
}

fn start_of(i: usize) -> ExecutionStart {
    ExecutionStart {
        id: format!("e{i:04}"),
        job_id: id(i),
        job_name: Some(format!("job {i}")),
        scheduled_for: t(60),
        started_at: t(61),
        attempt: 1,
        trigger_source: if i.is_multiple_of(3) {
            TriggerSource::Manual
        } else {
            TriggerSource::Schedule
        },
        node: "n1".into(),
        // A run started by hand may have been given other arguments.
        args: i
            .is_multiple_of(3)
            .then(|| std::sync::Arc::new(serde_json::json!({ "run": i, "note": "given \"by hand\"" }))),
    }
}

fn end_of(i: usize) -> ExecutionEnd {
    let failed = i.is_multiple_of(5);
    ExecutionEnd {
        id: format!("e{i:04}"),
        job_id: id(i),
        status: if failed {
            ExecutionStatus::Failed
        } else {
            ExecutionStatus::Success
        },
        started_at: Some(t(61)),
        finished_at: t(61) + Duration::milliseconds(i as i64),
        duration_ms: i as i64,
        output: (i.is_multiple_of(2)).then(|| format!("line {i}")),
        error: failed.then(|| format!("error {i}")),
    }
}

async fn starts_and_ends_at_once_are_all_recorded(db: DatabaseConnection) {
    seed(&db).await;
    let store = SeaOrmStore::new(db.clone());
    let starts: Vec<ExecutionStart> = (0..JOBS).map(start_of).collect();
    for result in join_all(starts.iter().map(|s| store.record_start(s))).await {
        result.unwrap();
    }
    wait_for_rows(&db, JOBS).await;
    let running = job_execution::Entity::find().all(&db).await.unwrap();
    assert_eq!(running.len(), JOBS);
    assert!(running.iter().all(|r| r.status == "running" && r.finished_at.is_none()));
    for row in job_info::Entity::find().all(&db).await.unwrap() {
        let i: usize = row.job_id[1..].parse().unwrap();
        // A scheduled fire's claim sets is_running; the start sets it for the others.
        assert_eq!(row.is_running, i.is_multiple_of(3), "{}", row.job_id);
    }

    let ends: Vec<ExecutionEnd> = (0..JOBS).map(end_of).collect();
    for result in join_all(ends.iter().enumerate().map(|(i, e)| store.record_end(e, i == 7))).await {
        result.unwrap();
    }
    for row in job_execution::Entity::find().all(&db).await.unwrap() {
        let i: usize = row.id[1..].parse().unwrap();
        let end = end_of(i);
        assert_eq!(row.status, end.status.as_str(), "{}", row.id);
        assert_eq!(row.finished_at, Some(end.finished_at));
        assert_eq!(row.duration_ms, Some(end.duration_ms));
        assert_eq!(row.output, end.output);
        assert_eq!(row.error, end.error);
        assert_eq!(row.started_at, Some(t(61)));
        assert_eq!(row.job_name, Some(format!("job {i}")));
        let args = row
            .args
            .map(|text| serde_json::from_str::<serde_json::Value>(&text).unwrap());
        assert_eq!(args, start_of(i).args.map(|a| (*a).clone()), "{}", row.id);
    }
    for row in job_info::Entity::find().all(&db).await.unwrap() {
        let i: usize = row.job_id[1..].parse().unwrap();
        let end = end_of(i);
        assert_eq!(row.last_status.as_deref(), Some(end.status.as_str()), "{}", row.job_id);
        assert_eq!(row.last_error, end.error);
        assert_eq!(row.is_running, i == 7, "{}", row.job_id);
    }
    let stats = store.group_commit_stats();
    assert!(stats.batches < stats.operations, "{stats:?}");
    assert_eq!(stats.split, 0, "no batch had to be split: {stats:?}");
    assert_eq!(stats.whole_runs, 0, "every start was written before its end: {stats:?}");
}

/// Runs that end at once, before a writer has taken their starts: each is
/// written as one finished row, with every column its start and its end
/// give, and its job's outcome.
async fn runs_that_end_before_their_start_is_written_land_whole(db: DatabaseConnection) {
    seed(&db).await;
    let store = SeaOrmStore::new(db.clone());
    let runs = (0..JOBS).map(|i| {
        let store = &store;
        async move {
            store.record_start(&start_of(i)).await?;
            store.record_end(&end_of(i), false).await
        }
    });
    for result in join_all(runs).await {
        result.unwrap();
    }
    let rows = job_execution::Entity::find().all(&db).await.unwrap();
    assert_eq!(rows.len(), JOBS);
    for row in rows {
        let i: usize = row.id[1..].parse().unwrap();
        let (start, end) = (start_of(i), end_of(i));
        assert_eq!(row.status, end.status.as_str(), "{}", row.id);
        assert_eq!(row.finished_at, Some(end.finished_at));
        assert_eq!(row.duration_ms, Some(end.duration_ms));
        assert_eq!(row.output, end.output);
        assert_eq!(row.error, end.error);
        assert_eq!(row.job_id, start.job_id);
        assert_eq!(row.job_name, start.job_name);
        assert_eq!(row.scheduled_for, start.scheduled_for);
        assert_eq!(row.started_at, Some(start.started_at));
        assert_eq!(row.attempt, 1);
        assert_eq!(row.node.as_deref(), Some("n1"));
        assert_eq!(row.trigger_source, start.trigger_source.as_str());
    }
    for row in job_info::Entity::find().all(&db).await.unwrap() {
        let end = end_of(row.job_id[1..].parse().unwrap());
        assert_eq!(row.last_status.as_deref(), Some(end.status.as_str()), "{}", row.job_id);
        assert_eq!(row.last_error, end.error);
        assert!(!row.is_running, "{}", row.job_id);
    }
    // Each end was sent the moment its start returned, so nearly all found
    // their start still queued; without whole runs this stays 0.
    let stats = store.group_commit_stats();
    assert!(stats.whole_runs > 0, "{stats:?}");
}

/// A start whose row exists already (a claim elsewhere wrote it, or an
/// earlier try of this write landed) leaves that row as it is and fails
/// neither itself nor the others of its batch.
async fn a_start_written_twice_keeps_its_row_and_the_others(db: DatabaseConnection) {
    seed(&db).await;
    let store = SeaOrmStore::new(db.clone());
    store.record_start(&start_of(5)).await.unwrap();
    wait_for_rows(&db, 1).await;
    // Start 5 again, from another node, together with fresh starts.
    let mut starts: Vec<ExecutionStart> = (0..50).map(start_of).collect();
    starts[5].node = "n2".to_owned();
    let results = join_all(starts.iter().map(|s| store.record_start(s))).await;
    assert!(results.iter().all(Result::is_ok), "starts are answered once queued");
    wait_for_rows(&db, 50).await;
    let kept = job_execution::Entity::find_by_id(start_of(5).id)
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.node.as_deref(), Some("n1"), "the first row stays");
    let stats = store.group_commit_stats();
    assert_eq!(stats.split, 0, "no batch failed: {stats:?}");
}

async fn rows_another_writer_holds_are_claimed_once_it_lets_go(db: DatabaseConnection) {
    if db.get_database_backend() == DatabaseBackend::Sqlite {
        // SQLite has one writer at a time: there are no row locks to hold.
        return;
    }
    seed(&db).await;
    let store = std::sync::Arc::new(SeaOrmStore::new(db.clone()));
    let v = version(&db, &id(0)).await;
    // A user's transaction holds rows 0 and 1 (a bulk edit not committed yet,
    // of a column that leaves `version` alone).
    let txn = db.begin().await.unwrap();
    txn.execute_unprepared("UPDATE job_info SET last_error = 'held' WHERE job_id IN ('g0000', 'g0001')")
        .await
        .unwrap();
    let claim = JobStateChange {
        next_run_time: Some(Some(t(7200))),
        ..JobStateChange::default()
    };
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            let claim = claim.clone();
            tokio::spawn(async move { store.update_job_state(&id(i), v, &claim).await })
        })
        .collect();
    let mut tasks = tasks.into_iter();
    let held: Vec<_> = tasks.by_ref().take(2).collect();
    // The free rows are claimed while the others are still held.
    for task in tasks {
        assert!(task.await.unwrap().unwrap(), "a free row is claimed at once");
    }
    assert!(held.iter().all(|t| !t.is_finished()), "a held row waits for its holder");
    txn.commit().await.unwrap();
    for task in held {
        assert!(task.await.unwrap().unwrap(), "a held row is claimed once it is let go");
    }
    assert_eq!(version(&db, &id(0)).await, v + 1);
}

/// A run's end and its job's outcome columns commit together: while a
/// user's transaction holds a job's row, that job's end waits, unwritten and
/// its caller unanswered, and the other jobs' ends are written at once.
async fn an_end_waits_for_its_held_job_and_lands_with_it(db: DatabaseConnection) {
    if db.get_database_backend() == DatabaseBackend::Sqlite {
        // SQLite has one writer at a time: there are no row locks to hold.
        return;
    }
    seed(&db).await;
    let store = std::sync::Arc::new(SeaOrmStore::new(db.clone()));
    let starts: Vec<ExecutionStart> = (0..20).map(start_of).collect();
    for result in join_all(starts.iter().map(|s| store.record_start(s))).await {
        result.unwrap();
    }
    wait_for_rows(&db, 20).await;
    let txn = db.begin().await.unwrap();
    txn.execute_unprepared("UPDATE job_info SET description = 'held' WHERE job_id = 'g0001'")
        .await
        .unwrap();
    let mut tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.record_end(&end_of(i), false).await })
        })
        .collect();
    let held = tasks.remove(1);
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let status = |id: &'static str| {
        let db = db.clone();
        async move {
            job_execution::Entity::find_by_id(id)
                .one(&db)
                .await
                .unwrap()
                .unwrap()
                .status
        }
    };
    let last_status = |id: &'static str| {
        let db = db.clone();
        async move {
            job_info::Entity::find_by_id(id)
                .one(&db)
                .await
                .unwrap()
                .unwrap()
                .last_status
        }
    };
    assert_eq!(status("e0002").await, "success");
    assert_eq!(last_status("g0002").await.as_deref(), Some("success"));
    assert_eq!(
        status("e0001").await,
        "running",
        "the held job's run is not finished without it"
    );
    assert!(!held.is_finished(), "the held job's end waits for its holder");
    txn.commit().await.unwrap();
    held.await.unwrap().unwrap();
    assert_eq!(status("e0001").await, "success");
    assert_eq!(last_status("g0001").await.as_deref(), Some("success"));
    let row = job_info::Entity::find_by_id("g0001").one(&db).await.unwrap().unwrap();
    assert_eq!(
        row.description.as_deref(),
        Some("held"),
        "the holder's own change stays"
    );
}

backend_tests!(
    claims_at_once_each_get_their_own_answer,
    runs_that_end_before_their_start_is_written_land_whole,
    rows_another_writer_holds_are_claimed_once_it_lets_go,
    starts_and_ends_at_once_are_all_recorded,
    a_start_written_twice_keeps_its_row_and_the_others,
    an_end_waits_for_its_held_job_and_lands_with_it,
);
