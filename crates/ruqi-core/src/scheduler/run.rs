//! Running a fire: the overlap policy, the concurrency limit, the
//! function itself (with timeout and cancellation), and the history row.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use super::Inner;
use super::state::{QUEUE_LIMIT, QueuedRun, RunHandle};
use crate::execution::{ExecutionEnd, ExecutionStart, ExecutionStatus, MissedFire, TriggerSource, new_execution_id};
use crate::job::{CompiledJob, Overlap};
use crate::registry::function::Handler;
use crate::registry::{JobContext, LogSink, RunInfo};

enum Admission {
    Start(RunHandle),
    Queued,
    Skipped(String),
}

/// How a run ended, before it is written down.
struct Outcome {
    status: ExecutionStatus,
    output: Option<String>,
    error: Option<String>,
}

impl Inner {
    /// Starts a run of `job` for `scheduled_for`, or queues or skips it as the
    /// overlap policy says. Returns the execution id of a started run.
    /// (Boxed because runs start runs: a finished run starts the next queued one.)
    pub(super) fn start_run(
        self: Arc<Self>,
        job: Arc<CompiledJob>,
        scheduled_for: DateTime<Utc>,
        source: TriggerSource,
        attempt: u32,
    ) -> BoxFuture<'static, Option<String>> {
        Box::pin(self.start_run_inner(job, scheduled_for, source, attempt))
    }

    async fn start_run_inner(
        self: Arc<Self>,
        job: Arc<CompiledJob>,
        scheduled_for: DateTime<Utc>,
        source: TriggerSource,
        attempt: u32,
    ) -> Option<String> {
        let admission = self.admit(&job, scheduled_for, source, attempt);
        match admission {
            Admission::Start(handle) => {
                let id = handle.execution_id.to_string();
                let inner = self.clone();
                self.tasks.spawn(async move {
                    inner.execute(job, handle, scheduled_for, source, attempt).await;
                });
                Some(id)
            }
            Admission::Queued => None,
            Admission::Skipped(reason) => {
                let now = self.clock.now();
                let row = MissedFire {
                    id: new_execution_id(),
                    job_id: job.record.job_id.clone(),
                    job_name: job.record.job_name.clone(),
                    scheduled_for,
                    noticed_at: now,
                    reason,
                    node: self.config.node_name.clone(),
                };
                tracing::info!(job_id = %row.job_id, execution_id = %row.id, "fire skipped by the overlap policy");
                if let Err(error) = self.store.record_missed(std::slice::from_ref(&row)).await {
                    tracing::warn!(job_id = %row.job_id, %error, "recording a skipped fire failed");
                }
                self.bump_revision();
                None
            }
        }
    }

    fn admit(&self, job: &CompiledJob, scheduled_for: DateTime<Utc>, source: TriggerSource, attempt: u32) -> Admission {
        let mut state = self.lock();
        let Some(entry) = state.jobs.get_mut(job.record.job_id.as_str()) else {
            return Admission::Skipped("the job was removed before it could run".to_owned());
        };
        let limit = usize::try_from(job.policy.concurrent_limit()).unwrap_or(usize::MAX);
        if entry.running.len() >= limit {
            match job.policy.overlap {
                Overlap::Skip | Overlap::Allow => {
                    return Admission::Skipped(format!(
                        "skipped: {} run(s) still in progress (overlap = {}, max_instances = {})",
                        entry.running.len(),
                        job.policy.overlap,
                        job.policy.max_instances
                    ));
                }
                Overlap::Queue if entry.queued.len() >= QUEUE_LIMIT => {
                    return Admission::Skipped(format!("skipped: {QUEUE_LIMIT} runs already queued (overlap = queue)"));
                }
                Overlap::Queue => {
                    entry.queued.push_back(QueuedRun {
                        scheduled_for,
                        source,
                        attempt,
                    });
                    return Admission::Queued;
                }
                Overlap::Replace => {
                    for run in &entry.running {
                        run.cancel("replaced by a newer run (overlap = replace)");
                    }
                }
            }
        }
        let handle = RunHandle {
            execution_id: new_execution_id().into(),
            // Not a child of the shutdown token: shutdown first waits for runs to end.
            cancel: CancellationToken::new(),
            cancel_reason: Arc::new(OnceLock::new()),
        };
        entry.running.push(handle.clone());
        Admission::Start(handle)
    }

    async fn execute(
        self: Arc<Self>,
        job: Arc<CompiledJob>,
        handle: RunHandle,
        scheduled_for: DateTime<Utc>,
        source: TriggerSource,
        attempt: u32,
    ) {
        let job_id = job.record.job_id.as_str();
        let execution_id = handle.execution_id.clone();
        let span = tracing::info_span!("ruqi_run", job_id, execution_id = %execution_id);
        let _permit = self.permits.clone().acquire_owned().await.ok();
        let started_at = self.clock.now();
        let start = ExecutionStart {
            id: execution_id.to_string(),
            job_id: job_id.to_owned(),
            job_name: job.record.job_name.clone(),
            scheduled_for,
            started_at,
            attempt,
            trigger_source: source,
            node: self.config.node_name.clone(),
        };
        // The fire is already claimed, so the `running` row need not be written
        // before the function starts: writing it alongside keeps a database
        // round trip out of every run's start. The end is written after it.
        let store = self.store.clone();
        let start_written = tokio::spawn(async move { store.record_start(&start).await });
        let log = LogSink::new();
        let ctx = JobContext::new(
            RunInfo {
                job_id: job_id.into(),
                execution_id: execution_id.clone(),
                scheduled_for,
                attempt,
                trigger_source: source,
                args: job.args.clone(),
            },
            handle.cancel.clone(),
            log.clone(),
        );
        let outcome = match self.registry.get(&job.record.func) {
            Some(function) => {
                let function = function.clone();
                run_handler(&function.handler, ctx, job.policy.timeout, &handle).await
            }
            None => Outcome {
                status: ExecutionStatus::Failed,
                output: None,
                error: Some(self.registry.unknown(&job.record.func).to_string()),
            },
        };
        let finished_at = self.clock.now();
        let mut output = log.contents();
        if let Some(returned) = outcome.output {
            output.push_str(&returned);
        }
        let end = ExecutionEnd {
            id: execution_id.to_string(),
            job_id: job_id.to_owned(),
            status: outcome.status,
            finished_at,
            duration_ms: (finished_at - started_at).num_milliseconds(),
            output: (!output.is_empty()).then(|| cap_output(output)),
            error: outcome.error,
        };
        let (still_running, queued) = {
            let mut state = self.lock();
            match state.jobs.get_mut(job_id) {
                Some(entry) => {
                    entry.running.retain(|r| r.execution_id != execution_id);
                    let queued = if entry.retired { None } else { entry.queued.pop_front() };
                    let still = !entry.running.is_empty();
                    if entry.retired && !still {
                        state.jobs.remove(job_id);
                    }
                    (still, queued)
                }
                None => (false, None),
            }
        };
        tracing::info!(parent: &span, status = %end.status, duration_ms = end.duration_ms, "run finished");
        match start_written.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(parent: &span, %error, "recording the start of a run failed"),
            Err(error) => tracing::warn!(parent: &span, %error, "recording the start of a run panicked"),
        }
        if let Err(error) = self.store.record_end(&end, still_running || queued.is_some()).await {
            tracing::warn!(parent: &span, %error, "recording the end of a run failed");
        }
        self.bump_revision();
        drop(_permit);
        if let Some(next) = queued {
            self.clone()
                .start_run(job, next.scheduled_for, next.source, next.attempt)
                .await;
        }
    }
}

