//! Running a fire: the overlap policy, the concurrency limit, the function
//! itself (called by `call.rs`, with its timeout and cancellation), its log,
//! the history row, and what follows a run: a retry after a failure, the
//! child jobs after a success, the next queued run.
//!
//! A run that passes its `timeout_s` is recorded as `timeout` at the
//! deadline. An async function, polled by the run itself, is dropped there
//! (at the `.await` it waits in). A blocking function cannot
//! be stopped from outside: its cancellation token is set, and it keeps its
//! place for the overlap policy until its thread returns, or until as long
//! again as its timeout (at most five minutes) has passed, when it is
//! abandoned; whatever it returns late is dropped. The same holds for a
//! cancelled blocking run. Queued runs and retries start once the run has
//! stopped or been abandoned.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

use super::call::{Outcome, panic_text, run_handler, run_output, wait_until_stopped};
use super::fire::missed_start;
use super::state::ScheduledJob;
use super::state::{GivenArgs, QUEUE_LIMIT, RunHandle, RunRequest};
use super::{Inner, duration_to_chrono};
use crate::events::{FireMissed, RunEnded, RunStarted, SchedulerEvent};
use crate::execution::{ExecutionEnd, ExecutionStart, ExecutionStatus, MissedFire, TriggerSource, new_execution_id};
use crate::job::{MisfirePolicy, Overlap, RETRY_DELAY_MAX};
use crate::registry::RegisteredFunction;
use crate::registry::{JobContext, LogSink, RetryAdvice, RunInfo, RunSlot, attach_run_log};

/// How often the log of a run in progress is written to its row, for
/// readers on other nodes.
const LOG_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

enum Admission {
    Start(RunHandle),
    Queued,
    Skipped {
        reason: String,
        overlap: bool,
    },
    /// The job's row was deleted after the fire was claimed: as with a
    /// deletion within `claim_ahead`, there is no fire, and no row says so.
    Gone,
}

/// A stopped run's place under the overlap policy, given back.
struct FreedSlot {
    /// The run queued behind it, to start now.
    next: Option<RunRequest>,
    /// When the job was deleted with runs still queued: the job, and those
    /// runs, which will not run.
    dropped: Option<(Arc<ScheduledJob>, VecDeque<RunRequest>)>,
}

