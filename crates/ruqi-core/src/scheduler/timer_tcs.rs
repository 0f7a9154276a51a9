//! The optional timer engine on `tokio-cron-scheduler` (cargo feature
//! `tokio-cron-scheduler`): every deadline becomes a one-shot job there, and
//! when it fires the deadline goes through the same fire path as the heap's.
//! It exists so the benchmark can compare the two engines in one run.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_cron_scheduler::{Job, JobScheduler};

use super::Inner;
use super::state::Due;
use crate::{Error, Result};

fn tcs_error(e: tokio_cron_scheduler::JobSchedulerError) -> Error {
    Error::Store(format!("tokio-cron-scheduler: {e}"))
}

pub(super) async fn start(inner: Arc<Inner>) -> Result<()> {
    let mut tcs = JobScheduler::new().await.map_err(tcs_error)?;
    tcs.start().await.map_err(tcs_error)?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Due>();
    let existing = {
        let mut state = inner.lock();
        state.external_timer = Some(tx);
        state.live_deadlines()
    };
    let driver = inner.clone();
    inner.tasks.spawn(async move {
        let mut pending = existing;
        loop {
            for due in pending.drain(..) {
                if let Err(error) = add_one_shot(&tcs, &driver, due).await {
                    tracing::warn!(%error, "tokio-cron-scheduler refused a deadline");
                }
            }
            tokio::select! {
                () = driver.shutdown.cancelled() => break,
                next = rx.recv() => match next {
                    Some(due) => pending.push(due),
                    None => break,
                },
            }
        }
        tcs.shutdown().await.ok();
    });
    Ok(())
}

async fn add_one_shot(tcs: &JobScheduler, inner: &Arc<Inner>, due: Due) -> Result<()> {
    let wait = (due.at - inner.clock.now()).to_std().unwrap_or_default();
    let instant = std::time::Instant::now() + wait;
    let inner = inner.clone();
    let mut due = Some(due);
    let job = Job::new_one_shot_at_instant_async(instant, move |_id, _tcs| {
        let inner = inner.clone();
        let due = due.take();
        Box::pin(async move {
            let Some(due) = due else { return };
            // tokio-cron-scheduler keeps one-shot times in whole seconds and
            // may fire up to a second early: never start a run before its instant.
            inner.clock.sleep_until(due.at).await;
            let live = inner.lock().take_if_live(due);
            if let Some(due) = live {
                inner.spawn_fire(due).await;
            }
        })
    })
    .map_err(tcs_error)?;
    tcs.add(job).await.map_err(tcs_error)?;
    Ok(())
}
