//! The limit baseline: the store's own writes for N runs, with no scheduler
//! around them.
//!
//! On a fresh database of the backend measured, the same N one-shot jobs
//! are written, and then every run is driven through a [`SeaOrmStore`] on
//! the same kind of pool exactly as the scheduler drives it: one task per
//! due fire, spawned at once and in the order the rows were written (the
//! timer hands every fire due at one instant to a task of its own, in load
//! order), each claiming its fire ([`JobStore::claim_fire`], the
//! `next_run_time` cleared and `is_running` set, as a one-shot job's claim
//! is), then taking one of [`MAX_CONCURRENT_RUNS`] permits for the instant
//! its function would run and queuing its `running` row
//! ([`JobStore::record_start`]), then recording the end
//! ([`JobStore::record_end`], which writes the execution row's outcome, or
//! the whole row when its start is still queued, and the job's
//! `last_status`). These are the
//! store's real methods, so the loop issues whatever statements the store
//! issues today, batched by its group commit the same way; what is missing
//! is the scheduler itself (timer, state, events, run bookkeeping).

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use chrono::{DateTime, Utc};
use ruqi::entity::job_execution;
use ruqi::execution::{ExecutionEnd, ExecutionStart, new_execution_id};
use ruqi::{ExecutionStatus, JobStateChange, JobStore, SeaOrmStore, TriggerSource};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tokio::sync::Semaphore;

use super::{JOB_PREFIX, one_shot_jobs};
use crate::backend::{Pool, Target};
use crate::db;

/// The scheduler's default `max_concurrent_runs`: how many functions it
/// lets run at once (the permits are held while a function runs, not while
/// its rows are written).
pub(crate) const MAX_CONCURRENT_RUNS: usize = 256;

/// The node name written on the loop's rows, as the scheduler writes its own.
const NODE: &str = "ruqi-bench";

/// What the loop measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    /// Runs per second: N ÷ seconds from the first claim issued until the
    /// last end was answered.
    pub(crate) runs_per_s: f64,
    /// Batches the store's group commit wrote.
    pub(crate) batches: u64,
    /// Claims, starts and ends in those batches.
    pub(crate) operations: u64,
}

/// Writes `jobs` one-shot jobs to the empty database `target` and drives
/// one run of each through the store; checks that every claim won and that
/// every job has its `success` row.
pub(crate) async fn measure(target: &Target, jobs: usize) -> Result<Limit> {
    let db = target.connect(Pool::Default).await?;
    ruqi::migrate(&db).await?;
    let now = Utc::now();
    // Already due: nothing here waits for an instant.
    let due_at = now - chrono::Duration::seconds(1);
    db::insert_jobs(&db, one_shot_jobs(jobs, due_at, now)).await?;

    let store = Arc::new(SeaOrmStore::new(db.clone()));
    let permits = Arc::new(Semaphore::new(MAX_CONCURRENT_RUNS));
    let began = Instant::now();
    // Spawned from a task on the runtime, as the timer spawns its fires: the
    // runs queue on that worker first, and tokio hands them out from there.
    let shared = (store.clone(), permits);
    let mut runs = tokio::spawn(async move {
        let mut runs = tokio::task::JoinSet::new();
        for i in 0..jobs {
            let (store, permits) = (shared.0.clone(), shared.1.clone());
            runs.spawn(async move { run(&*store, &permits, format!("{JOB_PREFIX}{i:06}"), due_at).await });
        }
        runs
    })
    .await
    .context("spawning the runs of the limit loop")?;
    while let Some(done) = runs.join_next().await {
        done.context("a run of the limit loop panicked")??;
    }
    let elapsed = began.elapsed().as_secs_f64();
    let stats = store.group_commit_stats();

    let recorded = job_execution::Entity::find()
        .filter(job_execution::Column::JobId.starts_with(JOB_PREFIX))
        .filter(job_execution::Column::Status.eq("success"))
        .count(&db)
        .await?;
    ensure!(
        usize::try_from(recorded)? == jobs,
        "the limit loop left {recorded} `success` rows for {jobs} runs"
    );
    Ok(Limit {
        runs_per_s: jobs as f64 / elapsed,
        batches: stats.batches,
        operations: stats.operations,
    })
}

/// One run's writes, as the scheduler makes them for a one-shot job whose
/// function returns at once.
async fn run(store: &dyn JobStore, permits: &Semaphore, job_id: String, due_at: DateTime<Utc>) -> Result<()> {
    let start = ExecutionStart {
        id: new_execution_id(),
        job_id: job_id.clone(),
        job_name: Some("bench".to_owned()),
        scheduled_for: due_at,
        started_at: due_at.max(Utc::now()),
        attempt: 1,
        trigger_source: TriggerSource::Schedule,
        node: NODE.to_owned(),
        args: None,
    };
    // A one-shot job has no fire after this one; its run is marked running.
    let change = JobStateChange {
        next_run_time: Some(None),
        is_running: Some(true),
        ..JobStateChange::default()
    };
    // Every row is at version 1 and nothing else writes: each claim wins.
    let won = store.claim_fire(&job_id, 1, &change, Some(&start), &[]).await?;
    ensure!(won, "the claim of {job_id} lost with nobody else writing");
    // The function's turn: it holds a permit while it runs, and returns at once.
    let permit = permits.acquire().await?;
    let started_at = Utc::now();
    store
        .record_start(&ExecutionStart {
            started_at,
            ..start.clone()
        })
        .await?;
    drop(permit);
    let finished_at = Utc::now();
    let end = ExecutionEnd {
        id: start.id,
        job_id,
        status: ExecutionStatus::Success,
        started_at: Some(started_at),
        finished_at,
        duration_ms: (finished_at - started_at).num_milliseconds(),
        output: None,
        error: None,
    };
    store.record_end(&end, false).await?;
    Ok(())
}