impl Inner {
    /// Starts a run of `job`, or queues or skips it as the overlap policy
    /// says. Returns the execution id of a started run.
    /// (Boxed because runs start runs: queued runs, retries and child jobs.)
    pub(super) fn start_run(
        self: Arc<Self>,
        job: Arc<ScheduledJob>,
        req: RunRequest,
    ) -> BoxFuture<'static, Option<String>> {
        Box::pin(self.start_run_inner(job, req))
    }

    async fn start_run_inner(self: Arc<Self>, job: Arc<ScheduledJob>, req: RunRequest) -> Option<String> {
        let handle = self.admitted(&job, &req).await?;
        let id = handle.execution_id.to_string();
        let inner = self.clone();
        self.tasks.spawn(async move {
            inner.execute(job, handle, req).await;
        });
        Some(id)
    }

    /// [`Inner::start_run`] in the calling task instead of a task of its
    /// own: for a claimed fire, whose task has nothing left to do but this
    /// run (a task fewer for every scheduled run).
    /// (An `async` block, as [`Inner::execute`].)
    #[allow(clippy::manual_async_fn)] // an `async fn` would keep its arguments twice (see above)
    pub(super) fn start_run_here(
        self: Arc<Self>,
        job: Arc<ScheduledJob>,
        req: RunRequest,
    ) -> impl Future<Output = ()> + Send + 'static {
        async move {
            if let Some(handle) = self.admitted(&job, &req).await {
                self.execute(job, handle, req).await;
            }
        }
    }

    /// Admits a run under the job's overlap policy: the handle of a run to
    /// start now, or `None` when it was queued, or skipped or its job gone
    /// (then recorded as such).
    async fn admitted(&self, job: &ScheduledJob, req: &RunRequest) -> Option<RunHandle> {
        match self.admit(job, req) {
            Admission::Start(handle) => Some(handle),
            Admission::Queued => None,
            Admission::Gone => {
                tracing::debug!(job_id = %job.job_id, "job deleted before its run could start");
                if req.claimed_row.is_some() {
                    let reason = "not run: the job was deleted before its run could start".to_owned();
                    Box::pin(self.settle_unstarted(job, req, ExecutionStatus::Missed, reason, false)).await;
                }
                None
            }
            Admission::Skipped { reason, overlap } => {
                // Boxed, as every path a run rarely takes, so that the wait of
                // every claimed fire for its start stays small.
                Box::pin(self.settle_unstarted(job, req, ExecutionStatus::Missed, reason, overlap)).await;
                None
            }
        }
    }

    /// Records a run that was not started after all: for a claimed fire, its
    /// claim's row is finished with `status` (`missed`, or `cancelled`);
    /// otherwise a `missed` row is written. `overlap`: the overlap policy
    /// skipped it (announced as such).
    pub(super) async fn settle_unstarted(
        &self,
        job: &ScheduledJob,
        req: &RunRequest,
        status: ExecutionStatus,
        reason: String,
        overlap: bool,
    ) {
        let row = MissedFire {
            id: req.claimed_row.as_deref().map_or_else(new_execution_id, str::to_owned),
            job_id: job.job_id.to_string(),
            job_name: job.job_name.as_deref().map(str::to_owned),
            scheduled_for: req.scheduled_for,
            noticed_at: self.clock.now(),
            reason,
            node: self.config.node_name.clone(),
            trigger_source: req.source,
        };
        tracing::info!(job_id = %row.job_id, execution_id = %row.id, %status, "fire not run: {}", row.reason);
        let written = if req.claimed_row.is_some() {
            let still_running = self.lock().jobs.get(&job.job_id).is_some_and(|e| e.is_running());
            // The claim put the fire on record; its row is written with its end.
            let start = ExecutionStart {
                id: row.id.clone(),
                job_id: row.job_id.clone(),
                job_name: row.job_name.clone(),
                scheduled_for: row.scheduled_for,
                started_at: row.noticed_at,
                attempt: req.attempt,
                trigger_source: req.source,
                node: row.node.clone(),
                args: req.args.as_ref().map(|given| given.recorded.clone()),
            };
            if let Err(error) = self.store.record_start(&start).await {
                tracing::warn!(job_id = %row.job_id, execution_id = %row.id, %error, "recording a claimed fire failed");
            }
            let end = ExecutionEnd {
                id: row.id.clone(),
                job_id: row.job_id.clone(),
                status,
                started_at: None,
                finished_at: row.noticed_at,
                duration_ms: 0,
                output: None,
                error: Some(row.reason.clone()),
            };
            self.store.record_end(&end, still_running).await
        } else {
            self.store.record_missed(std::slice::from_ref(&row)).await
        };
        if let Err(error) = written {
            tracing::warn!(job_id = %row.job_id, execution_id = %row.id, %error, "recording a fire that did not run failed");
        }
        let fire = FireMissed::from(&row);
        let event = if overlap {
            SchedulerEvent::SkippedOverlap(fire)
        } else if status == ExecutionStatus::Missed {
            SchedulerEvent::Missed(fire)
        } else {
            SchedulerEvent::Cancelled(RunEnded {
                job_id: row.job_id.clone(),
                job_name: row.job_name.clone(),
                execution_id: row.id.clone(),
                scheduled_for: row.scheduled_for,
                started_at: row.noticed_at,
                finished_at: row.noticed_at,
                duration_ms: 0,
                attempt: req.attempt,
                trigger_source: req.source,
                node: row.node.clone(),
                error: Some(row.reason.clone()),
                retry_at: None,
            })
        };
        self.emit(event, job.alert_url.as_deref());
        self.bump_revision();
    }

    fn admit(&self, job: &ScheduledJob, req: &RunRequest) -> Admission {
        let mut state = self.lock();
        let state = &mut *state;
        let Some(mut entry) = state.jobs.get_mut(&job.job_id) else {
            return Admission::Gone;
        };
        let limit = usize::try_from(job.policy.concurrent_limit()).unwrap_or(usize::MAX);
        // The parts of a split fire are one fire: they start beside each other.
        if !req.part && entry.activity().running.len() >= limit {
            // Only runs already in progress at a fire's instant overlap it. A
            // run that started late (its claim or its node's lease held it
            // back) and took the place after this fire came due does not
            // push the fire out: the fire waits behind it, within its grace.
            let at_its_instant = entry
                .activity()
                .running
                .iter()
                .filter(|run| run.admitted_at <= req.scheduled_for)
                .count();
            let behind_late_runs = at_its_instant < limit && entry.activity().queued.len() < QUEUE_LIMIT;
            match job.policy.overlap {
                Overlap::Skip | Overlap::Allow if behind_late_runs => {
                    entry.activity_mut().queued.push_back(req.clone());
                    return Admission::Queued;
                }
                Overlap::Skip | Overlap::Allow => {
                    return Admission::Skipped {
                        reason: format!(
                            "skipped: {} run(s) still in progress (overlap = {}, max_instances = {})",
                            entry.activity().running.len(),
                            job.policy.overlap,
                            job.policy.max_instances
                        ),
                        overlap: true,
                    };
                }
                Overlap::Queue if entry.activity().queued.len() >= QUEUE_LIMIT => {
                    return Admission::Skipped {
                        reason: format!("skipped: {QUEUE_LIMIT} runs already queued (overlap = queue)"),
                        overlap: true,
                    };
                }
                Overlap::Queue => {
                    let waiting = RunRequest {
                        start_by: None,
                        ..req.clone()
                    };
                    entry.activity_mut().queued.push_back(waiting);
                    return Admission::Queued;
                }
                Overlap::Replace => {
                    for run in &entry.activity().running {
                        run.cancel("replaced by a newer run (overlap = replace)");
                    }
                }
            }
        }
        let handle = RunHandle {
            execution_id: req.claimed_row.clone().unwrap_or_else(|| new_execution_id().into()),
            // Not a child of the shutdown token: shutdown first waits for runs to end.
            cancel: CancellationToken::new(),
            marks: Arc::default(),
            log: LogSink::new(),
            admitted_at: self.clock.now(),
        };
        entry.activity_mut().running.push(handle.clone());
        let job_id = entry.job.job_id.clone();
        state.runs.insert(handle.execution_id.clone(), job_id);
        Admission::Start(handle)
    }

    /// Waits for a slot under `max_concurrent_runs`, then runs.
    ///
    /// An `async` block rather than an `async fn`, which would keep its
    /// arguments twice while it waits (as arguments and as the locals they
    /// are moved into).
    #[allow(clippy::manual_async_fn)] // an `async fn` would keep its arguments twice (see above)
    fn execute(
        self: Arc<Self>,
        job: Arc<ScheduledJob>,
        handle: RunHandle,
        req: RunRequest,
    ) -> impl Future<Output = ()> + Send + 'static {
        async move {
            let permit = self.permits.clone().acquire_owned().await.ok();
            // Boxed: every run waits here for its slot as a task of its own,
            // and a run's whole state (the function's future, the writes of
            // its end) is many times the size of a wait. A hundred thousand
            // fires due at once would otherwise each hold it while waiting.
            Box::pin(self.run_in_slot(job, handle, req, permit)).await;
        }
    }

    /// [`Inner::execute`] once the run holds a slot (`permit`).
    ///
    /// Written as a function returning an `async move` block rather than an
    /// `async fn`: an `async fn` keeps its arguments beside the locals they
    /// are moved into for the whole run, and this state is allocated once
    /// per run. The paths a run rarely takes are boxed on their own, and
    /// each value is dropped once used, for the same reason (see the test
    /// below).
    #[allow(clippy::manual_async_fn)] // an `async fn` would keep its arguments twice (see above)
    fn run_in_slot(
        self: Arc<Self>,
        job: Arc<ScheduledJob>,
        handle: RunHandle,
        mut req: RunRequest,
        permit: Option<OwnedSemaphorePermit>,
    ) -> impl Future<Output = ()> + Send + 'static {
        async move {
            let job_id = &*job.job_id;
            let execution_id = &handle.execution_id;
            // Attached before the span opens, so the run-log layer finds it.
            let _log_attached = attach_run_log(execution_id, handle.log.clone());
            let span = tracing::info_span!("ruqi_run", job_id, execution_id = %execution_id);
            let started_at = self.clock.now();
            if let Some(reason) = req
                .start_by
                .and_then(|by| missed_start(&job, req.scheduled_for, by, started_at))
            {
                // Too late after all (a slot or the runtime kept it waiting):
                // the grace holds at the instant the run would be recorded as
                // started.
                drop(permit);
                Box::pin(self.settle_late_start(job.clone(), execution_id, req, reason)).await;
                return;
            }
            if !req.part
                && let Ok(function) = &job.function
                && function.fans_out()
            {
                Box::pin(self.clone().split(&job, function, &mut req)).await;
            }
            {
                let start = ExecutionStart {
                    id: String::from(&**execution_id),
                    job_id: job_id.to_owned(),
                    job_name: job.job_name.as_deref().map(str::to_owned),
                    scheduled_for: req.scheduled_for,
                    started_at,
                    attempt: req.attempt,
                    trigger_source: req.source,
                    node: self.config.node_name.clone(),
                    args: req.args.as_ref().map(|given| given.recorded.clone()),
                };
                // The function need not wait for the `running` row: the store
                // answers once it has queued the row, which keeps a database
                // round trip out of every run's start (a scheduled fire's
                // claim has put it on record already). The end is written
                // after it.
                if let Err(error) = self.store.record_start(&start).await {
                    tracing::warn!(parent: &span, %error, "recording the start of a run failed");
                }
                // Announced with the row's own strings, before the function starts.
                self.emit(SchedulerEvent::Submitted(RunStarted::from(start)), None);
            }
            // The function may give its slot back while it only waits (`JobContext::release_slot`).
            let slot = RunSlot::holding(permit);
            let outcome = match &job.function {
                Ok(function) => {
                    let ctx = JobContext::new(
                        RunInfo {
                            job_id: job.job_id.clone(),
                            execution_id: execution_id.clone(),
                            scheduled_for: req.scheduled_for,
                            attempt: req.attempt,
                            trigger_source: req.source,
                            timeout: job.policy.timeout,
                            args: req
                                .args
                                .as_ref()
                                .map_or_else(|| job.args.clone(), |given| given.value.clone()),
                        },
                        handle.cancel.clone(),
                        handle.log.clone(),
                    )
                    .in_slot(slot.clone());
                    // Pinned here and lent, so the function's future is held
                    // once in the run's state rather than copied into the
                    // flusher's too.
                    let run = std::pin::pin!(run_handler(
                        &function.handler,
                        ctx,
                        job.policy.timeout,
                        &handle,
                        span.clone()
                    ));
                    self.flushing_log_meanwhile(execution_id, &handle.log, run).await
                }
                Err(name) => Outcome::failed(self.registry.unknown(name).to_string()),
            };
            let Outcome {
                status,
                output: returned,
                error,
                retry,
                still_going,
            } = outcome;
            // The slot is for running functions: writing the outcome down
            // does not hold it, so the next run starts while this one is
            // recorded. A function that ignored its timeout or cancellation
            // keeps it until it has really stopped.
            if still_going.is_none() {
                slot.release();
            }
            let finished_at = self.clock.now();
            // The retry's time is fixed when the run ends, so the event's
            // `retry_at` is the time the retry really starts.
            let retry_at = self
                .retry_delay(&job, &req, status, retry)
                .map(|delay| finished_at + duration_to_chrono(delay));
            let others_go_on = {
                let state = self.lock();
                state
                    .jobs
                    .get(job_id)
                    .is_some_and(|e| e.activity().running.len() > 1 || (!e.retired && !e.activity().queued.is_empty()))
            };
            // The function has stopped: its place under the overlap policy is
            // free before its end is written, so a slow write (a database
            // restarting) never makes the job's next fire look overlapping.
            let mut queued = None;
            if still_going.is_none() {
                queued = self.leave_overlap_slot(job_id, execution_id).await;
            }
            let (job_row_id, execution_row_id, error) = {
                let end = ExecutionEnd {
                    id: String::from(&**execution_id),
                    job_id: job_id.to_owned(),
                    status,
                    started_at: Some(started_at),
                    finished_at,
                    duration_ms: (finished_at - started_at).num_milliseconds(),
                    output: run_output(&handle.log, returned),
                    error,
                };
                tracing::info!(parent: &span, status = %end.status, duration_ms = end.duration_ms, "run finished");
                if let Err(error) = self.store.record_end(&end, others_go_on).await {
                    tracing::warn!(parent: &span, %error, "recording the end of a run failed");
                }
                // The event takes the row's strings.
                (end.job_id, end.id, end.error)
            };
            handle.marks.recorded.store(true, std::sync::atomic::Ordering::Release);
            let ended = RunEnded {
                job_id: job_row_id,
                job_name: job.job_name.as_deref().map(str::to_owned),
                execution_id: execution_row_id,
                scheduled_for: req.scheduled_for,
                started_at,
                finished_at,
                duration_ms: (finished_at - started_at).num_milliseconds(),
                attempt: req.attempt,
                trigger_source: req.source,
                node: self.config.node_name.clone(),
                error,
                retry_at,
            };
            self.emit(end_event(status, ended), job.alert_url.as_deref());
            if let Some(task) = still_going {
                Box::pin(wait_until_stopped(task, job.policy.timeout, &span)).await;
                queued = self.leave_overlap_slot(job_id, execution_id).await;
            }
            slot.release();
            self.lock().runs.remove(execution_id);
            self.bump_revision();
            if let Some(at) = retry_at {
                self.clone().schedule_retry(job.clone(), req.clone(), at);
            }
            if status == ExecutionStatus::Success && !job.children.is_empty() {
                // Boxed: most jobs have no children.
                Box::pin(self.clone().start_children(&job, &req)).await;
            }
            if let Some(next) = queued {
                self.clone().start_run(job, next).await;
            }
        }
    }

    /// A run that got its slot past its grace: its place under the overlap
    /// policy is given back and its fire recorded as missed, and the run
    /// queued behind it, if any, starts.
    async fn settle_late_start(
        self: Arc<Self>,
        job: Arc<ScheduledJob>,
        execution_id: &str,
        req: RunRequest,
        reason: String,
    ) {
        let queued = self.leave_overlap_slot(&job.job_id, execution_id).await;
        self.lock().runs.remove(execution_id);
        self.settle_unstarted(&job, &req, ExecutionStatus::Missed, reason, false)
            .await;
        if let Some(next) = queued {
            self.clone().start_run(job, next).await;
        }
    }

    /// Splits a run whose function fans out: `req` becomes the first part,
    /// and the other parts start beside it. A split that panics leaves the
    /// run as it was.
    async fn split(self: Arc<Self>, job: &Arc<ScheduledJob>, function: &RegisteredFunction, req: &mut RunRequest) {
        let args = req
            .args
            .as_ref()
            .map_or_else(|| job.args.clone(), |given| given.value.clone());
        let parts = match std::panic::AssertUnwindSafe(function.split(args)).catch_unwind().await {
            Ok(parts) => parts,
            Err(panic) => {
                tracing::error!(job_id = %job.job_id, "splitting the run panicked: {}", panic_text(&*panic));
                return;
            }
        };
        let mut parts = parts.into_iter().map(|value| {
            let mut recorded = value.clone();
            function.redact_args(&mut recorded);
            RunRequest {
                args: Some(GivenArgs {
                    value: Arc::new(value),
                    recorded: Arc::new(recorded),
                }),
                part: true,
                ..req.clone()
            }
        });
        let Some(first) = parts.next() else { return };
        let others: Vec<RunRequest> = parts
            .map(|part| RunRequest {
                claimed_row: None,
                start_by: None,
                ..part
            })
            .collect();
        tracing::info!(job_id = %job.job_id, parts = others.len() + 1, "run split into parts");
        *req = first;
        for part in others {
            self.clone().start_run(job.clone(), part).await;
        }
    }

    /// Takes a run that has stopped off its job's list of runs in progress
    /// and returns the run queued behind it, if any. When the job was
    /// deleted meanwhile, the runs still queued are dropped; those that are
    /// claimed fires finish their rows saying so.
    async fn leave_overlap_slot(&self, job_id: &str, execution_id: &str) -> Option<RunRequest> {
        let freed = self.take_overlap_slot(job_id, execution_id)?;
        if let Some((job, dropped)) = freed.dropped {
            // Rare (the job was deleted with runs queued), and boxed so that
            // every run's own state does not carry room for it.
            Box::pin(self.settle_dropped(&job, dropped)).await;
        }
        freed.next
    }

    /// The state's side of [`Inner::leave_overlap_slot`].
    fn take_overlap_slot(&self, job_id: &str, execution_id: &str) -> Option<FreedSlot> {
        let mut state = self.lock();
        let mut entry = state.jobs.get_mut(job_id)?;
        let retired = entry.retired;
        let activity = entry.activity_mut();
        activity.running.retain(|r| &*r.execution_id != execution_id);
        let (next, dropped) = if retired {
            (None, std::mem::take(&mut activity.queued))
        } else {
            (activity.queued.pop_front(), VecDeque::new())
        };
        let dropped = (!dropped.is_empty()).then(|| (entry.job.clone(), dropped));
        entry.settle();
        let gone = entry.retired && !entry.is_running();
        drop(entry);
        if gone {
            state.jobs.remove(job_id);
        }
        Some(FreedSlot { next, dropped })
    }

    /// Finishes the rows of the claimed fires among `dropped`, runs that
    /// waited in the queue of a job that was deleted.
    async fn settle_dropped(&self, job: &ScheduledJob, dropped: VecDeque<RunRequest>) {
        for req in dropped.into_iter().filter(|req| req.claimed_row.is_some()) {
            let reason = "not run: the job was deleted while the run waited in its queue".to_owned();
            self.settle_unstarted(job, &req, ExecutionStatus::Missed, reason, false)
                .await;
        }
    }

    /// How long to wait before the next attempt, when there is to be one:
    /// failures and timeouts are retried while `max_retries` allows, unless
    /// the function said not to; cancelled runs are not. A run the function
    /// reported lost runs again at once as a run lost with its node does:
    /// within `misfire_grace_s` of its instant, or later under `run_once`.
    fn retry_delay(
        &self,
        job: &ScheduledJob,
        req: &RunRequest,
        status: ExecutionStatus,
        advice: RetryAdvice,
    ) -> Option<Duration> {
        if status == ExecutionStatus::Lost {
            let late = self.clock.now() - req.scheduled_for > duration_to_chrono(job.policy.misfire_grace);
            let again = !late || job.policy.misfire_policy == MisfirePolicy::RunOnce;
            return (again && !self.shutdown.is_cancelled()).then_some(Duration::ZERO);
        }
        let retried = matches!(status, ExecutionStatus::Failed | ExecutionStatus::Timeout);
        if !retried || !job.policy.retry.allows_another(req.attempt) || self.shutdown.is_cancelled() {
            return None;
        }
        match advice {
            RetryAdvice::Never => None,
            RetryAdvice::After(delay) => Some(delay.min(RETRY_DELAY_MAX)),
            RetryAdvice::Policy => Some(job.policy.retry.delay_after(req.attempt, fastrand::f64())),
        }
    }

    /// Starts the next attempt of a failed run at `at`, with the job as it
    /// is then (not run if it was deleted or paused meanwhile).
    fn schedule_retry(self: Arc<Self>, job: Arc<ScheduledJob>, failed: RunRequest, at: DateTime<Utc>) {
        let inner = self.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                () = inner.clock.sleep_until(at) => {}
                () = inner.shutdown.cancelled() => return,
            }
            let job_id = &*job.job_id;
            let job = match inner.compiled(job_id) {
                Ok(job) if !job.is_paused => job,
                Ok(_) => {
                    tracing::info!(job_id, "retry not run: the job is paused");
                    return;
                }
                Err(_) => {
                    tracing::info!(job_id, "retry not run: the job no longer exists or cannot be scheduled");
                    return;
                }
            };
            let next = RunRequest {
                source: TriggerSource::Retry,
                attempt: failed.attempt.saturating_add(1),
                claimed_row: None,
                start_by: None,
                ..failed
            };
            inner.start_run(job, next).await;
        });
    }

    /// A run succeeded: runs each of the job's `child_jobs` now (trigger
    /// source `child`), each under its own overlap policy. A child already
    /// in the chain of parents that led here is not run again.
    async fn start_children(self: Arc<Self>, job: &ScheduledJob, parent: &RunRequest) {
        if job.children.is_empty() {
            return;
        }
        let mut lineage = parent.lineage.to_vec();
        lineage.push(job.job_id.clone());
        let lineage: Arc<[Arc<str>]> = lineage.into();
        let job_id = &*job.job_id;
        for child in &job.children {
            if lineage.contains(child) {
                tracing::warn!(job_id, child = %child, "child job not run: it is already a parent in this chain (a cycle)");
                continue;
            }
            // A child written moments ago may not have reached this node yet: read it.
            let known = match self.compiled(child) {
                Ok(job) => Ok(job),
                Err(_) => match self.sync_job(child).await {
                    Ok(()) => self.compiled(child),
                    Err(error) => Err(error),
                },
            };
            let child_job = match known {
                Ok(child_job) if !child_job.is_paused => child_job,
                Ok(_) => {
                    tracing::info!(job_id, child = %child, "child job not run: it is paused");
                    continue;
                }
                Err(_) => {
                    tracing::warn!(job_id, child = %child, "child job not run: no such job, or it cannot be scheduled");
                    continue;
                }
            };
            let req = RunRequest {
                scheduled_for: self.clock.now(),
                source: TriggerSource::Child,
                attempt: 1,
                lineage: lineage.clone(),
                claimed_row: None,
                start_by: None,
                args: None,
                part: false,
            };
            self.clone().start_run(child_job, req).await;
        }
    }

    /// Awaits `run`, and meanwhile writes the log of the run to its row a
    /// second after it grows, so that it can be tailed from any node. A run
    /// that logs nothing meanwhile costs no timer. A write still going when
    /// the run ends is dropped: the end writes the whole log.
    async fn flushing_log_meanwhile<F: Future>(
        &self,
        execution_id: &str,
        log: &LogSink,
        mut run: std::pin::Pin<&mut F>,
    ) -> F::Output {
        let mut written = 0;
        loop {
            tokio::select! {
                biased;
                output = run.as_mut() => return output,
                () = log.grown_past(written) => {}
            }
            tokio::select! {
                biased;
                output = run.as_mut() => return output,
                () = tokio::time::sleep(LOG_FLUSH_INTERVAL) => {}
            }
            written = log.line_count();
            let contents = log.contents();
            tokio::select! {
                biased;
                output = run.as_mut() => return output,
                result = self.store.record_progress(execution_id, &contents) => {
                    if let Err(error) = result {
                        tracing::debug!(%execution_id, %error, "writing the log of a running job failed");
                    }
                }
            }
        }
    }
}

