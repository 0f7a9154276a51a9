//! Scheduler events: what happened to jobs and runs, as a stream.
//!
//! Every scheduler publishes one event for each job added, modified or
//! removed, each run submitted and each way a run ends, and each fire that
//! did not run. [`Scheduler::events`](crate::Scheduler::events) subscribes;
//! metrics and alerts are fed from the same events.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::execution::TriggerSource;

/// Events kept for a subscriber that falls behind before the oldest are dropped.
pub const EVENT_BUFFER: usize = 4_096;

/// A run that has started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunStarted {
    /// The job.
    pub job_id: String,
    /// The job's `job_name`.
    pub job_name: Option<String>,
    /// The `job_execution.id` of the run.
    pub execution_id: String,
    /// The instant it runs for.
    pub scheduled_for: DateTime<Utc>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Why it runs.
    pub trigger_source: TriggerSource,
    /// The node running it.
    pub node: String,
}

/// A run that has ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunEnded {
    /// The job.
    pub job_id: String,
    /// The job's `job_name`.
    pub job_name: Option<String>,
    /// The `job_execution.id` of the run.
    pub execution_id: String,
    /// The instant it ran for.
    pub scheduled_for: DateTime<Utc>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended (for a timeout: the deadline).
    pub finished_at: DateTime<Utc>,
    /// Milliseconds from start to end.
    pub duration_ms: i64,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Why it ran.
    pub trigger_source: TriggerSource,
    /// The node that ran it.
    pub node: String,
    /// The error, for anything but success.
    pub error: Option<String>,
    /// When the next attempt runs, if the failure is retried.
    pub retry_at: Option<DateTime<Utc>>,
}

/// A fire that did not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FireMissed {
    /// The job.
    pub job_id: String,
    /// The job's `job_name`.
    pub job_name: Option<String>,
    /// The `job_execution.id` of the `missed` row.
    pub execution_id: String,
    /// The instant that did not run.
    pub scheduled_for: DateTime<Utc>,
    /// Why it did not run.
    pub reason: String,
    /// The node that noticed.
    pub node: String,
}

/// Something that happened in a scheduler.
///
/// Serialized with its kind in `event`:
/// `{"event": "failed", "job_id": "…", "execution_id": "…", …}`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SchedulerEvent {
    /// A row became a scheduled job.
    JobAdded {
        /// The job.
        job_id: String,
    },
    /// A job's row changed in a way that matters to the scheduler.
    JobModified {
        /// The job.
        job_id: String,
    },
    /// A job's row was deleted.
    JobRemoved {
        /// The job.
        job_id: String,
    },
    /// A row cannot be scheduled; it stays in the table with `last_error`.
    JobInvalid {
        /// The job.
        job_id: String,
        /// Why.
        error: String,
    },
    /// A run started.
    Submitted(RunStarted),
    /// A run returned `Ok`.
    Succeeded(RunEnded),
    /// A run returned `Err` or panicked.
    Failed(RunEnded),
    /// A run passed its `timeout_s`.
    TimedOut(RunEnded),
    /// A run was cancelled.
    Cancelled(RunEnded),
    /// A fire did not run: too late, or coalesced.
    Missed(FireMissed),
    /// A fire did not run because the job was still running (overlap policy).
    SkippedOverlap(FireMissed),
    /// A run's node died before it finished; its row is now `lost`.
    Lost {
        /// The job.
        job_id: String,
        /// The lost execution.
        execution_id: String,
        /// The instant it ran for.
        scheduled_for: DateTime<Utc>,
        /// The node that died.
        node: String,
    },
}

impl SchedulerEvent {
    /// The event's kind as it appears in `event` when serialized.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::JobAdded { .. } => "job_added",
            Self::JobModified { .. } => "job_modified",
            Self::JobRemoved { .. } => "job_removed",
            Self::JobInvalid { .. } => "job_invalid",
            Self::Submitted(_) => "submitted",
            Self::Succeeded(_) => "succeeded",
            Self::Failed(_) => "failed",
            Self::TimedOut(_) => "timed_out",
            Self::Cancelled(_) => "cancelled",
            Self::Missed(_) => "missed",
            Self::SkippedOverlap(_) => "skipped_overlap",
            Self::Lost { .. } => "lost",
        }
    }

    /// The job the event is about.
    pub fn job_id(&self) -> &str {
        match self {
            Self::JobAdded { job_id }
            | Self::JobModified { job_id }
            | Self::JobRemoved { job_id }
            | Self::JobInvalid { job_id, .. }
            | Self::Lost { job_id, .. } => job_id,
            Self::Submitted(run) => &run.job_id,
            Self::Succeeded(run) | Self::Failed(run) | Self::TimedOut(run) | Self::Cancelled(run) => &run.job_id,
            Self::Missed(fire) | Self::SkippedOverlap(fire) => &fire.job_id,
        }
    }

    /// The run that ended, for the four ways a run ends.
    pub fn run_ended(&self) -> Option<&RunEnded> {
        match self {
            Self::Succeeded(run) | Self::Failed(run) | Self::TimedOut(run) | Self::Cancelled(run) => Some(run),
            _ => None,
        }
    }
}

/// A subscription to a scheduler's events, from the moment it was made.
///
/// ```no_run
/// # async fn watch(scheduler: ruqi_core::Scheduler) {
/// let mut events = scheduler.events();
/// while let Some(event) = events.next().await {
///     if let ruqi_core::SchedulerEvent::Failed(run) = &event {
///         eprintln!("{} failed: {:?}", run.job_id, run.error);
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct EventStream {
    receiver: broadcast::Receiver<SchedulerEvent>,
    dropped: u64,
}

impl EventStream {
    pub(crate) fn new(receiver: broadcast::Receiver<SchedulerEvent>) -> Self {
        Self { receiver, dropped: 0 }
    }

    /// The next event; `None` once the scheduler is gone. A subscriber more
    /// than [`EVENT_BUFFER`] events behind skips the oldest ones (counted by
    /// [`dropped`](Self::dropped)) instead of slowing the scheduler down.
    pub async fn next(&mut self) -> Option<SchedulerEvent> {
        loop {
            match self.receiver.recv().await {
                Ok(event) => return Some(event),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    self.dropped += n;
                    tracing::warn!(dropped = n, "an event subscriber fell behind; oldest events skipped");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// Events skipped because this subscriber fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The next event if one is already waiting, without waiting for one:
    /// `None` when none is (or the scheduler is gone). A subscriber that
    /// reads on its own rhythm this way, instead of awaiting [`next`](Self::next),
    /// is never woken by the scheduler, which then does not pay a thread
    /// wake-up per event it sends.
    pub fn try_next(&mut self) -> Option<SchedulerEvent> {
        loop {
            match self.receiver.try_recv() {
                Ok(event) => return Some(event),
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    self.dropped += n;
                    tracing::warn!(dropped = n, "an event subscriber fell behind; oldest events skipped");
                }
                Err(broadcast::error::TryRecvError::Empty | broadcast::error::TryRecvError::Closed) => return None,
            }
        }
    }

    /// The subscription as a [`futures::Stream`].
    pub fn into_stream(self) -> impl futures::Stream<Item = SchedulerEvent> + Send + 'static {
        futures::stream::unfold(self, |mut events| async move {
            let event = events.next().await?;
            Some((event, events))
        })
    }
}
