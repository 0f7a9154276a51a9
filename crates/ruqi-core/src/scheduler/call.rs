//! Calling a job's function: its own task (or a blocking thread), its
//! timeout and cancellation, a panic taken as a failure, and the wait for a
//! function that was recorded as ended before it really stopped.

use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::Instrument;

use super::state::RunHandle;
use crate::execution::ExecutionStatus;
use crate::registry::function::{Handler, HandlerResult};
use crate::registry::{JobContext, LogSink, RetryAdvice};

/// How long a stopped run that has no timeout may take to really stop.
const STOP_GRACE_DEFAULT: Duration = Duration::from_secs(30);
/// The longest a run that ignores its timeout or cancellation keeps its overlap slot.
const STOP_GRACE_MAX: Duration = Duration::from_secs(300);

/// How a run ended, before it is written down.
pub(super) struct Outcome {
    pub(super) status: ExecutionStatus,
    pub(super) output: Option<String>,
    pub(super) error: Option<String>,
    pub(super) retry: RetryAdvice,
    /// The function's task when the run was recorded as ended before the
    /// function stopped (timeout or cancellation).
    pub(super) still_going: Option<JoinHandle<HandlerResult>>,
}

impl Outcome {
    pub(super) fn failed(error: String) -> Self {
        Self {
            status: ExecutionStatus::Failed,
            output: None,
            error: Some(error),
            retry: RetryAdvice::Policy,
            still_going: None,
        }
    }
}

/// A run's output as stored: what it logged, then what its function
/// returned; `None` when both are empty.
pub(super) fn run_output(log: &LogSink, returned: Option<String>) -> Option<String> {
    let mut output = log.contents();
    if let Some(returned) = returned {
        if !output.is_empty() && !output.ends_with('\n') {
            output.push('\n');
        }
        output.push_str(&returned);
    }
    (!output.is_empty()).then(|| cap_output(output))
}

/// The function's output as stored: cut a little past the log's own cap,
/// saying so.
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

/// Waits for a function whose run was already recorded as ended (timed out
/// or cancelled) to really stop, for as long as its timeout again (30 s
/// without one), at most five minutes; then abandons it.
pub(super) async fn wait_until_stopped(
    task: JoinHandle<HandlerResult>,
    timeout: Option<Duration>,
    span: &tracing::Span,
) {
    let grace = timeout.unwrap_or(STOP_GRACE_DEFAULT).min(STOP_GRACE_MAX);
    match tokio::time::timeout(grace, task).await {
        Ok(Err(join)) if join.is_cancelled() => {}
        Ok(_) => tracing::info!(
            parent: span,
            "the function returned after its run was recorded as ended; its result was dropped"
        ),
        Err(_) => tracing::warn!(
            parent: span,
            grace_s = grace.as_secs(),
            "the function still runs after its timeout or cancellation; abandoned (no longer counted by the overlap policy)"
        ),
    }
}

/// How the wait for a function ended.
enum Waited {
    Returned(Result<HandlerResult, tokio::task::JoinError>),
    Deadline,
    Cancelled,
}

/// Starts the handler in a task of its own and returns the wait for it: a
/// panic is a failure, the deadline a timeout, the token a cancellation.
///
/// The task starts here, not when the wait is first polled, so that the
/// context and span moved into it are not also kept in the run's state.
pub(super) fn run_handler<'a>(
    handler: &Handler,
    ctx: JobContext,
    timeout: Option<Duration>,
    handle: &'a RunHandle,
    span: tracing::Span,
) -> impl Future<Output = Outcome> + Send + 'a {
    let mut task = match handler {
        Handler::Async(f) => tokio::spawn(f(ctx).instrument(span)),
        Handler::Blocking(f) => {
            let f = f.clone();
            tokio::task::spawn_blocking(move || span.in_scope(|| f(ctx)))
        }
    };
    async move {
        let token = &handle.cancel;
        let deadline = async {
            match timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        let waited = tokio::select! {
            joined = &mut task => Waited::Returned(joined),
            () = deadline => Waited::Deadline,
            () = token.cancelled() => Waited::Cancelled,
        };
        let stopped = |status, error| {
            // An async function stops at its next await; a blocking one only
            // when it checks its token.
            token.cancel();
            task.abort();
            Outcome {
                status,
                ..Outcome::failed(error)
            }
        };
        let mut outcome = match waited {
            Waited::Returned(Ok(Ok(output))) => {
                return Outcome {
                    status: ExecutionStatus::Success,
                    output,
                    error: None,
                    retry: RetryAdvice::Policy,
                    still_going: None,
                };
            }
            Waited::Returned(Ok(Err(failure))) => {
                let status = if failure.is_timeout() {
                    ExecutionStatus::Timeout
                } else if failure.is_lost() {
                    ExecutionStatus::Lost
                } else {
                    ExecutionStatus::Failed
                };
                return Outcome {
                    status,
                    retry: failure.retry(),
                    ..Outcome::failed(failure.message().to_owned())
                };
            }
            Waited::Returned(Err(join)) => return Outcome::failed(panic_message(join)),
            Waited::Deadline => stopped(
                ExecutionStatus::Timeout,
                format!("timed out after {}s (timeout_s)", timeout.map_or(0, |t| t.as_secs())),
            ),
            Waited::Cancelled => stopped(
                ExecutionStatus::Cancelled,
                handle
                    .cancel_reason
                    .get()
                    .cloned()
                    .unwrap_or_else(|| "cancelled".to_owned()),
            ),
        };
        outcome.still_going = Some(task);
        outcome
    }
}

fn panic_message(join: tokio::task::JoinError) -> String {
    if join.is_cancelled() {
        return "the run was aborted".to_owned();
    }
    match join.try_into_panic() {
        Ok(payload) => format!("the function panicked: {}", panic_text(&*payload)),
        Err(_) => "the run ended abnormally".to_owned(),
    }
}

/// The text a panic was raised with.
pub(super) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic payload".to_owned())
}