fn cap_output(mut output: String) -> String {
    let limit = crate::registry::OUTPUT_LIMIT_BYTES + 256;
    if output.len() > limit {
        let mut cut = limit;
        while !output.is_char_boundary(cut) {
            cut -= 1;
        }
        output.truncate(cut);
        output.push_str("\n[output cut]");
    }
    output
}

/// Runs the handler; a panic is a failure, the deadline a timeout, the token a cancellation.
async fn run_handler(handler: &Handler, ctx: JobContext, timeout: Option<Duration>, handle: &RunHandle) -> Outcome {
    let token: CancellationToken = handle.cancel.clone();
    let deadline = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let finished = match handler {
        Handler::Async(f) => {
            let mut task = tokio::spawn(f(ctx));
            tokio::select! {
                joined = &mut task => Some(joined),
                () = deadline => { task.abort(); None }
                () = token.cancelled() => { task.abort(); None }
            }
        }
        Handler::Blocking(f) => {
            let f = f.clone();
            let mut task = tokio::task::spawn_blocking(move || f(ctx));
            // A blocking function cannot be stopped from outside: the run is
            // recorded as ended at the deadline and its late result is dropped.
            tokio::select! {
                joined = &mut task => Some(joined),
                () = deadline => None,
                () = token.cancelled() => None,
            }
        }
    };
    match finished {
        Some(Ok(Ok(output))) => Outcome {
            status: ExecutionStatus::Success,
            output,
            error: None,
        },
        Some(Ok(Err(message))) => Outcome {
            status: ExecutionStatus::Failed,
            output: None,
            error: Some(message),
        },
        Some(Err(join)) => Outcome {
            status: ExecutionStatus::Failed,
            output: None,
            error: Some(panic_message(join)),
        },
        None if token.is_cancelled() => Outcome {
            status: ExecutionStatus::Cancelled,
            output: None,
            error: Some(
                handle
                    .cancel_reason
                    .get()
                    .cloned()
                    .unwrap_or_else(|| "cancelled".to_owned()),
            ),
        },
        None => {
            token.cancel();
            Outcome {
                status: ExecutionStatus::Timeout,
                output: None,
                error: Some(format!(
                    "timed out after {}s (timeout_s)",
                    timeout.map_or(0, |t| t.as_secs())
                )),
            }
        }
    }
}

fn panic_message(join: tokio::task::JoinError) -> String {
    if join.is_cancelled() {
        return "the run was aborted".to_owned();
    }
    match join.try_into_panic() {
        Ok(payload) => {
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-text panic payload".to_owned());
            format!("the function panicked: {text}")
        }
        Err(_) => "the run ended abnormally".to_owned(),
    }
}