impl From<&MissedFire> for FireMissed {
    fn from(row: &MissedFire) -> Self {
        Self {
            job_id: row.job_id.clone(),
            job_name: row.job_name.clone(),
            execution_id: row.id.clone(),
            scheduled_for: row.scheduled_for,
            reason: row.reason.clone(),
            node: row.node.clone(),
        }
    }
}

impl From<ExecutionStart> for RunStarted {
    fn from(start: ExecutionStart) -> Self {
        Self {
            job_id: start.job_id,
            job_name: start.job_name,
            execution_id: start.id,
            scheduled_for: start.scheduled_for,
            started_at: start.started_at,
            attempt: start.attempt,
            trigger_source: start.trigger_source,
            node: start.node,
        }
    }
}

/// The event announcing how a run ended.
fn end_event(status: ExecutionStatus, ended: RunEnded) -> SchedulerEvent {
    match status {
        ExecutionStatus::Success => SchedulerEvent::Succeeded(ended),
        ExecutionStatus::Timeout => SchedulerEvent::TimedOut(ended),
        ExecutionStatus::Cancelled => SchedulerEvent::Cancelled(ended),
        ExecutionStatus::Lost => SchedulerEvent::Lost {
            job_id: ended.job_id,
            execution_id: ended.execution_id,
            scheduled_for: ended.scheduled_for,
            node: ended.node,
        },
        _ => SchedulerEvent::Failed(ended),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the future `f` returns, as a task holds it.
    fn future_size<A, B, C, D, F: Future>(_: impl Fn(A, B, C, D) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// Every run that waits for a slot is a task holding this future: with
    /// 100,000 fires due at once, a kilobyte more of it is 100 MB of fresh
    /// memory to fault in and clear. The run's own state is boxed once it
    /// has its slot.
    #[test]
    fn a_run_waiting_for_its_slot_is_small() {
        let size = future_size(Inner::execute);
        assert!(size <= 512, "a waiting run holds {size} bytes");
    }

    /// A running run's state is allocated once per run. It holds the
    /// function's future once (lent to the log flusher, not copied into
    /// it), its arguments once (an `async` block, not an `async fn`), and
    /// the paths runs rarely take are boxed on their own: 2,504 bytes a run
    /// before all three, 2,064 before the last two, 936 after. Under about
    /// a kilobyte, glibc's allocator serves it from its per-thread cache;
    /// above, every run's allocation first merged the allocator's small free
    /// chunks (`malloc_consolidate`, a tenth of the workers' time).
    #[test]
    fn a_running_run_holds_its_function_once() {
        fn future_size<A, B, C, D, E, F: Future>(_: impl Fn(A, B, C, D, E) -> F) -> usize {
            std::mem::size_of::<F>()
        }
        let size = future_size(Inner::run_in_slot);
        assert!(size <= 1_000, "a running run holds {size} bytes");
    }
}
