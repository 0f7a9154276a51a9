//! When the measured runs' ends were recorded: the scheduler's `succeeded`
//! events counted on a thread of their own ([`EndCounter`]), then the count
//! confirmed in `job_execution` ([`confirm_in_database`]). The scenarios
//! that time a burst of one-shot jobs (`throughput`, `xxl`) share them; a
//! measured job is one whose id starts with the prefix they are given.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, Utc};
use ruqi::entity::job_execution;
use ruqi::{EventStream, SchedulerEvent};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};

/// How long the counter and the poll wait for the next run to end before
/// they stop waiting and count the rest as lost.
pub(crate) const STALL_LIMIT: Duration = Duration::from_secs(30);

/// What the event counter saw.
pub(crate) struct Ends {
    /// When each `succeeded` event of a measured job arrived.
    pub(crate) succeeded: Vec<DateTime<Utc>>,
    /// Other endings of measured jobs.
    pub(crate) other_ends: usize,
    /// Events skipped because the counter fell behind.
    pub(crate) dropped: u64,
}

/// How often the counter reads the events that arrived meanwhile.
const READ_EVERY: Duration = Duration::from_millis(1);

/// Counts the ends of the measured runs on a thread of its own, so that the
/// thousands of run tasks on the runtime's two workers cannot starve it
/// into falling more than the stream's buffer behind. It reads what arrived
/// every millisecond ([`READ_EVERY`]) instead of awaiting each event: a
/// subscriber waiting for the next event is woken by the scheduler for every
/// one it sends, a thread wake-up per event that took about a twentieth of
/// the scheduler's CPU during a burst, and that no other part of a run pays.
/// An end is timed when the read finds it, up to a millisecond late.
pub(crate) struct EndCounter {
    thread: std::thread::JoinHandle<Result<Ends>>,
}

impl EndCounter {
    /// Starts counting the ends of jobs whose id starts with `prefix`: until
    /// `expected` runs have ended (or the stream says it skipped events for
    /// them), or nothing has ended for [`STALL_LIMIT`] once the jobs were due.
    pub(crate) fn spawn(
        mut events: EventStream,
        prefix: &'static str,
        expected: usize,
        due_at: DateTime<Utc>,
    ) -> Result<EndCounter> {
        let thread = std::thread::Builder::new()
            .name("bench-end-counter".to_owned())
            .spawn(move || {
                let mut ends = Ends {
                    succeeded: Vec::with_capacity(expected),
                    other_ends: 0,
                    dropped: 0,
                };
                // Nothing is waited for until the jobs are due.
                let mut last_end = Instant::now() + (due_at - Utc::now()).to_std().unwrap_or_default();
                loop {
                    let arrived = Utc::now();
                    while let Some(event) = events.try_next() {
                        match event.run_ended() {
                            Some(run) if run.job_id.starts_with(prefix) => {
                                if matches!(event, SchedulerEvent::Succeeded(_)) {
                                    ends.succeeded.push(arrived);
                                } else {
                                    ends.other_ends += 1;
                                }
                                last_end = Instant::now();
                            }
                            _ => {}
                        }
                    }
                    ends.dropped = events.dropped();
                    let counted = ends.succeeded.len() + ends.other_ends;
                    if counted + usize::try_from(ends.dropped).unwrap_or(usize::MAX) >= expected
                        || last_end.elapsed() >= STALL_LIMIT
                    {
                        return Ok(ends);
                    }
                    std::thread::sleep(READ_EVERY);
                }
            })
            .context("starting the event counter's thread")?;
        Ok(EndCounter { thread })
    }

    /// Waits for the counter to finish.
    pub(crate) async fn finish(self) -> Result<Ends> {
        let thread = self.thread;
        tokio::task::spawn_blocking(move || thread.join())
            .await?
            .map_err(|_| anyhow!("the event counter's thread panicked"))?
    }
}

/// The `success` rows of the measured jobs, counted in the database.
pub(crate) struct Confirmed {
    /// Whether all of them were there.
    pub(crate) complete: bool,
    /// When a poll first found them all (or the last poll, if never).
    pub(crate) at: DateTime<Utc>,
}

/// Polls `job_execution` until it holds a `success` row for every one of
/// the `jobs` jobs whose id starts with `prefix`, or the count stops growing
/// for [`STALL_LIMIT`]. After the events, the first poll normally finds
/// them all.
pub(crate) async fn confirm_in_database(db: &DatabaseConnection, prefix: &str, jobs: usize) -> Result<Confirmed> {
    let mut last_count = 0;
    let mut last_growth = Instant::now();
    loop {
        let count = usize::try_from(
            job_execution::Entity::find()
                .filter(job_execution::Column::JobId.starts_with(prefix))
                .filter(job_execution::Column::Status.eq("success"))
                .count(db)
                .await?,
        )?;
        let at = Utc::now();
        if count >= jobs {
            return Ok(Confirmed { complete: true, at });
        }
        if count > last_count {
            last_count = count;
            last_growth = Instant::now();
        } else if last_growth.elapsed() >= STALL_LIMIT {
            return Ok(Confirmed { complete: false, at });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
